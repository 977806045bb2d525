//! Expression fuzzing: the input is placed where a sample expression
//! (`%[...]` in a log-format), an ACL definition and an ACL condition are
//! expected, so the fuzzer spends its time inside the expression parsers
//! instead of rediscovering the section/keyword structure around them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Newlines would end the line the input is meant to stay on; everything
    // else (quotes, escapes, NULs, `#`) is kept so the lexer sees it too.
    let expr = String::from_utf8_lossy(data).replace(['\n', '\r'], " ");
    let text = format!(
        "frontend f\n  bind 127.0.0.1:1\n  http-request set-header X %[{expr}]\n  acl a {expr}\n  http-request deny if {expr}\n"
    );
    let (map, diags) = portcullis::check_source("fuzz.cfg", &text);
    let _ = portcullis::diag::render(&map, &diags);
});
