//! The only module that talks to the network: one conditional GET per call.
//!
//! Redirects are followed here, by hand, so that each hop is checked (scheme,
//! loops, count) and a permanent move (301/308) can be reported to the
//! operator. The body is read chunk by chunk and cut off at the cap, counted
//! after decompression, so a huge or endless body (or a gzip bomb) costs at
//! most `max_body` bytes. Bodies are returned as bytes, never as text:
//! charset decisions belong to `parse`. A feed poll answered with a web page
//! (see [`crate::discover`]) reads the page only as far as its feed links:
//! its head, where they nearly always are, and the rest of a page is often
//! ten times the feed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use reqwest::{redirect, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{Credentials, PollConfig};
use crate::discover;
use crate::item::is_web;

mod chain;
mod tls;

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
    /// Where the answer came from, after every redirect.
    pub url: Url,
    /// `None` for 304 Not Modified.
    pub body: Option<Bytes>,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub cache: CacheHints,
    /// The URL the feed now lives at, when every redirect up to it was
    /// permanent (301/308).
    pub moved_permanently: Option<Url>,
    /// The pipeline slot the body was read under ([`Fetcher::fetch_gated`]);
    /// dropping it lets the next body in.
    pub body_slot: Option<OwnedSemaphorePermit>,
    /// A feed poll answered with a web page ([`crate::discover::is_page`]);
    /// `body` holds the page up to the end of its head (or, when the head
    /// names no feed, up to the first feed link after it, or the cap).
    pub page: bool,
}

/// How far [`Fetcher::head`] got.
enum Head {
    /// A 304: nothing more to read.
    Done(Fetched),
    /// A 200 whose body is still in the socket.
    Body(Pending),
}

struct Pending {
    resp: reqwest::Response,
    headers: HeaderMap,
    cache: CacheHints,
    permanent: Option<Url>,
    url: Url,
}

/// Why a fetch failed; each variant is something an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// An HTTP error status; 429/503 may carry `Retry-After`. `wall` names
    /// the bot protection that answered, when its headers say so
    /// ([`bot_wall`]): the feed is not broken, its publisher refuses us.
    #[error("HTTP {status}{}", wall.map(|w| format!(": {w}, which refuses automated clients (a [[feed]] user_agent may help, or ask the publisher)")).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<RetryAfter>,
        wall: Option<&'static str>,
    },
    #[error("timed out")]
    Timeout,
    #[error("body larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Redirect(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TLS handshake failed: the server's certificate is not one we can
    /// trust (expired, for another name, an issuer this machine does not
    /// know) or it speaks no TLS we accept. The server's fault, never a sign
    /// of our own outage, however many feeds it hits.
    #[error("{0}")]
    Tls(String),
    /// Server-side request forgery guard: the target is on a private,
    /// loopback or link-local network and `allow_private_networks` is off.
    #[error("refused: {0}")]
    Refused(String),
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
        // Our resolver's refusal travels inside reqwest's connect error.
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = cur {
            if let Some(r) = err.downcast_ref::<Refused>() {
                return FetchError::Refused(r.0.clone());
            }
            cur = err.source();
        }
        if let Some(missing) = tls::missing_intermediate(&e) {
            // Where no AIA fetch is made (the WebSub ping).
            return FetchError::Tls(format!("{missing} (AIA URL: {})", missing.urls[0]));
        }
        if e.is_timeout() {
            FetchError::Timeout
        } else if tls::rustls_error(&e).is_some() {
            FetchError::Tls(format!("TLS: {}", error_chain(&e)))
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

/// reqwest's and hyper's outer messages are generic ("error sending request
/// for url (...)", "client error (Connect)"); the causes say what happened.
/// The URL is in the feed's status already.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        let generic = msg.starts_with("error sending request")
            || msg.starts_with("client error (")
            || msg.starts_with("error trying to connect");
        if !generic && !parts.contains(&msg) {
            parts.push(msg);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Addresses a feed fetch may not reach unless `allow_private_networks`:
/// loopback, private, shared (CGNAT), link-local (cloud metadata lives at
/// 169.254.169.254), unique-local, multicast, unspecified and reserved
/// ranges, including IPv4 addresses embedded in IPv6.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its tail.
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                let o = v6.octets();
                return is_private(IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15])));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        }
    }
}

/// The refusal our resolver returns; recognised in reqwest's error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refusal(host: &str, ip: IpAddr) -> String {
    format!(
        "{host} is {ip}, a private or local address; set allow_private_networks = true for this feed if that is intended"
    )
}

/// Behind `[poll] proxy` the proxy connects, so [`PublicOnly`] never sees
/// the feed's addresses: the name is looked up here, and refused when any
/// of its addresses is private, or when it cannot be looked up (the check
/// cannot be made; `allow_private_networks` leaves names to the proxy).
/// The proxy looks the name up again on its own: an answer that changes in
/// between (DNS rebinding) is for the proxy's own rules to refuse.
async fn check_public_name(url: &Url) -> Result<(), FetchError> {
    let Some(url::Host::Domain(host)) = url.host() else {
        // Addresses written in the URL are checked by the caller.
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        FetchError::Refused(format!(
            "cannot look up {host} to check that it is public ({e}); set allow_private_networks = true for this feed to let the proxy resolve it"
        ))
    })?;
    for addr in addrs {
        if is_private(addr.ip()) {
            return Err(FetchError::Refused(refusal(host, addr.ip())));
        }
    }
    Ok(())
}

/// Resolves names and drops private addresses, so that a public name
/// pointing inside (or DNS rebinding) cannot reach internal services: the
/// check is on the address actually connected to.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|a| !is_private(a.ip())).collect();
            match (public.is_empty(), all.first()) {
                (true, Some(first)) => Err(Box::new(Refused(refusal(&host, first.ip()))) as _),
                _ => Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// An HTTP client configured for polite polling.
#[derive(Clone)]
pub struct Fetcher {
    /// Refuses private addresses (the default).
    public: reqwest::Client,
    /// For feeds with `allow_private_networks`.
    any: reqwest::Client,
    max_body: u64,
    timeout: Duration,
    /// `Accept` sent: feed types, or HTML for article pages.
    accept: &'static str,
    /// Feed polls: a body that turns out to be a web page is read up to
    /// the end of its head ([`Fetched::page`]). Article pages are read whole.
    heads_of_pages: bool,
    /// A feed's own `user_agent`, sent instead of the clients' default.
    user_agent: Option<header::HeaderValue>,
    /// Fetches go through `[poll] proxy`.
    proxied: bool,
    /// A feed's credentials, with the URL they were given for: sent only
    /// where [`may_carry_credentials`] allows.
    credentials: Option<Arc<(Url, Credentials)>>,
    /// The clients' certificate verifier, whose intermediates an AIA
    /// fetch adds to.
    verifier: Arc<tls::LazyPlatformVerifier>,
    /// A chain missing its intermediate is completed through AIA; off for
    /// the AIA requests themselves.
    aia: bool,
}

/// A chain is completed through AIA at most this many levels up (each a
/// request, then a new handshake): one for nearly every incomplete chain,
/// two where a CA's intermediate is itself signed by another intermediate.
const MAX_AIA_LEVELS: usize = 3;

/// `Accept` for feed polls.
const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";
/// `Accept` for article pages (`full_text`, `feedwire extract`).
const PAGE_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";
/// `Accept` for a CA certificate at an AIA URL (RFC 5280 4.2.2.1: DER, or
/// a PKCS#7 bundle).
const CERT_ACCEPT: &str =
    "application/pkix-cert, application/x-x509-ca-cert, application/pkcs7-mime, */*;q=0.5";

impl Fetcher {
    /// The same client (User-Agent, limits, SSRF guard, pooled
    /// connections) asking for HTML pages instead of feeds.
    pub fn for_pages(&self) -> Fetcher {
        Fetcher {
            accept: PAGE_ACCEPT,
            heads_of_pages: false,
            ..self.clone()
        }
    }

    /// The same client sending `user_agent` (a feed's own, see
    /// [`crate::config::FeedConfig::user_agent`]) instead of `[poll]`'s;
    /// `None` keeps the default. A value no header can carry (the config
    /// refuses those) is ignored.
    pub fn with_user_agent(&self, user_agent: Option<&str>) -> Fetcher {
        Fetcher {
            user_agent: user_agent.and_then(|ua| header::HeaderValue::from_str(ua).ok()),
            ..self.clone()
        }
    }

    /// The same client sending `credentials` as HTTP Basic authentication
    /// to `url`'s host (see [`may_carry_credentials`]); `None` sends none.
    pub fn with_credentials(&self, url: &Url, credentials: Option<&Credentials>) -> Fetcher {
        Fetcher {
            credentials: credentials.map(|c| Arc::new((url.clone(), c.clone()))),
            ..self.clone()
        }
    }

    pub fn new(poll: &PollConfig) -> Result<Fetcher, FetchError> {
        Fetcher::with_verifier(poll, tls::verifier())
    }

    fn with_verifier(
        poll: &PollConfig,
        verifier: Arc<tls::LazyPlatformVerifier>,
    ) -> Result<Fetcher, FetchError> {
        let proxy = poll
            .proxy
            .as_ref()
            .map(|p| {
                reqwest::Proxy::all(p.as_str()).map_err(|e| {
                    FetchError::Other(format!(
                        "proxy {}: {}",
                        crate::config::redact_url(p.as_str()),
                        error_chain(&e)
                    ))
                })
            })
            .transpose()?;
        let builder = || {
            let builder = reqwest::Client::builder()
                // The root certificates are read once, when first needed
                // (see `tls`), not by each client as it is built.
                .tls_backend_preconfigured(tls::config_with(verifier.clone()))
                .user_agent(poll.user_agent.clone())
                .timeout(poll.timeout)
                .connect_timeout(poll.timeout.min(Duration::from_secs(10)))
                .redirect(redirect::Policy::none())
                // Feeds are polled minutes apart: an idle pooled connection
                // only holds its read buffer, grown to the last body's
                // chunks. With one per host that was 38 MB of a 1,000-host
                // round (BENCHMARKS.md, run 3), so none is kept.
                .pool_idle_timeout(Duration::from_secs(5))
                .pool_max_idle_per_host(0)
                .gzip(true)
                .brotli(true)
                .deflate(true);
            // Only the configured proxy, never the environment's.
            match &proxy {
                Some(proxy) => builder.proxy(proxy.clone()),
                None => builder.no_proxy(),
            }
        };
        let build = |b: reqwest::ClientBuilder| b.build().map_err(|e| FetchError::Other(error_chain(&e)));
        // Through a proxy the resolver only ever sees the proxy's name
        // (often a private address): the feed's names are checked in
        // `request` instead ([`check_public_name`]).
        let public = match proxy {
            Some(_) => builder(),
            None => builder().dns_resolver(PublicOnly),
        };
        Ok(Fetcher {
            public: build(public)?,
            proxied: poll.proxy.is_some(),
            any: build(builder())?,
            max_body: poll.max_body,
            timeout: poll.timeout,
            accept: FEED_ACCEPT,
            heads_of_pages: true,
            user_agent: None,
            credentials: None,
            verifier,
            aia: true,
        })
    }

    /// One conditional GET, following up to [`MAX_REDIRECTS`] redirects, all
    /// of it (every hop and the body) within `[poll] timeout`. Unless
    /// `allow_private` is set, every hop must reach a public address.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        allow_private: bool,
    ) -> Result<Fetched, FetchError> {
        self.fetch_gated(url, validators, allow_private, None).await
    }

    /// As [`Fetcher::fetch`], but a body is only read once a permit of
    /// `gate` is free; the permit travels in [`Fetched::body_slot`] so that
    /// the caller can hold it until the body has been dealt with.
    ///
    /// This is the ingest pipeline's backpressure: when parsing falls behind,
    /// answered requests wait with their bodies unread instead of piling up
    /// whole in our heap. hyper reads ahead into its connection buffer (at
    /// most about 400 KB); the rest waits in the kernel's socket buffers and
    /// at the publisher. The wait for a permit is our own queue, not the
    /// publisher's slowness, so it does not count against `[poll] timeout`.
    pub async fn fetch_gated(
        &self,
        url: &Url,
        validators: &Validators,
        allow_private: bool,
        gate: Option<&Arc<Semaphore>>,
    ) -> Result<Fetched, FetchError> {
        let started = std::time::Instant::now();
        let head = tokio::time::timeout(self.timeout, self.head(url, validators, allow_private))
            .await
            .unwrap_or(Err(FetchError::Timeout))?;
        let pending = match head {
            Head::Done(fetched) => return Ok(fetched),
            Head::Body(pending) => pending,
        };
        let spent = started.elapsed();
        let body_slot = match gate {
            Some(gate) => Some(
                gate.clone()
                    .acquire_owned()
                    .await
                    .expect("semaphores are never closed"),
            ),
            None => None,
        };
        let left = self.timeout.saturating_sub(spent);
        let mut fetched = tokio::time::timeout(left, self.read_body(pending))
            .await
            .unwrap_or(Err(FetchError::Timeout))?;
        fetched.body_slot = body_slot;
        Ok(fetched)
    }

    /// Sends the request and follows redirects up to a final answer: a 304
    /// or an error is complete here; a 200's body is still to be read.
    async fn head(
        &self,
        url: &Url,
        validators: &Validators,
        allow_private: bool,
    ) -> Result<Head, FetchError> {
        let mut current = url.clone();
        let mut visited = vec![url.clone()];
        let mut permanent: Option<Url> = None;
        let mut all_permanent = true;
        let resp = loop {
            let resp = self.request(&current, validators, allow_private).await?;
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
            return Ok(Head::Done(Fetched {
                url: current,
                body: None,
                content_type: None,
                validators: validators.clone(),
                cache,
                moved_permanently: permanent,
                body_slot: None,
                page: false,
            }));
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: retry_after(&headers),
                wall: bot_wall(&headers),
            });
        }
        let html = header_str(&headers, header::CONTENT_TYPE).is_some_and(|t| {
            t.trim_start()
                .get(..9)
                .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
        });
        if let Some(len) = resp.content_length() {
            // reqwest drops Content-Length when it decompresses, so a length
            // here is the real body size: refuse before reading. A feed
            // poll's web page is read only as far as its feed links, within
            // the cap, whatever its length.
            if len > self.max_body && !(html && self.heads_of_pages) {
                return Err(FetchError::TooLarge { limit: self.max_body });
            }
        }
        Ok(Head::Body(Pending {
            resp,
            headers,
            cache,
            permanent,
            url: current,
        }))
    }

    /// Reads a 200's body, cut off at the cap.
    async fn read_body(&self, pending: Pending) -> Result<Fetched, FetchError> {
        let Pending {
            mut resp,
            headers,
            cache,
            permanent,
            url,
        } = pending;
        // Sized once from Content-Length when the server sends one (and the
        // body is not compressed), so the buffer does not grow by doubling.
        let hint = resp.content_length().unwrap_or(0).min(self.max_body);
        let mut body = BytesMut::with_capacity(usize::try_from(hint).unwrap_or(0));
        let content_type = header_str(&headers, header::CONTENT_TYPE);
        // Feed polls: a body that turns out to be a page is read only as
        // far as its feed links. (The connection is closed with the
        // response: none is pooled.)
        let mut cut = self
            .heads_of_pages
            .then(|| discover::PageCut::new(content_type.as_deref()));
        while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                if !cut.as_ref().is_some_and(discover::PageCut::is_page) {
                    return Err(FetchError::TooLarge { limit: self.max_body });
                }
                // A page names its feed near its top or not at all: what
                // fits under the cap is looked at.
                let room = usize::try_from(self.max_body).unwrap_or(usize::MAX) - body.len();
                body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                break;
            }
            body.extend_from_slice(&chunk);
            if let Some(len) = cut.as_mut().and_then(|c| c.read(&body)) {
                body.truncate(len);
                break;
            }
        }
        let page = cut.is_some_and(|c| c.finish(&body));
        Ok(Fetched {
            url,
            body: Some(body.freeze()),
            page,
            content_type,
            validators: Validators {
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
            },
            cache,
            moved_permanently: permanent,
            body_slot: None,
        })
    }

    /// WebSub publisher ping: `hub.mode=publish` for `topic`. Any 2xx is
    /// success.
    pub async fn websub_publish(&self, hub: &Url, topic: &str) -> Result<(), FetchError> {
        let resp = self
            .public
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
                wall: None,
            })
        }
    }

    async fn request(
        &self,
        url: &Url,
        validators: &Validators,
        allow_private: bool,
    ) -> Result<reqwest::Response, FetchError> {
        let client = if allow_private {
            &self.any
        } else {
            // An address written in the URL is never resolved: check it here.
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = literal.filter(|ip| is_private(*ip)) {
                return Err(FetchError::Refused(refusal(
                    url.host_str().unwrap_or_default(),
                    ip,
                )));
            }
            if self.proxied {
                check_public_name(url).await?;
            }
            &self.public
        };
        let mut req = client.get(url.clone()).header(header::ACCEPT, self.accept);
        if let Some(ua) = &self.user_agent {
            req = req.header(header::USER_AGENT, ua.clone());
        }
        if let Some((given, c)) = self.credentials.as_deref() {
            if may_carry_credentials(given, url) {
                req = req.basic_auth(&c.username, c.password.as_deref());
            }
        }
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut levels = 0;
        let mut learned = Vec::new();
        loop {
            let attempt = req.try_clone().expect("a GET has no streaming body");
            let e = match attempt.send().await {
                Ok(resp) => {
                    // Said once: the next handshakes verify without AIA.
                    for (aia, subject) in learned {
                        tracing::info!(
                            url = %crate::config::redact_url(url.as_str()),
                            aia = %aia,
                            intermediate = %subject,
                            "The server does not send its intermediate certificate: learned it from the certificate's AIA URL"
                        );
                    }
                    return Ok(resp);
                }
                Err(e) => e,
            };
            let missing = match tls::missing_intermediate(&e) {
                Some(missing) if self.aia => missing,
                _ => return Err(FetchError::from_reqwest(e)),
            };
            if levels == MAX_AIA_LEVELS {
                return Err(FetchError::Tls(format!(
                    "{missing}: its AIA URLs were followed {MAX_AIA_LEVELS} intermediates up without reaching a trusted root"
                )));
            }
            levels += 1;
            learned.extend(self.learn_intermediate(&missing, allow_private).await?);
        }
    }

    /// Gets the intermediate certificate `missing` names from its AIA URLs
    /// (through this fetcher: same address guard, proxy and timeout, a
    /// certificate-sized body cap) and keeps it for every later handshake.
    /// Returns the URL and the subject of a certificate not kept before.
    async fn learn_intermediate(
        &self,
        missing: &chain::MissingIntermediate,
        allow_private: bool,
    ) -> Result<Option<(Url, String)>, FetchError> {
        let turn = self.verifier.intermediates.turn(&missing.urls[0]);
        let _turn = turn.lock().await;
        if self.verifier.intermediates.has(missing) {
            return Ok(None);
        }
        let fetcher = Fetcher {
            accept: CERT_ACCEPT,
            heads_of_pages: false,
            max_body: chain::MAX_CERT_BODY,
            credentials: None,
            aia: false,
            ..self.clone()
        };
        let mut failure = None;
        for aia in &missing.urls {
            // Boxed: this future is part of `fetch`'s own.
            let fetched = Box::pin(fetcher.fetch(aia, &Validators::default(), allow_private)).await;
            let body = match fetched {
                Ok(fetched) => fetched.body.unwrap_or_default(),
                Err(e) => {
                    let refused = matches!(e, FetchError::Refused(_));
                    failure = Some((aia, e.to_string(), refused));
                    continue;
                }
            };
            match chain::issuer_from(&body, missing) {
                Ok((der, subject)) => {
                    let name = chain::subject_of(&der).unwrap_or_default();
                    let new = self.verifier.intermediates.insert(name, der);
                    return Ok(new.then(|| (aia.clone(), subject)));
                }
                Err(chain::Served::UntrustedRoot(root)) => {
                    return Err(FetchError::Tls(format!(
                        "invalid peer certificate: UnknownIssuer: the chain, completed from the AIA URL {aia}, ends at {root}, a root this machine does not trust"
                    )));
                }
                Err(e) => failure = Some((aia, e.to_string(), false)),
            }
        }
        let (aia, why, refused) = failure.expect("a MissingIntermediate names at least one URL");
        let message = format!("{missing}, and its AIA URL {aia} failed: {why}");
        Err(if refused {
            FetchError::Refused(message)
        } else {
            FetchError::Tls(message)
        })
    }
}

/// A plain GET against our own daemon (`feedwire status`), whole answer
/// within `timeout`.
pub async fn get_local(url: &Url, timeout: Duration) -> Result<Bytes, FetchError> {
    let mut body = Vec::new();
    tokio::time::timeout(
        timeout,
        get_local_streaming(url, |chunk| {
            body.extend_from_slice(chunk);
            true
        }),
    )
    .await
    .unwrap_or(Err(FetchError::Timeout))?;
    Ok(Bytes::from(body))
}

/// A streamed GET against our own daemon (`feedwire export`): each chunk
/// goes to `sink` until it returns false. No overall timeout: a dump of a
/// large store takes as long as it takes; connecting is bounded.
pub async fn get_local_streaming(url: &Url, mut sink: impl FnMut(&[u8]) -> bool) -> Result<(), FetchError> {
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls::client_config())
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
            wall: None,
        });
    }
    while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
        if !sink(&chunk) {
            break;
        }
    }
    Ok(())
}

/// Whether a request to `target` may carry the credentials given for the
/// feed URL `given`: the same host and port, or the same host moved from
/// `http` to `https` on the default ports. A redirect to another host, or
/// down to plain `http`, must not hand the password on.
pub fn may_carry_credentials(given: &Url, target: &Url) -> bool {
    if given.host_str() != target.host_str() {
        return false;
    }
    match (given.scheme(), target.scheme()) {
        (a, b) if a == b => given.port_or_known_default() == target.port_or_known_default(),
        ("http", "https") => given.port().is_none() && target.port().is_none(),
        _ => false,
    }
}

/// The bot protection an error answer came from, told by the headers its
/// vendor documents: an operator then knows the feed is not broken but
/// refused, and what to try. Only on error statuses.
fn bot_wall(headers: &HeaderMap) -> Option<&'static str> {
    let has = |name: &str| headers.contains_key(name);
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let server = value("server");
    if value("cf-mitigated") == "challenge" {
        Some("Cloudflare's bot challenge")
    } else if has("x-amzn-waf-action") {
        Some("AWS WAF's bot challenge")
    } else if has("x-datadome") || server.starts_with("datadome") {
        Some("DataDome's bot protection")
    } else if has("x-sucuri-block") {
        Some("Sucuri's firewall")
    } else if server == "cloudflare" {
        Some("Cloudflare's firewall")
    } else if server.starts_with("akamaighost") {
        Some("Akamai's firewall")
    } else {
        None
    }
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

    #[test]
    fn credentials_stay_with_their_host() {
        let url = |s: &str| Url::parse(s).unwrap();
        let given = url("http://news.example/feed");
        for (target, ok) in [
            ("http://news.example/moved", true),
            ("http://NEWS.example:80/x", true),
            ("https://news.example/feed", true),
            ("https://news.example:8443/feed", false),
            ("http://news.example:8080/feed", false),
            ("http://cdn.news.example/feed", false),
            ("https://other.example/feed", false),
        ] {
            assert_eq!(may_carry_credentials(&given, &url(target)), ok, "{target}");
        }
        let secure = url("https://أخبار.example/feed");
        assert!(may_carry_credentials(
            &secure,
            &url("https://xn--igbicxr.example/x")
        ));
        assert!(
            !may_carry_credentials(&secure, &url("http://أخبار.example/feed")),
            "never down to http"
        );
    }

    #[test]
    fn bot_walls_are_told_by_their_headers() {
        let wall = |pairs: &[(&'static str, &str)]| {
            let named: Vec<_> = pairs
                .iter()
                .map(|(k, v)| (header::HeaderName::from_static(k), *v))
                .collect();
            bot_wall(&headers(&named))
        };
        assert_eq!(
            wall(&[("cf-mitigated", "challenge"), ("server", "cloudflare")]),
            Some("Cloudflare's bot challenge")
        );
        assert_eq!(wall(&[("server", "cloudflare")]), Some("Cloudflare's firewall"));
        assert_eq!(
            wall(&[("x-amzn-waf-action", "captcha")]),
            Some("AWS WAF's bot challenge")
        );
        assert_eq!(
            wall(&[("x-datadome", "protected")]),
            Some("DataDome's bot protection")
        );
        assert_eq!(wall(&[("x-sucuri-block", "1")]), Some("Sucuri's firewall"));
        assert_eq!(wall(&[("server", "AkamaiGHost")]), Some("Akamai's firewall"));
        assert_eq!(wall(&[("server", "nginx")]), None);
        assert_eq!(wall(&[]), None);
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn private_addresses() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc12::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "ff02::1",
            "198.18.0.1",
        ];
        for ip in private {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
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
