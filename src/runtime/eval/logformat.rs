//! Log-format rendering, as HAProxy 2.6's `sess_build_logline` (`log.c`):
//! literal text, `%[sample]` expressions and `%x` aliases with their flags
//! (`Q` quotes, `X` hexadecimal, `E` escapes, `M` prints `-` when empty).
//! Aliases are in `logalias`, the default formats in `logdefaults`.

use super::text::{c_str, ipv6_to_string};
use super::{Txn, eval_sample};
use crate::ir::expr::{LogFlags, LogFormat, LogPart};
use crate::runtime::facts::LogFacts;
use std::net::{IpAddr, SocketAddr};

/// Where a log-format string is used, which decides how HAProxy renders it
/// (the options `parse_logformat_string` is called with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LfTarget {
    /// `log-format`, `error-log-format` and the default log lines: runs of
    /// spaces are one separator (never leading), samples are plain text.
    Log,
    /// HTTP header values and bodies (`set-header`, `add-header`,
    /// `return lf-string`, `redirect location`): sample bytes 0x00–0x08,
    /// 0x0A–0x1F and 0x7F are written `%XX`, `Q` and `M` do not apply to
    /// samples, spaces are literal.
    Http,
    /// `unique-id-format`: HTTP encoding with merged spaces.
    UniqueId,
    /// Other strings (`use_backend %[…]`, `set-var-fmt`): plain text.
    Plain,
}

impl LfTarget {
    fn merges_spaces(self) -> bool {
        matches!(self, LfTarget::Log | LfTarget::UniqueId)
    }

    fn http_encodes(self) -> bool {
        matches!(self, LfTarget::Http | LfTarget::UniqueId)
    }
}

/// Renders `f` for `target` into `out` (bytes: sample values need not be
/// UTF-8). Aliases that need stream facts read `t.log`; without it they
/// print what HAProxy prints before any such fact is known.
pub fn render_log_format(f: &LogFormat, target: LfTarget, t: &mut Txn, out: &mut Vec<u8>) {
    let fallback;
    let log: &LogFacts = match t.log {
        Some(l) => l,
        None => {
            // In rules: what the transaction already knows.
            let mut facts = LogFacts::new(t.conn);
            facts.unique_id = t
                .vars
                .unique_id
                .as_ref()
                .map(|id| String::from_utf8_lossy(id).into_owned());
            facts.counters.request_id = t.vars.request_id;
            fallback = facts;
            &fallback
        }
    };
    let mut r = Renderer {
        out,
        last_is_space: true,
    };
    for part in &f.parts {
        match part {
            LogPart::Text(text) => {
                if target.merges_spaces() {
                    for b in text.bytes() {
                        if b == b' ' {
                            if !r.last_is_space {
                                r.out.push(b' ');
                                r.last_is_space = true;
                            }
                        } else {
                            r.out.push(b);
                            r.last_is_space = false;
                        }
                    }
                } else if !text.is_empty() {
                    r.out.extend_from_slice(text.as_bytes());
                    r.last_is_space = false;
                }
            }
            LogPart::Sample { sample, flags } => {
                let value = eval_sample(sample, t).and_then(|v| v.into_text());
                let bytes = value.as_deref();
                if target.http_encodes() {
                    encode(
                        r.out,
                        bytes.unwrap_or(&[]),
                        b'%',
                        http_encoded,
                        flags.escape,
                    );
                } else {
                    text_len(r.out, bytes, *flags);
                }
                r.last_is_space = false;
            }
            LogPart::Alias { alias, flags } => r.alias(*alias, *flags, t, log),
        }
    }
}

/// `url_encode_map`: control bytes, bytes ≥ 0x7F, `"` and `#`.
pub(super) fn url_encoded(b: u8) -> bool {
    !(0x20..0x7f).contains(&b) || b == b'"' || b == b'#'
}

/// `hdr_encode_map`: as `url_encode_map`, plus `{`, `|` and `}`.
pub(super) fn hdr_encoded(b: u8) -> bool {
    url_encoded(b) || matches!(b, b'{' | b'|' | b'}')
}

/// `http_encode_map`: bytes a header value cannot carry.
fn http_encoded(b: u8) -> bool {
    b <= 0x08 || (0x0a..=0x1f).contains(&b) || b == 0x7f
}

/// `rfc5424_escape_map`, used by the `E` flag.
fn rfc5424_escaped(b: u8) -> bool {
    matches!(b, b'"' | b'\\' | b']')
}

/// `lf_encode_chunk`: bytes in `map` become `<escape>XX`; with `E`, `"\]`
/// are backslash-escaped.
pub(super) fn encode(out: &mut Vec<u8>, s: &[u8], escape: u8, map: fn(u8) -> bool, esc_flag: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        if map(b) {
            out.extend_from_slice(&[escape, HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else if esc_flag && rfc5424_escaped(b) {
            out.extend_from_slice(&[b'\\', b]);
        } else {
            out.push(b);
        }
    }
}

/// `lf_text_len`: optional quotes, the text up to its first NUL (with `E`,
/// `"\]` backslash-escaped), or `-` when empty under `M` without `Q`.
pub(super) fn text_len(out: &mut Vec<u8>, src: Option<&[u8]>, flags: LogFlags) {
    if flags.quote {
        out.push(b'"');
    }
    match src.filter(|s| !s.is_empty()) {
        Some(s) => {
            for &b in c_str(s) {
                if flags.escape && rfc5424_escaped(b) {
                    out.push(b'\\');
                }
                out.push(b);
            }
        }
        None if flags.mandatory && !flags.quote => out.push(b'-'),
        None => {}
    }
    if flags.quote {
        out.push(b'"');
    }
}

/// Output of one rendering, with HAProxy's separator state.
pub(super) struct Renderer<'o> {
    pub out: &'o mut Vec<u8>,
    /// The last thing written was a separator (or nothing yet).
    pub last_is_space: bool,
}

impl Renderer<'_> {
    pub(super) fn push_str(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    pub(super) fn num(&mut self, n: impl std::fmt::Display) {
        self.push_str(&n.to_string());
    }

    /// `%04X`-style hexadecimal under `X`, decimal otherwise.
    pub(super) fn counter(&mut self, n: u64, flags: LogFlags, width: usize) {
        if flags.hex {
            self.push_str(&format!("{n:0width$X}"));
        } else {
            self.num(n);
        }
    }

    pub(super) fn plus_unless_final(&mut self, l: &LogFacts) {
        if !l.bytes_final {
            self.out.push(b'+');
        }
    }

    /// `lf_ip`: hexadecimal bytes under `X`, else the address as text.
    pub(super) fn ip(&mut self, addr: Option<IpAddr>, flags: LogFlags) {
        match addr {
            Some(a) if flags.hex => {
                let bytes = match a {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                for b in bytes {
                    self.push_str(&format!("{b:02X}"));
                }
            }
            Some(a) => {
                let s = match a {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => ipv6_to_string(&v6),
                };
                text_len(self.out, Some(s.as_bytes()), flags);
            }
            None => text_len(self.out, None, flags),
        }
    }

    /// `lf_port`: `%02X%02X` under `X`, else decimal.
    pub(super) fn port(&mut self, addr: Option<SocketAddr>, flags: LogFlags) {
        match addr {
            Some(a) if flags.hex => self.push_str(&format!("{:04X}", a.port())),
            Some(a) => self.num(a.port()),
            None => text_len(self.out, None, flags),
        }
    }

    pub(super) fn captures(&mut self, caps: &[Option<Vec<u8>>], flags: LogFlags, list: bool) {
        if caps.is_empty() {
            return;
        }
        if list {
            for (i, c) in caps.iter().enumerate() {
                if i > 0 {
                    self.out.push(b' ');
                }
                if flags.quote {
                    self.out.push(b'"');
                }
                match c {
                    Some(v) => encode(self.out, c_str(v), b'#', hdr_encoded, flags.escape),
                    None if !flags.quote => self.out.push(b'-'),
                    None => {}
                }
                if flags.quote {
                    self.out.push(b'"');
                }
            }
        } else {
            if flags.quote {
                self.out.push(b'"');
            }
            self.out.push(b'{');
            for (i, c) in caps.iter().enumerate() {
                if i > 0 {
                    self.out.push(b'|');
                }
                if let Some(v) = c {
                    encode(self.out, c_str(v), b'#', hdr_encoded, flags.escape);
                }
            }
            self.out.push(b'}');
            if flags.quote {
                self.out.push(b'"');
            }
        }
        self.last_is_space = false;
    }

    /// An HTTP part of the request line (`%HM %HU %HP %HPO %HQ %HV %r`),
    /// `#`-encoded and optionally quoted.
    pub(super) fn request_part(&mut self, part: &[u8], flags: LogFlags) {
        if flags.quote {
            self.out.push(b'"');
        }
        encode(self.out, part, b'#', url_encoded, flags.escape);
        if flags.quote {
            self.out.push(b'"');
        }
    }
}
