//! Whole-file fuzzing: arbitrary bytes, read the way a config file with bad
//! encoding would be (lossy UTF-8), through the full `check` pipeline.
//! `check_source` promises never to panic; libFuzzer reports any panic as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (map, diags) = portcullis::check_source("fuzz.cfg", &text);
    // Rendering walks every span back into the source: it must not panic either.
    let _ = portcullis::diag::render(&map, &diags);
});
