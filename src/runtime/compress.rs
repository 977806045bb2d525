//! `compression algo|type|offload`: gzip/deflate response compression.
//!
//! A response is compressed as HAProxy 2.6 does it: the client accepts one of
//! the configured algorithms, the status is 200 to 203, the response is not
//! already encoded, does not forbid transformation (`Cache-Control:
//! no-transform`), and its type is listed when `compression type` is set.

use crate::ir::{CompressAlgo, Compression};
use bytes::Bytes;
use flate2::Compression as Level;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use http::header::{self, HeaderMap, HeaderValue};
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame};
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The algorithm to use for this exchange, if the response may be compressed.
pub fn choose(
    cfg: &Compression,
    req: &HeaderMap,
    status: u16,
    res: &HeaderMap,
) -> Option<CompressAlgo> {
    if !(200..=203).contains(&status) || res.contains_key(header::CONTENT_ENCODING) {
        return None;
    }
    let no_transform = res
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("no-transform"));
    if no_transform {
        return None;
    }
    if !cfg.types.is_empty() {
        let ct = res
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())?;
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !cfg.types.iter().any(|t| t.eq_ignore_ascii_case(&ct)) {
            return None;
        }
    }
    // The client's preferences in order, skipping q=0.
    for value in req
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            if refused {
                continue;
            }
            let candidates: &[CompressAlgo] = match token.as_str() {
                "gzip" | "x-gzip" => &[CompressAlgo::Gzip],
                // `raw-deflate` is HAProxy's headerless deflate for broken clients.
                "deflate" => &[CompressAlgo::Deflate, CompressAlgo::RawDeflate],
                _ => continue,
            };
            if let Some(a) = cfg.algos.iter().find(|a| candidates.contains(a)) {
                return Some(*a);
            }
        }
    }
    None
}

/// Rewrites the response headers for a compressed body.
pub fn mark(headers: &mut HeaderMap, algo: CompressAlgo) {
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(match algo {
            CompressAlgo::Gzip => "gzip",
            CompressAlgo::Deflate | CompressAlgo::RawDeflate => "deflate",
        }),
    );
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
    Raw(DeflateEncoder<Vec<u8>>),
}

impl Encoder {
    fn write(&mut self, data: &[u8]) -> std::io::Result<Bytes> {
        let out = match self {
            Encoder::Gzip(e) => {
                e.write_all(data)?;
                std::mem::take(e.get_mut())
            }
            Encoder::Deflate(e) => {
                e.write_all(data)?;
                std::mem::take(e.get_mut())
            }
            Encoder::Raw(e) => {
                e.write_all(data)?;
                std::mem::take(e.get_mut())
            }
        };
        Ok(Bytes::from(out))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        Ok(Bytes::from(match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Deflate(e) => e.finish()?,
            Encoder::Raw(e) => e.finish()?,
        }))
    }
}

/// A body compressed on the fly.
pub struct Compressed {
    inner: BoxBody<Bytes, hyper::Error>,
    encoder: Option<Encoder>,
}

impl Compressed {
    /// Wraps a body with the chosen algorithm (HAProxy's default level 1 is
    /// the fast one; flate2's default level is used for a better ratio).
    pub fn new(inner: BoxBody<Bytes, hyper::Error>, algo: CompressAlgo) -> Self {
        let encoder = match algo {
            CompressAlgo::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), Level::default())),
            CompressAlgo::Deflate => {
                Encoder::Deflate(ZlibEncoder::new(Vec::new(), Level::default()))
            }
            CompressAlgo::RawDeflate => {
                Encoder::Raw(DeflateEncoder::new(Vec::new(), Level::default()))
            }
        };
        Compressed {
            inner,
            encoder: Some(encoder),
        }
    }
}

impl Body for Compressed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        loop {
            let Some(_) = self.encoder.as_ref() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        // Trailers are dropped: the encoded body carries its own end.
                        continue;
                    };
                    let out = match self.encoder.as_mut().map(|e| e.write(&data)) {
                        Some(Ok(out)) => out,
                        // Writing into a Vec cannot fail; end the body if it ever does.
                        _ => {
                            self.encoder = None;
                            return Poll::Ready(None);
                        }
                    };
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                }
                Poll::Ready(None) => {
                    let tail = self.encoder.take().map(Encoder::finish);
                    return match tail {
                        Some(Ok(t)) if !t.is_empty() => Poll::Ready(Some(Ok(Frame::data(t)))),
                        _ => Poll::Ready(None),
                    };
                }
            }
        }
    }
}
