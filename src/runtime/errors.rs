//! HAProxy 2.6's built-in error pages, and `errorfile` responses.
//!
//! Clients and monitoring written against HAProxy look at these bodies, so they
//! are byte-for-byte HAProxy's (`src/http.c`, `http_err_msgs`).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// Reason phrase and explanation of a built-in page.
fn page(status: u16) -> Option<(&'static str, &'static str)> {
    Some(match status {
        200 => ("200 OK", "Service ready."),
        400 => ("400 Bad request", "Your browser sent an invalid request."),
        401 => (
            "401 Unauthorized",
            "You need a valid user and password to access this content.",
        ),
        403 => (
            "403 Forbidden",
            "Request forbidden by administrative rules.",
        ),
        404 => ("404 Not Found", "The resource could not be found."),
        405 => (
            "405 Method Not Allowed",
            "A request was made of a resource using a request method not supported by that resource",
        ),
        407 => (
            "407 Unauthorized",
            "You need a valid user and password to access this content.",
        ),
        408 => (
            "408 Request Time-out",
            "Your browser didn't send a complete request in time.",
        ),
        410 => (
            "410 Gone",
            "The resource is no longer available and will not be available again.",
        ),
        413 => (
            "413 Payload Too Large",
            "The request entity exceeds the maximum allowed.",
        ),
        421 => (
            "421 Misdirected Request",
            "Request sent to a non-authoritative server.",
        ),
        422 => (
            "422 Unprocessable Content",
            "The server cannot process the contained instructions.",
        ),
        425 => ("425 Too Early", "Your browser sent early data."),
        429 => (
            "429 Too Many Requests",
            "You have sent too many requests in a given amount of time.",
        ),
        500 => (
            "500 Internal Server Error",
            "An internal server error occurred.",
        ),
        501 => (
            "501 Not Implemented",
            ".The server does not support the functionality required to fulfill the request.",
        ),
        502 => (
            "502 Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            "503 Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => ("504 Gateway Time-out", "The server didn't respond in time."),
        _ => return None,
    })
}

/// The body HAProxy sends for a status (an empty body for statuses it has no
/// page for).
pub fn default_body(status: u16) -> Bytes {
    match page(status) {
        Some((title, text)) => Bytes::from(format!(
            "<html><body><h1>{title}</h1>\n{text}\n</body></html>\n"
        )),
        None => Bytes::new(),
    }
}

/// HAProxy's built-in response for a status: HTML page, `cache-control:
/// no-cache`, and `connection: close` for 400 and 408 as HAProxy does.
pub fn default_response(status: u16) -> Response<Bytes> {
    let body = default_body(status);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = Response::new(body);
    *res.status_mut() = code;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if page(status).is_some() {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    if matches!(status, 400 | 408) {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The raw HTTP/1 bytes HAProxy writes for a status it answers on its own
/// at the connection level (400, 408): the `errorfile` verbatim if there is
/// one, else the built-in page with HAProxy's header names and order.
pub fn raw_page(errorfile: Option<&[u8]>, status: u16) -> Bytes {
    if let Some(raw) = errorfile {
        return Bytes::copy_from_slice(raw);
    }
    let body = default_body(status);
    let title = page(status).map_or("500 Internal Server Error", |(t, _)| t);
    Bytes::from(format!(
        "HTTP/1.1 {title}\r\nContent-length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(&body)
    ))
}

/// Parses a raw HTTP/1 response as written in an `errorfile` (status line,
/// headers, blank line, body). Returns `None` if it is not a response.
pub fn parse_raw_response(raw: &[u8]) -> Option<Response<Bytes>> {
    let split = find_subslice(raw, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| find_subslice(raw, b"\n\n").map(|i| (i, i + 2)))?;
    let head = std::str::from_utf8(&raw[..split.0]).ok()?;
    let body = Bytes::copy_from_slice(&raw[split.1..]);
    let mut lines = head.lines();
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code: u16 = parts.next()?.trim().parse().ok()?;
    let mut res = Response::new(body);
    *res.status_mut() = StatusCode::from_u16(code).ok()?;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = http::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        // Hop-by-hop framing is recomputed by the server side.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).ok()?;
        res.headers_mut().append(name, value);
    }
    Some(res)
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_haproxy_lengths() {
        // Content-Length values from HAProxy 2.6 src/http.c.
        for (status, len) in [
            (400, 90),
            (403, 93),
            (408, 110),
            (421, 104),
            (500, 97),
            (502, 107),
            (503, 107),
            (504, 92),
        ] {
            assert_eq!(default_body(status).len(), len, "status {status}");
        }
        let r = default_response(400);
        assert_eq!(
            r.headers().get("connection").map(|v| v.as_bytes()),
            Some(&b"close"[..])
        );
    }

    #[test]
    fn raw_pages_are_haproxys_bytes() {
        assert_eq!(
            raw_page(None, 408),
            Bytes::from_static(
                b"HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"
            )
        );
        assert_eq!(
            raw_page(Some(b"HTTP/1.0 400 x\r\n\r\n"), 400),
            Bytes::from_static(b"HTTP/1.0 400 x\r\n\r\n")
        );
    }

    #[test]
    fn parses_errorfiles() {
        let raw = b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello";
        let r = parse_raw_response(raw).map(|r| {
            (
                r.status().as_u16(),
                r.body().clone(),
                r.headers().contains_key("content-length"),
            )
        });
        assert_eq!(r, Some((503, Bytes::from_static(b"hello"), false)));
        assert!(parse_raw_response(b"garbage").is_none());
    }
}
