//! The HTTP side: owns the listener and serves pre-rendered documents.
//!
//! A request never waits on upstream feeds or on the store: it reads the last
//! published [`Representation`] (bytes, validators) from memory, answers
//! `304` when the client's validators match, and serves the brotli or gzip
//! copy when the client accepts it. Rendering happens once per change, in
//! the app's renderer task; each compressed copy is made once per document,
//! by the first request that asks for it (see [`Representation`]), or ahead
//! of it, one at a time on a thread of its own, when subscribers asked for
//! that coding of the document since the previous publication (see
//! [`Published`]).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One document in the form it is served.
///
/// The gzip and brotli copies are made by the first request that asks for
/// each, and then kept with the document. A full-text backlog re-renders
/// about once a second for minutes, and most of those documents are
/// replaced before any subscriber fetches them: compressing every one at
/// render time was a fifth of the daemon's CPU during the backlog, and the
/// compressors' state (brotli's ~4.5 MB) and copies sat on top of every
/// render's peak (BENCHMARKS.md, Run 9: full-text memory). A document whose
/// body did not change keeps its copies across renders
/// ([`Representation::reuse`]).
#[derive(Debug)]
pub struct Representation {
    pub content_type: &'static str,
    pub body: Bytes,
    /// Strong ETag over the body (not the build time), quoted.
    pub etag: String,
    /// Newest item's first-seen time: when the document last gained content.
    pub last_modified: Option<DateTime<Utc>>,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Representation {
    pub fn new(content_type: &'static str, body: Vec<u8>, last_modified: Option<i64>) -> Representation {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex(&digest[..16]));
        Representation {
            content_type,
            body: Bytes::from(body),
            etag,
            last_modified: last_modified.and_then(|t| Utc.timestamp_opt(t, 0).single()),
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// `self`, unless `previous` is the same document (same type, body and
    /// Last-Modified): then `previous`, with the compressed copies it
    /// already made, and `self` is dropped.
    pub fn reuse(self, previous: Option<&Arc<Representation>>) -> Arc<Representation> {
        match previous {
            Some(p)
                if p.etag == self.etag
                    && p.content_type == self.content_type
                    && p.last_modified == self.last_modified
                    && p.body == self.body =>
            {
                p.clone()
            }
            _ => Arc::new(self),
        }
    }

    /// The gzip copy of the body, made on the first call. CPU-bound for a
    /// large document: call it off the async workers unless
    /// [`Self::copies`] says it is made.
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&self.body).expect("writing to a Vec cannot fail");
                Bytes::from(gz.finish().expect("writing to a Vec cannot fail"))
            })
            .clone()
    }

    /// The brotli copy of the body, made on the first call (see
    /// [`Self::gzip`]).
    pub fn brotli(&self) -> Bytes {
        self.brotli
            .get_or_init(|| {
                let mut br = Vec::new();
                {
                    // Quality 6, 1 MiB window: most of brotli's gain over
                    // gzip at a small fraction of quality 9's time and
                    // memory (measured in BENCHMARKS.md); it runs once per
                    // document, not per request.
                    let mut w = brotli::CompressorWriter::new(&mut br, 4096, 6, 20);
                    w.write_all(&self.body).expect("writing to a Vec cannot fail");
                }
                Bytes::from(br)
            })
            .clone()
    }

    /// The ETag of an encoded copy: a different representation needs a
    /// different strong validator.
    fn etag_for(&self, coding: Coding) -> String {
        match coding {
            Coding::Identity => self.etag.clone(),
            Coding::Gzip => format!("{}-gz\"", self.etag.trim_end_matches('"')),
            Coding::Brotli => format!("{}-br\"", self.etag.trim_end_matches('"')),
        }
    }

    fn body_for(&self, coding: Coding) -> Bytes {
        match coding {
            Coding::Identity => self.body.clone(),
            Coding::Gzip => self.gzip(),
            Coding::Brotli => self.brotli(),
        }
    }

    /// The content codings (`Content-Encoding` names) whose copy is made.
    pub fn copies(&self) -> Vec<&'static str> {
        [Coding::Gzip, Coding::Brotli]
            .into_iter()
            .filter(|c| self.has(*c))
            .filter_map(Coding::header)
            .collect()
    }

    /// True when the copy in `coding` exists (identity always does).
    fn has(&self, coding: Coding) -> bool {
        match coding {
            Coding::Identity => true,
            Coding::Gzip => self.gzip.get().is_some(),
            Coding::Brotli => self.brotli.get().is_some(),
        }
    }
}

/// The content codings we serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// Its bit in [`Published`]'s notes of what was asked for.
    fn bit(self) -> u8 {
        match self {
            Coding::Identity => 0,
            Coding::Gzip => 1,
            Coding::Brotli => 2,
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// Makes compressed copies ahead of requests (see [`Published`]): one
/// thread, started with the first batch, that makes one copy at a time, so
/// that the renderer and the async workers never wait on it and at most
/// one compressor's state exists at once. A document replaced before its
/// turn (and no longer served to anyone) is passed over: the job holds it
/// weakly.
#[derive(Default)]
struct Warmer {
    queue: OnceLock<std::sync::mpsc::Sender<Vec<WarmJob>>>,
    /// Batches done, for tests.
    done: Arc<watch::Sender<u64>>,
}

type WarmJob = (std::sync::Weak<Representation>, Coding);

impl Warmer {
    fn queue(&self, jobs: Vec<WarmJob>) {
        let queue = self.queue.get_or_init(|| {
            let (queue, batches) = std::sync::mpsc::channel::<Vec<WarmJob>>();
            let done = self.done.clone();
            let spawned = std::thread::Builder::new()
                .name("compress".into())
                .spawn(move || {
                    for jobs in batches {
                        for (doc, coding) in jobs {
                            if let Some(doc) = doc.upgrade() {
                                doc.body_for(coding);
                            }
                        }
                        // The compressor's state (brotli's ~4.5 MB) is
                        // free; its pages go back, as after a render.
                        crate::memory::release();
                        done.send_modify(|n| *n += 1);
                    }
                });
            if let Err(e) = spawned {
                // Requests still make each copy themselves.
                tracing::warn!(error = %e, "Cannot start the compression thread.");
            }
            queue
        });
        let _ = queue.send(jobs);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the server publishes, swapped whole by the renderer.
///
/// A `std` lock, not a tokio one: it is held only to clone an `Arc`, never
/// across an `.await`.
///
/// Compressed copies ahead of requests: each request in a coding notes
/// the document's name and that coding ([`Published::asked`]); a
/// publication takes those notes and has the copies of the new documents
/// under those names made on the [`Warmer`]'s thread, so that the first
/// subscriber after a render no longer waits for brotli (BENCHMARKS.md,
/// Run 14: tens of milliseconds for a 1,000-item Arabic listing). Only
/// what was asked for since the previous publication is made: during a
/// full-text backlog the daemon renders about once a second, and making
/// every render's copies was a fifth of its CPU (Run 9); this way the
/// copies made ahead are at most one per request, as on demand. A request
/// that arrives while its copy is being made waits on it (the same
/// `OnceLock`), as before.
pub struct Published {
    docs: RwLock<Arc<HashMap<String, Arc<Representation>>>>,
    /// Counts publications, so that tests and the readiness logic can wait
    /// for a render instead of guessing.
    generation: watch::Sender<u64>,
    /// Document names with the codings asked for since the last
    /// publication (bit per [`Coding::bit`]).
    asked: std::sync::Mutex<HashMap<String, u8>>,
    warmer: Warmer,
}

impl Default for Published {
    fn default() -> Published {
        Published {
            docs: RwLock::default(),
            generation: watch::Sender::new(0),
            asked: std::sync::Mutex::default(),
            warmer: Warmer::default(),
        }
    }
}

impl Published {
    /// Replaces the served documents, keyed by path without the slash
    /// (`politics.rss`), and queues the compressed copies subscribers
    /// asked for since the last publication, of the documents that do not
    /// have them yet. Never waits for them. A document kept from the last
    /// render has its copies; what was asked of it stays noted for the
    /// render that changes it.
    pub fn publish(&self, docs: HashMap<String, Arc<Representation>>) {
        let mut jobs = Vec::new();
        self.asked.lock().expect("lock poisoned").retain(|name, codings| {
            let Some(doc) = docs.get(name) else { return false };
            for coding in [Coding::Brotli, Coding::Gzip] {
                if *codings & coding.bit() != 0 && !doc.has(coding) {
                    jobs.push((Arc::downgrade(doc), coding));
                    *codings &= !coding.bit();
                }
            }
            *codings != 0
        });
        *self.docs.write().expect("lock poisoned") = Arc::new(docs);
        self.generation.send_modify(|g| *g += 1);
        if !jobs.is_empty() {
            self.warmer.queue(jobs);
        }
    }

    /// Notes that a subscriber asked for `name` in `coding`.
    fn asked(&self, name: &str, coding: Coding) {
        if coding == Coding::Identity {
            return;
        }
        let mut asked = self.asked.lock().expect("lock poisoned");
        match asked.get_mut(name) {
            Some(codings) => *codings |= coding.bit(),
            None => {
                asked.insert(name.to_owned(), coding.bit());
            }
        }
    }

    /// A receiver of the number of batches of copies made ahead (see
    /// [`Published`]), for tests to wait on.
    pub fn subscribe_warmed(&self) -> watch::Receiver<u64> {
        self.warmer.done.subscribe()
    }

    /// A receiver of the publication count (1 after the start-up render).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Representation>> {
        self.docs.read().expect("lock poisoned").get(name).cloned()
    }
}

/// What the daemon tells about itself, beyond the documents.
pub trait Introspect: Send + Sync + 'static {
    /// `Err` with a short reason when the daemon is not healthy.
    fn health(&self) -> Result<(), String>;
    /// `Err` with a reason until the daemon can serve what it should
    /// (`/readyz`): healthy, and at least one poll round done.
    fn ready(&self) -> Result<(), String>;
    /// The JSON array served as `/status.json`. May read the store, so the
    /// server calls it off the async workers.
    fn status_json(&self) -> Vec<u8>;
    /// `/status.json?state=..&offset=..&limit=..`: the same objects, only
    /// those the query selects. By default filters [`Self::status_json`].
    fn status_json_query(&self, query: &crate::status::StatusQuery) -> Vec<u8> {
        let all: Vec<crate::status::FeedStatus> =
            serde_json::from_slice(&self.status_json()).expect("status parses back");
        serde_json::to_vec_pretty(&query.apply(all)).expect("status serialises")
    }
    /// `Cache-Control: max-age` of the documents, in seconds.
    fn max_age(&self) -> u64;
    /// The Prometheus exposition (`/metrics`). May read the store.
    fn metrics_text(&self) -> String;
    /// The operator's status page (`/`). May read the store.
    fn status_page(&self) -> String;
    /// Counts one answered request.
    fn count_request(&self, route: &'static str, status: u16);
    /// Streams every stored item as JSON lines (`/export.jsonl`), in chunks
    /// to `sink` until it returns false. Reads the store.
    fn export_jsonl(&self, sink: &mut dyn FnMut(Vec<u8>) -> bool);
    /// The fleet's nodes as JSON (`/fleet.json`); None (404) without a
    /// shared store. Reads the store.
    fn fleet_json(&self) -> Option<Vec<u8>> {
        None
    }
}

#[derive(Clone)]
struct AppState {
    published: Arc<Published>,
    introspect: Arc<dyn Introspect>,
}

/// The router, separate from the listener so tests can drive it directly.
pub fn router(published: Arc<Published>, introspect: Arc<dyn Introspect>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status.json", get(status))
        .route("/fleet.json", get(fleet))
        .route("/metrics", get(metrics))
        .route("/export.jsonl", get(export))
        .route("/", get(index))
        .route("/{file}", get(document))
        .route("/{output}/clusters.json", get(document))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            introspect.clone(),
            count_requests,
        ))
        .with_state(AppState {
            published,
            introspect,
        })
}

/// Binds the listener (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `cancel` fires, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, router: Router, cancel: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
}

/// Counts every answer by route kind and status, for `/metrics`.
async fn count_requests(
    State(introspect): State<Arc<dyn Introspect>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = match req.uri().path() {
        "/" => "page",
        "/healthz" | "/readyz" => "health",
        "/status.json" => "status",
        "/metrics" => "metrics",
        "/export.jsonl" => "export",
        p if p.ends_with("/clusters.json") => "clusters",
        _ => "document",
    };
    let resp = next.run(req).await;
    let route = if resp.status() == StatusCode::NOT_FOUND {
        "other"
    } else {
        route
    };
    introspect.count_request(route, resp.status().as_u16());
    resp
}

async fn export(State(state): State<AppState>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let introspect = state.introspect.clone();
    // The store is read on a blocking thread; chunks flow through a small
    // channel, so a large store is never held in memory whole.
    tokio::task::spawn_blocking(move || {
        introspect.export_jsonl(&mut |chunk| tx.blocking_send(chunk).is_ok())
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(Bytes::from(chunk)), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let introspect = state.introspect.clone();
    match tokio::task::spawn_blocking(move || introspect.metrics_text()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response(),
    }
}

async fn index(State(state): State<AppState>) -> Response {
    let introspect = state.introspect.clone();
    match tokio::task::spawn_blocking(move || introspect.status_page()).await {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "status unavailable\n").into_response(),
    }
}

async fn status(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<crate::status::StatusQuery>,
) -> Response {
    let introspect = state.introspect.clone();
    let json = move || match query.is_all() {
        true => introspect.status_json(),
        false => introspect.status_json_query(&query),
    };
    match tokio::task::spawn_blocking(json).await {
        Ok(json) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            json,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "status unavailable\n").into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let introspect = state.introspect.clone();
    match tokio::task::spawn_blocking(move || introspect.ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(why)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response(),
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    // Health may read the store (a database round trip): off the workers.
    let introspect = state.introspect.clone();
    match tokio::task::spawn_blocking(move || introspect.health()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(why)) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {why}\n")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n").into_response(),
    }
}

/// `GET /fleet.json`: the nodes sharing this node's store.
async fn fleet(State(state): State<AppState>) -> Response {
    let introspect = state.introspect.clone();
    match tokio::task::spawn_blocking(move || introspect.fleet_json()).await {
        Ok(Some(json)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            json,
        )
            .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "no fleet: this node has its own store (sled)\n",
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "fleet status unavailable\n").into_response(),
    }
}

/// `GET /{output}.rss` (`.atom`, `.json`) and `GET /{output}/clusters.json`:
/// a published document, named by the request path percent-decoded and in
/// NFC, as output names are (`config::name`): an Arabic output answers at
/// `/%D8%B3...rss`, at its NFD spelling's encoding and at the decoded path.
/// A path that does not decode (bad escapes, not UTF-8) names nothing:
/// `404`, not axum's `400` for a path parameter it cannot decode.
async fn document(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let Some((file, doc)) = crate::config::name::from_url_path(uri.path())
        .and_then(|file| state.published.get(&file).map(|doc| (file, doc)))
    else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let coding = negotiate(&headers);
    state.published.asked(&file, coding);
    let etag = doc.etag_for(coding);

    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(doc.content_type));
    resp_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag is a valid header"),
    );
    resp_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    // Web-based readers fetch feeds from other origins.
    resp_headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={}", state.introspect.max_age()))
            .expect("valid header"),
    );
    if let Some(lm) = doc.last_modified {
        let v = lm.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        resp_headers.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_str(&v).expect("valid header"),
        );
    }

    if not_modified(&headers, &doc, &etag) {
        return (StatusCode::NOT_MODIFIED, resp_headers).into_response();
    }
    if let Some(name) = coding.header() {
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    let body = if doc.has(coding) {
        doc.body_for(coding)
    } else {
        // The first request for this copy makes it, off the async workers;
        // requests for it meanwhile wait on the same `OnceLock`.
        let doc = doc.clone();
        match tokio::task::spawn_blocking(move || doc.body_for(coding)).await {
            Ok(body) => body,
            Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "compression failed\n").into_response(),
        }
    };
    (StatusCode::OK, resp_headers, body).into_response()
}

/// RFC 9110 section 13.1: `If-None-Match` wins over `If-Modified-Since`; the
/// comparison for `If-None-Match` is weak, so `W/"x"` matches `"x"`.
fn not_modified(headers: &HeaderMap, doc: &Representation, etag: &str) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.trim_start_matches("W/") == etag || tag.trim_start_matches("W/") == doc.etag
        });
    }
    if let (Some(ims), Some(lm)) = (
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok()),
        doc.last_modified,
    ) {
        if let Ok(since) = DateTime::parse_from_rfc2822(ims) {
            return lm.timestamp() <= since.timestamp();
        }
    }
    false
}

/// Picks brotli, then gzip, then identity, by what `Accept-Encoding` allows
/// (a coding or `*` with a non-zero quality).
fn negotiate(headers: &HeaderMap) -> Coding {
    let mut accepted: Vec<(String, bool)> = Vec::new();
    for coding in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q_zero = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        accepted.push((name, !q_zero));
    }
    let allows = |name: &str| match accepted.iter().find(|(n, _)| n == name) {
        Some((_, ok)) => *ok,
        None => accepted.iter().any(|(n, ok)| n == "*" && *ok),
    };
    if allows("br") {
        Coding::Brotli
    } else if allows("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn coding_negotiation() {
        let n = |v: &str| negotiate(&h(&[(header::ACCEPT_ENCODING, v)]));
        assert_eq!(n("gzip, deflate, br"), Coding::Brotli);
        assert_eq!(n("br;q=0, GZIP;q=0.5"), Coding::Gzip);
        assert_eq!(n("gzip;q=0"), Coding::Identity);
        assert_eq!(n("identity"), Coding::Identity);
        assert_eq!(n("*"), Coding::Brotli);
        assert_eq!(n("*, br;q=0"), Coding::Gzip);
        assert_eq!(negotiate(&h(&[])), Coding::Identity);
    }

    #[test]
    fn a_document_is_reused_only_when_it_is_the_same() {
        let body = "<rss><title>البرلمان يصوّت</title></rss>";
        let served = Arc::new(Representation::new("application/rss+xml", body.into(), Some(1)));
        let gz = served.gzip();
        let same = Representation::new("application/rss+xml", body.into(), Some(1)).reuse(Some(&served));
        assert!(Arc::ptr_eq(&same, &served));
        assert_eq!(same.gzip().as_ptr(), gz.as_ptr(), "the copy is made once");
        let fresh = |body: &str, lm| Representation::new("application/rss+xml", body.into(), lm);
        for other in [
            fresh(&body.replace("يصوّت", "يصوت"), Some(1)),
            fresh(body, Some(2)),
            fresh(body, None),
            Representation::new("application/atom+xml", body.into(), Some(1)),
        ] {
            assert!(!Arc::ptr_eq(&other.reuse(Some(&served)), &served));
        }
        assert!(!fresh(body, Some(1)).has(Coding::Brotli));
    }

    #[test]
    fn conditional_requests() {
        let doc = Representation::new("application/rss+xml", "<rss/>".into(), Some(1_700_000_000));
        let etag = doc.etag.clone();
        assert!(not_modified(&h(&[(header::IF_NONE_MATCH, &etag)]), &doc, &etag));
        assert!(not_modified(
            &h(&[(header::IF_NONE_MATCH, &format!("\"a\", W/{etag}"))]),
            &doc,
            &etag
        ));
        assert!(!not_modified(
            &h(&[(header::IF_NONE_MATCH, "\"other\"")]),
            &doc,
            &etag
        ));
        let lm = "Tue, 14 Nov 2023 22:13:20 GMT";
        assert!(not_modified(&h(&[(header::IF_MODIFIED_SINCE, lm)]), &doc, &etag));
        assert!(!not_modified(
            &h(&[(header::IF_MODIFIED_SINCE, "Tue, 14 Nov 2023 22:13:19 GMT")]),
            &doc,
            &etag
        ));
        // If-None-Match decides when both are present.
        assert!(!not_modified(
            &h(&[
                (header::IF_NONE_MATCH, "\"other\""),
                (header::IF_MODIFIED_SINCE, lm)
            ]),
            &doc,
            &etag
        ));
    }
}
