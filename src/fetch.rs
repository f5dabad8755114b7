//! The only module that talks to the network: one conditional GET per call.
//!
//! The body is read chunk by chunk and cut off at the configured cap, counted
//! after decompression, so a huge or endless body (or a gzip bomb) costs at
//! most `max_body` bytes of memory. Bodies are returned as bytes, never as
//! text: charset decisions belong to `parse`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap};
use reqwest::{redirect, StatusCode};
use url::Url;

use crate::config::PollConfig;

/// Validators from the last successful fetch, sent back as
/// `If-None-Match` / `If-Modified-Since`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A completed exchange.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing to parse.
    NotModified,
    /// 200 with a body.
    Modified {
        body: Bytes,
        content_type: Option<String>,
        validators: Validators,
    },
}

/// Why a fetch failed; each variant is something an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("timed out")]
    Timeout,
    #[error("body larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("too many redirects or a redirect loop")]
    Redirect,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }

    fn from_reqwest(e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_redirect() {
            FetchError::Redirect
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

/// reqwest's top-level message is generic ("error sending request"); the
/// cause chain says what really happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        cur = s.source();
    }
    msg
}

/// An HTTP client configured for polite polling.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: u64,
}

impl Fetcher {
    pub fn new(poll: &PollConfig) -> Result<Fetcher, FetchError> {
        // reqwest is built without a default crypto provider (ring builds a
        // minute faster than aws-lc); installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(poll.user_agent.clone())
            .timeout(poll.timeout)
            .connect_timeout(poll.timeout.min(Duration::from_secs(10)))
            .redirect(redirect::Policy::limited(5))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(error_chain(&e)))?;
        Ok(Fetcher {
            client,
            max_body: poll.max_body,
        })
    }

    /// One conditional GET.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut req = self.client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        );
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(FetchError::from_reqwest)?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        let headers = resp.headers().clone();
        if let Some(len) = resp.content_length() {
            // Only a hint (it counts compressed bytes), but a declared length
            // over the cap lets us stop before reading anything.
            if len > self.max_body && !is_compressed(&headers) {
                return Err(FetchError::TooLarge { limit: self.max_body });
            }
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(FetchError::TooLarge { limit: self.max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Modified {
            body: body.freeze(),
            content_type: header_str(&headers, header::CONTENT_TYPE),
            validators: Validators {
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
            },
        })
    }
}

fn is_compressed(headers: &HeaderMap) -> bool {
    headers.contains_key(header::CONTENT_ENCODING)
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}
