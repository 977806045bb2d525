//! Every converter, with outputs observed on HAProxy 2.6.12 (`http-request
//! return … lf-string "%[…]"`) or known digests.

use super::*;

fn w() -> World {
    let mut w = World::http("GET", "/", &[("x-j", "a\"b/é\\"), ("x-n", "86400")]);
    w.vars.set(
        &crate::ir::expr::VarName {
            scope: crate::ir::expr::VarScope::Txn,
            name: "x".into(),
        },
        Value::str("abd"),
    );
    w
}

#[test]
fn hex_case_and_base64() {
    let mut w = w();
    assert_eq!(w.text("bin(00ff),hex").as_deref(), Some("00FF"));
    assert_eq!(w.text("str(AbC),lower").as_deref(), Some("abc"));
    assert_eq!(w.text("str(AbC),upper").as_deref(), Some("ABC"));
    assert_eq!(w.text("str(hello),base64").as_deref(), Some("aGVsbG8="));
    // An integer is 8 big-endian bytes as binary.
    assert_eq!(w.text("int(-5),hex").as_deref(), Some("FFFFFFFFFFFFFFFB"));
    assert_eq!(w.text("ipv4(10.0.0.1),hex").as_deref(), Some("0A000001"));
    // lower/upper only touch ASCII.
    assert_eq!(w.text("str(ÉA),lower").as_deref(), Some("Éa"));
}

#[test]
fn digests() {
    let mut w = w();
    assert_eq!(
        w.text("str(abc),sha1,hex").as_deref(),
        Some("A9993E364706816ABA3E25717850C26C9CD0D89D")
    );
    assert_eq!(
        w.text("str(abc),sha2(224),hex").as_deref(),
        Some("23097D223405D8228642A477BDA255B32AADBCE4BDA0B3F7E36C9DA7")
    );
    assert_eq!(
        w.text("str(abc),sha2,hex").as_deref(),
        Some("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
    );
    assert_eq!(w.text("str(abc),sha2(384),hex").map(|s| s.len()), Some(96));
    assert_eq!(
        w.text("str(abc),sha2(512),hex")
            .as_deref()
            .map(|s| &s[..16]),
        Some("DDAF35A193617ABA")
    );
    assert!(matches!(w.eval("str(abc),sha1"), Some(Value::Bin(b)) if b.len() == 20));
}

#[test]
fn field_and_word() {
    let mut w = w();
    assert_eq!(w.text("str(a:b::c:d),field(2,:)").as_deref(), Some("b"));
    assert_eq!(w.text("str(a:b::c:d),field(-2,:)").as_deref(), Some("c"));
    assert_eq!(w.text("str(a:b::c:d),field(2,:,2)").as_deref(), Some("b:"));
    assert_eq!(
        w.text("str(a:b::c:d),field(2,:,0)").as_deref(),
        Some("b::c:d")
    );
    assert_eq!(w.eval("str(a:b),field(5,:)"), None);
    assert_eq!(w.text("str(a:b::c:d),word(3,:)").as_deref(), Some("c"));
    assert_eq!(w.text("str(a:b::c:d),word(-1,:,2)").as_deref(), Some("c:d"));
    assert_eq!(w.text("str(a:b),word(5,:)").as_deref(), Some(""));
    assert_eq!(
        w.text("str(host.example:8080),field(1,:)").as_deref(),
        Some("host.example")
    );
}

#[test]
fn strcmp_returns_the_byte_difference() {
    let mut w = w();
    w.vars.set(
        &crate::ir::expr::VarName {
            scope: crate::ir::expr::VarScope::Txn,
            name: "z".into(),
        },
        Value::str("abz"),
    );
    assert_eq!(w.eval("str(abc),strcmp(txn.x)"), Some(Value::Int(-1)));
    assert_eq!(w.eval("str(abc),strcmp(txn.z)"), Some(Value::Int(-23)));
    assert_eq!(w.eval("str(abcd),strcmp(txn.x)"), Some(Value::Int(-1)));
    assert_eq!(w.eval("str(abd),strcmp(txn.x)"), Some(Value::Int(0)));
    assert_eq!(w.eval("str(abdx),strcmp(txn.x)"), Some(Value::Int(1)));
    assert_eq!(w.eval("str(ab),strcmp(txn.x)"), Some(Value::Int(-1)));
    assert_eq!(w.eval("str(abc),strcmp(txn.unset)"), None);
}

#[test]
fn regsub_rounds() {
    let mut w = w();
    assert_eq!(w.text("str(abc),regsub(b*,-,g)").as_deref(), Some("-a--c-"));
    assert_eq!(w.text("str(abcabc),regsub(b,X)").as_deref(), Some("aXcabc"));
    assert_eq!(w.text("str(hello),regsub(l,L,g)").as_deref(), Some("heLLo"));
    assert_eq!(
        w.text("str(HeLLo),regsub(l,_,gi)").as_deref(),
        Some("He__o")
    );
    assert_eq!(w.text("str(HeLLo),regsub(l,_,g)").as_deref(), Some("HeLLo"));
}

#[test]
fn json_and_url_decoding() {
    let mut w = w();
    assert_eq!(
        w.text("req.hdr(x-j),json").as_deref(),
        Some("a\\\"b\\/\\u00c3\\u00a9\\\\")
    );
    assert_eq!(
        w.text("req.hdr(x-j),json(utf8s)").as_deref(),
        Some("a\\\"b\\/\\u00e9\\\\")
    );
    assert_eq!(
        w.text("req.hdr(x-j),json(utf8)").as_deref(),
        Some("a\\\"b\\/\\u00e9\\\\")
    );
    assert_eq!(
        w.text("str(a+b%41?c+d),url_dec").as_deref(),
        Some("a+bA?c d")
    );
    assert_eq!(w.text("str(a+b),url_dec(1)").as_deref(), Some("a b"));
    assert_eq!(w.eval("str(a%4),url_dec"), None);
}

#[test]
fn dates() {
    let mut w = w();
    assert_eq!(
        w.text("int(86400),utime(%Y-%m-%d_%H:%M:%S_%a_%b_%j_%e_%Z_%z)")
            .as_deref(),
        Some("1970-01-02_00:00:00_Fri_Jan_002_ 2_GMT_+0000")
    );
    assert_eq!(w.text("int(0),utime(%s,3600)").as_deref(), Some("3600"));
    assert_eq!(
        w.text("req.hdr(x-n),utime(%F)").as_deref(),
        Some("1970-01-02")
    );
    // Local time: whatever the zone, the format is applied.
    assert!(
        w.text("int(86400),ltime(%Y)")
            .is_some_and(|y| y == "1970" || y == "1969")
    );
    assert_eq!(w.text("int(86400),ltime(%%%n)").as_deref(), Some("%\n"));
}

#[test]
fn length_bytes_concat() {
    let mut w = w();
    assert_eq!(w.eval("str(abc),length"), Some(Value::Int(3)));
    assert_eq!(w.text("str(abcdef),bytes(2,2)").as_deref(), Some("cd"));
    assert_eq!(w.text("str(abcdef),bytes(2)").as_deref(), Some("cdef"));
    assert_eq!(w.text("str(abcdef),bytes(9)").as_deref(), Some(""));
    // bytes keeps the input type.
    assert!(
        matches!(w.eval("bin(00112233),bytes(1,2)"), Some(Value::Bin(b)) if b[..] == [0x11, 0x22])
    );
    assert!(matches!(w.eval("str(abc),bytes(1)"), Some(Value::Str(_))));
    assert_eq!(
        w.text("str(x),concat(<,txn.x,>)").as_deref(),
        Some("x<abd>")
    );
    assert_eq!(
        w.text("str(x),concat(<,txn.unset,>)").as_deref(),
        Some("x<>")
    );
    assert_eq!(w.text("str(x),concat(,txn.x)").as_deref(), Some("xabd"));
    assert_eq!(w.text("str(x),concat()").as_deref(), Some("x"));
}

#[test]
fn ipmask() {
    let mut w = w();
    assert_eq!(
        w.text("ipv4(10.1.2.3),ipmask(16)").as_deref(),
        Some("10.1.0.0")
    );
    assert_eq!(
        w.text("ipv4(10.1.2.3),ipmask(255.255.255.0)").as_deref(),
        Some("10.1.2.0")
    );
    assert_eq!(
        w.text("ipv6(2001:db8::1),ipmask(8,32)").as_deref(),
        Some("2001:db8::")
    );
    // IPv6 without an IPv6 mask fails; a mapped IPv4 uses the IPv4 mask.
    assert_eq!(w.eval("ipv6(2001:db8::1),ipmask(8)"), None);
    assert_eq!(
        w.text("ipv6(::ffff:10.1.2.3),ipmask(8)").as_deref(),
        Some("10.0.0.0")
    );
    assert_eq!(
        w.text("str(192.168.7.9),ipmask(24)").as_deref(),
        Some("192.168.7.0")
    );
    assert_eq!(w.text("src,ipmask(24)").as_deref(), Some("192.0.2.0"));
}

#[test]
fn set_var_passes_the_value_on_or_fails_its_conditions() {
    let mut w = w();
    assert_eq!(w.text("str(a),set-var(txn.v),upper").as_deref(), Some("A"));
    assert_eq!(w.text("var(txn.v)").as_deref(), Some("a"));
    // The variable exists: ifnotexists refuses, and the chain fails.
    assert_eq!(w.eval("str(b),set-var(txn.v,ifnotexists)"), None);
    assert_eq!(w.text("var(txn.v)").as_deref(), Some("a"));
    assert_eq!(
        w.text("str(c),set-var(txn.v,ifexists)").as_deref(),
        Some("c")
    );
    assert_eq!(w.eval("int(5),set-var(txn.n)"), Some(Value::Int(5)));
    assert_eq!(w.eval("int(9),set-var(txn.n,ifgt)"), None);
    assert_eq!(w.eval("int(2),set-var(txn.n,ifgt)"), Some(Value::Int(2)));
    assert_eq!(w.eval("str(),set-var(txn.e,ifnotempty)"), None);
    // res.* is not usable while the request is processed.
    assert_eq!(w.eval("str(a),set-var(res.r)"), None);
}

#[test]
fn a_failing_converter_ends_the_chain() {
    let mut w = w();
    assert_eq!(w.eval("str(a:b),field(3,:),upper"), None);
    assert_eq!(w.eval("hdr(nope),lower"), None);
}
