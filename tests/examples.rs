//! The shipped examples stay true: every `examples/*.cfg` passes
//! `portcullis check` (run from the crate root, where their relative
//! certificate paths resolve) and, when a HAProxy 2.6 binary is available,
//! `haproxy -c` too — they are documented as plain HAProxy 2.6 configurations.

mod common;

use common::{Verdict, excerpt, files_with_ext, portcullis_check, reference_haproxy};

/// One example per scenario of the guides in the README.
const EXPECTED: &[&str] = &[
    "admin-api-mtls.cfg",
    "api7-cloud-mtls.cfg",
    "apisix-client-cert-headers.cfg",
    "apisix-uri-bypass.cfg",
    "etcd-mtls.cfg",
    "haproxy-blog-mtls.cfg",
    "per-sni-client-ca.cfg",
    "quickstart.cfg",
    "sni-passthrough.cfg",
    "upstream-mtls.cfg",
];

#[test]
fn every_scenario_has_an_example_listed_in_the_readme() {
    let readme = std::fs::read_to_string(common::crate_root().join("examples/README.md"))
        .unwrap_or_default();
    let files = files_with_ext("examples", "cfg");
    let mut problems = Vec::new();
    for name in EXPECTED {
        if !files
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == *name))
        {
            problems.push(format!("examples/{name} is missing"));
        }
    }
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !readme.contains(&format!("`{name}`")) {
            problems.push(format!(
                "{} is not described in examples/README.md",
                file.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_example_passes_portcullis_check() {
    let files = files_with_ext("examples", "cfg");
    assert!(!files.is_empty(), "no examples found");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let out = portcullis_check(file);
            (out.code != Some(0)).then(|| {
                format!(
                    "{}: portcullis check exited with {:?}\n{}",
                    file.display(),
                    out.code,
                    excerpt(&out.stderr, 40)
                )
            })
        })
        .collect();
    println!("{} examples checked", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_example_is_valid_haproxy_2_6() {
    let haproxy = match reference_haproxy() {
        Ok(h) => h,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let failures: Vec<String> = files_with_ext("examples", "cfg")
        .iter()
        .filter_map(|file| {
            let out = haproxy.check(file);
            (Verdict::from_exit(out.code) != Some(Verdict::Valid)).then(|| {
                format!(
                    "{}: haproxy -c exited with {:?}\n{}",
                    file.display(),
                    out.code,
                    excerpt(&format!("{}{}", out.stdout, out.stderr), 20)
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
