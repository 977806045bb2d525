//! The HTTP statistics page of `stats enable` / `stats uri`: served by the
//! proxy itself when a request's target starts with the stats URI, after the
//! proxy's `http-request` rules (as HAProxy's stats applet), behind `stats
//! auth` when set.
//!
//! `<uri>;csv` answers HAProxy 2.6's CSV (the `show stat` columns, same
//! order); the HTML page shows the same rows per proxy. `stats refresh` is the
//! `Refresh` header (`;norefresh` drops it), `stats show-node`, `show-desc`,
//! `show-legends` and `hide-version` shape the page as in HAProxy.

use super::admin_cmd::{hostname, show_stat};
use super::errors::default_response;
use super::eval::basic_auth;
use super::generation::Generation;
use crate::ir::Stats;
use bytes::Bytes;
use http::{HeaderValue, Response, header};
use std::fmt::Write as _;

/// The answer to `req` when it targets the stats page of `stats`, else `None`.
pub(super) fn serve(
    stats: &Stats,
    generation: &Generation,
    req: &http::request::Parts,
) -> Option<Response<Bytes>> {
    let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let rest = target.strip_prefix(stats.uri.as_str())?;
    if !stats.auth.is_empty() && !authorized(stats, req) {
        let mut res = default_response(401);
        let realm = stats.realm.as_deref().unwrap_or("HAProxy Statistics");
        if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Some(res);
    }
    let csv = rest.contains(";csv");
    let (body, ctype) = if csv {
        (show_stat(generation), "text/plain")
    } else {
        (html(stats, generation), "text/html")
    };
    let mut res = Response::new(Bytes::from(body));
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Some(ms) = stats.refresh
        && !rest.contains(";norefresh")
        && let Ok(v) = HeaderValue::from_str(&(ms / 1000).max(1).to_string())
    {
        h.insert(header::REFRESH, v);
    }
    Some(res)
}

/// `stats auth user:password`: one of the pairs, by Basic credentials.
fn authorized(stats: &Stats, req: &http::request::Parts) -> bool {
    let Some((user, pass)) = basic_auth(req) else {
        return false;
    };
    stats
        .auth
        .iter()
        .any(|(u, p)| u.as_bytes() == user.as_slice() && p.as_bytes() == pass.as_slice())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Columns of the HTML tables: (title, CSV column).
const HTML_COLUMNS: &[(&str, &str)] = &[
    ("Cur sessions", "scur"),
    ("Max sessions", "smax"),
    ("Limit", "slim"),
    ("Total", "stot"),
    ("Status", "status"),
    ("Wght", "weight"),
    ("Act", "act"),
    ("Bck", "bck"),
    ("Address", "addr"),
    ("Mode", "mode"),
];

const LEGEND: &str = "<table class=\"lgd\"><tr>\n<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr><tr>\n<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr><tr>\n<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr></table>\n";

fn html(stats: &Stats, generation: &Generation) -> String {
    let node = stats
        .show_node
        .as_ref()
        .map(|n| if n.is_empty() { hostname() } else { n.clone() });
    let pid = std::process::id();
    let mut out = String::from(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n\"http://www.w3.org/TR/html4/loose.dtd\">\n<html><head><title>Statistics Report for portcullis",
    );
    if let Some(n) = &node {
        let _ = write!(out, " on {}", escape(n));
    }
    out.push_str("</title>\n<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n</head>\n<body><h1>portcullis");
    if !stats.hide_version {
        let _ = write!(out, " version {}", env!("CARGO_PKG_VERSION"));
    }
    let _ = write!(out, "</h1>\n<h2>Statistics Report for pid {pid}");
    if let Some(n) = &node {
        let _ = write!(out, " on {}", escape(n));
    }
    if let Some(d) = stats.show_desc.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(out, ": {}", escape(d));
    }
    out.push_str("</h2>\n<hr width=\"100%\" class=\"hr\">\n");
    if stats.show_legends {
        let _ = write!(
            out,
            "<h3>&gt; General process information</h3>\n<p><b>pid = </b> {pid} (process #1, nbproc = 1)<br>\n{LEGEND}"
        );
    }
    let csv = show_stat(generation);
    let mut lines = csv.lines();
    let columns: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let index = |name: &str| columns.iter().position(|c| *c == name);
    let mut current: Option<String> = None;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |name: &str| {
            index(name)
                .and_then(|i| fields.get(i))
                .copied()
                .unwrap_or("")
        };
        let proxy = field("pxname");
        if current.as_deref() != Some(proxy) {
            if current.is_some() {
                out.push_str("</table><p>\n");
            }
            let _ = write!(
                out,
                "<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\"><a name=\"{p}\"></a>{p}</th>",
                p = escape(proxy)
            );
            for (title, _) in HTML_COLUMNS {
                let _ = write!(out, "<th>{title}</th>");
            }
            out.push_str("</tr>\n");
            current = Some(proxy.to_string());
        }
        let name = field("svname");
        let class = match name {
            "FRONTEND" => "frontend",
            "BACKEND" => "backend",
            _ if field("status").starts_with("MAINT") => "maintain",
            _ if field("bck") == "1" => "backup_no_check",
            _ => "active_no_check",
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=ac>{}</td>",
            escape(name)
        );
        for (_, col) in HTML_COLUMNS {
            let _ = write!(out, "<td>{}</td>", escape(field(col)));
        }
        out.push_str("</tr>\n");
    }
    if current.is_some() {
        out.push_str("</table><p>\n");
    }
    out.push_str("</body></html>\n");
    out
}
