//! The only module that talks to the network: one conditional GET per call.
//!
//! Redirects are followed here, by hand, so that each hop is checked (scheme,
//! loops, count) and a permanent move (301/308) can be reported to the
//! operator. The body is read chunk by chunk and cut off at the cap, counted
//! after decompression, so a huge or endless body (or a gzip bomb) costs at
//! most `max_body` bytes. Bodies are returned as bytes, never as text:
//! charset decisions belong to `parse`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use reqwest::{redirect, StatusCode};
use url::Url;

use crate::config::PollConfig;
use crate::item::is_web;

/// At most this many redirects per fetch.
pub const MAX_REDIRECTS: usize = 5;

/// Validators from the last successful fetch, sent back as
/// `If-None-Match` / `If-Modified-Since`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the publisher said about how often to come back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age` (or `s-maxage`).
    pub max_age: Option<Duration>,
    /// `Expires`, read with `Date` by [`CacheHints::fresh_for`].
    pub expires: Option<DateTime<Utc>>,
    /// The response's `Date`.
    pub date: Option<DateTime<Utc>>,
}

impl CacheHints {
    /// How long the answer stays fresh from `now` by `Expires` (RFC 9111
    /// section 4.2: lifetime `Expires - Date`, less the apparent age
    /// `now - Date`); without `Date`, `Expires - now`.
    pub fn fresh_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        let expires = self.expires?;
        let remaining = match self.date {
            Some(date) => (expires - date) - (now - date).max(chrono::Duration::zero()),
            None => expires - now,
        };
        remaining.to_std().ok().filter(|d| !d.is_zero())
    }
}

/// `Retry-After` as sent: delay-seconds count from when we received the
/// answer (RFC 9110 section 10.2.3), on the poller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    Delay(Duration),
    At(DateTime<Utc>),
}

/// A completed exchange.
#[derive(Debug)]
pub struct Fetched {
    /// `None` for 304 Not Modified.
    pub body: Option<Bytes>,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub cache: CacheHints,
    /// The URL the feed now lives at, when every redirect up to it was
    /// permanent (301/308).
    pub moved_permanently: Option<Url>,
}

/// Why a fetch failed; each variant is something an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// An HTTP error status; 429/503 may carry `Retry-After`.
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<RetryAfter>,
    },
    #[error("timed out")]
    Timeout,
    #[error("body larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Redirect(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for failures that say more about our network than about the
    /// feed (used to tell an outage from a broken feed).
    pub fn is_network(&self) -> bool {
        matches!(self, FetchError::Timeout | FetchError::Connect(_))
    }

    fn from_reqwest(e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout
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
    timeout: Duration,
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
            .redirect(redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(error_chain(&e)))?;
        Ok(Fetcher {
            client,
            max_body: poll.max_body,
            timeout: poll.timeout,
        })
    }

    /// One conditional GET, following up to [`MAX_REDIRECTS`] redirects, all
    /// of it (every hop and the body) within `[poll] timeout`.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        tokio::time::timeout(self.timeout, self.fetch_inner(url, validators))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }

    async fn fetch_inner(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut visited = vec![url.clone()];
        let mut permanent: Option<Url> = None;
        let mut all_permanent = true;
        let mut resp = loop {
            let resp = self.request(&current, validators).await?;
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break resp;
            }
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FetchError::Redirect(format!("HTTP {status} without a Location")))?;
            let next = current
                .join(location)
                .map_err(|e| FetchError::Redirect(format!("bad redirect Location {location:?}: {e}")))?;
            if !is_web(&next) {
                return Err(FetchError::Redirect(format!(
                    "redirect to unsupported scheme {}:",
                    next.scheme()
                )));
            }
            if visited.contains(&next) {
                return Err(FetchError::Redirect(format!("redirect loop at {next}")));
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::Redirect(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )));
            }
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            if all_permanent {
                permanent = Some(next.clone());
            }
            visited.push(next.clone());
            current = next;
        };

        let status = resp.status();
        let headers = resp.headers().clone();
        let cache = cache_hints(&headers);
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                body: None,
                content_type: None,
                validators: validators.clone(),
                cache,
                moved_permanently: permanent,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: retry_after(&headers),
            });
        }
        if let Some(len) = resp.content_length() {
            // reqwest drops Content-Length when it decompresses, so a length
            // here is the real body size: refuse before reading.
            if len > self.max_body {
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
        Ok(Fetched {
            body: Some(body.freeze()),
            content_type: header_str(&headers, header::CONTENT_TYPE),
            validators: Validators {
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
            },
            cache,
            moved_permanently: permanent,
        })
    }

    /// WebSub publisher ping: `hub.mode=publish` for `topic`. Any 2xx is
    /// success.
    pub async fn websub_publish(&self, hub: &Url, topic: &str) -> Result<(), FetchError> {
        let resp = self
            .client
            .post(hub.clone())
            .form(&[("hub.mode", "publish"), ("hub.url", topic)])
            .send()
            .await
            .map_err(FetchError::from_reqwest)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(FetchError::Status {
                status: resp.status().as_u16(),
                retry_after: None,
            })
        }
    }

    async fn request(&self, url: &Url, validators: &Validators) -> Result<reqwest::Response, FetchError> {
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
        req.send().await.map_err(FetchError::from_reqwest)
    }
}

/// A plain GET against our own daemon (`feedwire status`); no redirects,
/// no validators.
pub async fn get_local(url: &Url, timeout: Duration) -> Result<Bytes, FetchError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirect::Policy::none())
        .build()
        .map_err(|e| FetchError::Other(error_chain(&e)))?;
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(FetchError::from_reqwest)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            status: resp.status().as_u16(),
            retry_after: None,
        });
    }
    resp.bytes().await.map_err(FetchError::from_reqwest)
}

/// A streamed GET against our own daemon (`feedwire export`): each chunk
/// goes to `sink` until it returns false. No overall timeout: a dump of a
/// large store takes as long as it takes; connecting is bounded.
pub async fn get_local_streaming(url: &Url, mut sink: impl FnMut(&[u8]) -> bool) -> Result<(), FetchError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(redirect::Policy::none())
        .build()
        .map_err(|e| FetchError::Other(error_chain(&e)))?;
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(FetchError::from_reqwest)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            status: resp.status().as_u16(),
            retry_after: None,
        });
    }
    while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
        if !sink(&chunk) {
            break;
        }
    }
    Ok(())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<RetryAfter> {
    let v = header_str(headers, header::RETRY_AFTER)?;
    match v.trim().parse::<u64>() {
        Ok(secs) => Some(RetryAfter::Delay(Duration::from_secs(secs))),
        Err(_) => http_date(&v).map(RetryAfter::At),
    }
}

fn cache_hints(headers: &HeaderMap) -> CacheHints {
    let max_age = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            matches!(k.trim().to_ascii_lowercase().as_str(), "max-age" | "s-maxage")
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .max()
        .map(Duration::from_secs);
    let date = headers
        .get(header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(http_date);
    let expires = header_str(headers, header::EXPIRES)
        .as_deref()
        .and_then(http_date);
    CacheHints {
        max_age,
        expires,
        date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        let date = "Sat, 29 Nov 2025 10:00:00 GMT";
        let h = headers(&[(header::RETRY_AFTER, "120"), (header::DATE, date)]);
        assert_eq!(retry_after(&h), Some(RetryAfter::Delay(Duration::from_secs(120))));
        let h = headers(&[(header::RETRY_AFTER, "Sat, 29 Nov 2025 12:00:00 GMT")]);
        assert_eq!(
            retry_after(&h),
            Some(RetryAfter::At(
                http_date("Sat, 29 Nov 2025 12:00:00 GMT").unwrap()
            ))
        );
        assert_eq!(retry_after(&headers(&[(header::RETRY_AFTER, "soon")])), None);
    }

    #[test]
    fn cache_hint_forms() {
        let h = headers(&[(header::CACHE_CONTROL, "public, max-age=1800, s-maxage=600")]);
        assert_eq!(cache_hints(&h).max_age, Some(Duration::from_secs(1800)));
        let h = headers(&[
            (header::DATE, "Sat, 29 Nov 2025 10:00:00 GMT"),
            (header::EXPIRES, "Sat, 29 Nov 2025 11:00:00 GMT"),
        ]);
        let at = |s: &str| http_date(s).unwrap();
        let hints = cache_hints(&h);
        assert_eq!(
            hints.fresh_for(at("Sat, 29 Nov 2025 10:00:00 GMT")),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            hints.fresh_for(at("Sat, 29 Nov 2025 10:30:00 GMT")),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(hints.fresh_for(at("Sat, 29 Nov 2025 11:30:00 GMT")), None);
        let h = headers(&[(header::EXPIRES, "Sat, 29 Nov 2025 11:00:00 GMT")]);
        assert_eq!(
            cache_hints(&h).fresh_for(at("Sat, 29 Nov 2025 10:00:00 GMT")),
            Some(Duration::from_secs(3600))
        );
        // `Expires: 0` and past dates mean "already stale", not a hint.
        let h = headers(&[
            (header::DATE, "Sat, 29 Nov 2025 10:00:00 GMT"),
            (header::EXPIRES, "0"),
        ]);
        assert_eq!(
            cache_hints(&h).fresh_for(at("Sat, 29 Nov 2025 10:00:00 GMT")),
            None
        );
    }
}
