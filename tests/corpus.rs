//! Differential test over the real-world TLS corpus (`../shared/corpus`: 91
//! configurations other people wrote, with HAProxy 2.6's `haproxy -c`
//! verdicts). Runs when the corpus is present, as it is in CI; it is test data
//! read in place, never copied into this repository.
//!
//! Asserted: a configuration HAProxy rejects is rejected here too, a
//! configuration HAProxy accepts is either accepted or refused only by
//! "not supported by portcullis" errors (never a wrong "invalid"), and at
//! least 90% of the HAProxy-accepted ones are accepted (the corpus issue's
//! target). The share accepted is printed.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../shared/corpus"),
        PathBuf::from("/work/shared/corpus"),
    ]
    .into_iter()
    .find(|p| p.join("real-world/index.json").is_file() && p.join("prepare.py").is_file())
}

#[test]
fn real_world_configs_get_haproxys_verdict_or_a_not_supported_refusal() {
    let Some(corpus) = corpus_dir() else {
        println!("corpus test skipped: ../shared/corpus is not present");
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let prep = Command::new("python3")
        .arg(corpus.join("prepare.py"))
        .arg(out.path())
        .output()
        .expect("python3 runs prepare.py");
    assert!(
        prep.status.success(),
        "prepare.py failed:\n{}",
        String::from_utf8_lossy(&prep.stderr)
    );
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("real-world/index.json")).expect("index.json"),
    )
    .expect("index.json parses");
    let files = index["files"].as_array().expect("files array");
    let (mut valid, mut accepted, mut invalid) = (0, 0, 0);
    let mut failures = Vec::new();
    for f in files {
        let name = f["file"].as_str().expect("file name");
        let haproxy_valid = f["haproxy_c"]["result"].as_str() == Some("valid");
        let run = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["check", "-f", name])
            .current_dir(out.path())
            .output()
            .expect("portcullis runs");
        let ok = run.status.success();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        if haproxy_valid {
            valid += 1;
            if ok {
                accepted += 1;
            } else if errors.is_empty() || errors.iter().any(|e| !e.contains("not supported")) {
                failures.push(format!(
                    "{name}: HAProxy accepts it, portcullis calls it invalid:\n{stderr}"
                ));
            }
        } else {
            invalid += 1;
            if ok {
                failures.push(format!("{name}: HAProxy rejects it, portcullis accepts it"));
            }
        }
    }
    println!(
        "corpus: {} configs; {accepted} of {valid} HAProxy-valid accepted ({:.0}%), the rest refused as not supported; {invalid} HAProxy-invalid all rejected",
        files.len(),
        100.0 * accepted as f64 / valid.max(1) as f64
    );
    assert!(
        files.len() >= 90,
        "the corpus shrank: {} files",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} wrong verdicts:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        accepted * 10 >= valid * 9,
        "only {accepted} of {valid} HAProxy-valid configurations accepted: the target is 90%"
    );
}
