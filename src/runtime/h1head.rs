//! The HTTP/1 request head in the buffer of a `mode tcp` stream, for HTTP
//! sample fetches in `tcp-request content` rules: HAProxy 2.6 parses the
//! buffered bytes as an HTTP/1 request when such a fetch is evaluated; a
//! head not complete yet makes the rule wait (within `tcp-request
//! inspect-delay`), bytes that are not HTTP make the fetch fail.

/// What the buffer holds.
#[derive(Debug)]
pub enum Head {
    /// A whole request head (up to the empty line).
    Complete(Box<http::request::Parts>),
    /// The start of a request head: more data may complete it.
    Partial,
    /// Not an HTTP/1 request.
    Invalid,
}

impl Head {
    /// The parsed head, when complete.
    pub fn parts(&self) -> Option<&http::request::Parts> {
        match self {
            Head::Complete(p) => Some(p),
            _ => None,
        }
    }
}

/// Most header lines read (HAProxy's `tune.http.maxhdr` default).
const MAX_HEADERS: usize = 101;

/// Parses the start of `data` as an HTTP/1 request head.
pub fn parse(data: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(data) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(_) => return Head::Invalid,
    }
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Head::Invalid;
    };
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .version(if version == 0 {
            http::Version::HTTP_10
        } else {
            http::Version::HTTP_11
        });
    for h in req.headers.iter() {
        b = b.header(h.name, h.value);
    }
    match b.body(()) {
        Ok(r) => Head::Complete(Box::new(r.into_parts().0)),
        Err(_) => Head::Invalid,
    }
}

/// Whether `data` is an HTTP/1 request head still missing its end.
pub fn is_partial(data: &[u8]) -> bool {
    matches!(parse(data), Head::Partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_complete_partial_or_not_http() {
        let h = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nbody");
        let p = h.parts().map(|p| (p.method.clone(), p.uri.to_string()));
        assert_eq!(p, Some((http::Method::GET, "/a?b=1".to_string())));
        assert!(matches!(parse(b"GET /a HTTP/1.1\r\nHost:"), Head::Partial));
        assert!(matches!(parse(b""), Head::Partial));
        assert!(matches!(parse(b"\x16\x03\x01\x02\x00"), Head::Invalid));
    }
}
