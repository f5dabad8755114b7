//! Shared helpers: a scriptable feed server on 127.0.0.1:0, temp configs,
//! an HTTP client, and the real `feedwire` binary as a child process.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Semaphore};
use tokio_util::io::ReaderStream;

/// Bound on every wait in the tests: long enough for a slow CI machine
/// (a debug build parsing the 100,000-item hostile document took over 30 s
/// on a 2-core machine at load 25, 11 s alone), short enough that a hang
/// fails the test instead of the CI run. Nothing waits for it to expire.
pub const WAIT: Duration = Duration::from_secs(120);

pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    /// Sent as `Content-Type` unless empty.
    pub content_type: String,
    pub body: Vec<u8>,
    /// Sent as `ETag`; a request whose `If-None-Match` matches gets 304.
    pub etag: Option<String>,
    /// More response headers, sent as given (also on a 304): `Retry-After`,
    /// `Cache-Control`, `Expires`, `Date`, `Location`, `Content-Encoding`...
    pub headers: Vec<(String, String)>,
    /// How the body goes out.
    pub delivery: Delivery,
    /// Waits this long before answering (a slow upstream).
    pub delay: Option<Duration>,
}

/// How a route sends its body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// In one piece, with `Content-Length`.
    #[default]
    Whole,
    /// In 4 KiB chunks with `Transfer-Encoding: chunked`, no `Content-Length`.
    Chunked,
    /// Chunked, one byte of the body per period: a stalled upstream.
    Drip(Duration),
    /// Chunked and never ending: the body repeated forever (64 KiB of
    /// spaces if empty). Bytes sent are counted ([`FeedServer::endless_sent`]).
    Endless,
    /// Exactly this many bytes, announced in `Content-Length`: the body
    /// repeated (64 KiB of spaces if empty) and streamed, so a 1 GiB answer
    /// costs the test no memory. Bytes sent are counted with `Endless`'s.
    Sized(u64),
    /// The request is read and never answered.
    Hang,
}

impl Default for Route {
    fn default() -> Route {
        Route {
            status: 200,
            content_type: String::new(),
            body: Vec::new(),
            etag: None,
            headers: Vec::new(),
            delivery: Delivery::Whole,
            delay: None,
        }
    }
}

impl Route {
    /// A 200 feed document with an ETag derived from its bytes.
    pub fn feed(body: Vec<u8>, content_type: &str) -> Route {
        let etag = format!("\"{:x}\"", fxhash(&body));
        Route {
            status: 200,
            content_type: content_type.to_owned(),
            body,
            etag: Some(etag),
            ..Route::default()
        }
    }

    /// A bare status (`500`, `410`, `429`...) with a short text body.
    pub fn status(status: u16) -> Route {
        Route {
            status,
            content_type: "text/plain".into(),
            body: format!("status {status}\n").into_bytes(),
            ..Route::default()
        }
    }

    /// A redirect (`301`, `302`, `307`, `308`) to `location`, sent as given
    /// (relative or absolute, any scheme).
    pub fn redirect(status: u16, location: &str) -> Route {
        Route::status(status).header("Location", location)
    }

    /// A pre-compressed body sent with `Content-Encoding: gzip` that inflates
    /// to `inflated` zero bytes.
    pub fn gzip_bomb(inflated: usize) -> Route {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        write_zeros(&mut gz, inflated);
        Route {
            content_type: "application/rss+xml".into(),
            body: gz.finish().unwrap(),
            ..Route::default()
        }
        .header("Content-Encoding", "gzip")
    }

    /// A pre-compressed body sent with `Content-Encoding: br` that inflates
    /// to `inflated` zero bytes.
    pub fn brotli_bomb(inflated: usize) -> Route {
        let mut br = brotli::CompressorWriter::new(Vec::new(), 64 * 1024, 5, 24);
        write_zeros(&mut br, inflated);
        Route {
            content_type: "application/rss+xml".into(),
            body: br.into_inner(),
            ..Route::default()
        }
        .header("Content-Encoding", "br")
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends no `ETag` (so the client cannot ask for a 304).
    pub fn no_etag(mut self) -> Route {
        self.etag = None;
        self
    }

    pub fn delivery(mut self, delivery: Delivery) -> Route {
        self.delivery = delivery;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = Some(delay);
        self
    }
}

/// A time as an HTTP date (`Date`, `Expires`, `Retry-After`).
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn fxhash(bytes: &[u8]) -> u64 {
    // FNV-1a: enough to give each fixture its own ETag.
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub path: String,
    /// The query, without its `?` (`paged=2`), if any.
    pub query: Option<String>,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
    pub authorization: Option<String>,
    /// The `Host` header without its port.
    pub host: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

struct ServerState {
    routes: Mutex<HashMap<String, Route>>,
    seen: Mutex<Vec<SeenRequest>>,
    /// `false` holds every response until it turns `true` ...
    open: Option<watch::Sender<bool>>,
    /// ... or until it gets one of these passes ([`FeedServer::release_one`]).
    passes: Semaphore,
    flights: Mutex<Flights>,
    /// Requests being handled now, all paths together, to wait on.
    in_flight: watch::Sender<usize>,
    endless_sent: Arc<AtomicU64>,
    /// Requests arrived so far, to wait on.
    arrived: watch::Sender<usize>,
}

impl Default for ServerState {
    fn default() -> ServerState {
        ServerState {
            routes: Mutex::default(),
            seen: Mutex::default(),
            open: Some(watch::Sender::new(true)),
            passes: Semaphore::new(0),
            flights: Mutex::default(),
            in_flight: watch::Sender::new(0),
            endless_sent: Arc::default(),
            arrived: watch::Sender::new(0),
        }
    }
}

/// Requests in flight (arrived, not yet answered) per path and per host,
/// and the most seen at once. Paths start with `/`, hosts do not.
#[derive(Default)]
struct Flights {
    now: HashMap<String, usize>,
    max: HashMap<String, usize>,
    total_max: usize,
}

/// Counts one request in flight until dropped (answered, or abandoned by
/// the client).
struct InFlight {
    state: Arc<ServerState>,
    keys: [String; 2],
}

impl InFlight {
    fn enter(state: &Arc<ServerState>, path: &str, host: &str) -> InFlight {
        let keys = [path.to_owned(), host.to_owned()];
        let mut f = state.flights.lock().unwrap();
        for k in &keys {
            let now = f.now.entry(k.clone()).or_default();
            *now += 1;
            let now = *now;
            let max = f.max.entry(k.clone()).or_default();
            *max = (*max).max(now);
        }
        state.in_flight.send_modify(|n| *n += 1);
        f.total_max = f.total_max.max(*state.in_flight.borrow());
        InFlight {
            state: state.clone(),
            keys,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut f = self.state.flights.lock().unwrap();
        for k in &self.keys {
            *f.now.get_mut(k).unwrap() -= 1;
        }
        self.state.in_flight.send_modify(|n| *n -= 1);
    }
}

/// A feed server on 127.0.0.1 with a free port.
///
/// Each path answers with its [`Route`] (404 when none is set). Every
/// request is logged ([`FeedServer::requests`]) and counted in flight while
/// its handler runs, which includes the time it is held by
/// [`FeedServer::hold`] or hangs ([`Delivery::Hang`]); a streamed body
/// ([`Delivery::Chunked`], `Drip`, `Endless`) is written after the handler
/// returned, so it is not counted.
pub struct FeedServer {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let state = Arc::new(ServerState::default());
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FeedServer { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.state.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    /// Sets a route and returns its URL.
    pub fn route(&self, path: &str, route: Route) -> String {
        self.set(path, route);
        self.url(path)
    }

    pub fn serve_fixture(&self, path: &str, fixture_name: &str, content_type: &str) -> String {
        self.set(path, Route::feed(fixture(fixture_name), content_type));
        self.url(path)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The requests for `path` so far, in the order they arrived.
    pub fn requests_for(&self, path: &str) -> Vec<SeenRequest> {
        let seen = self.state.seen.lock().unwrap();
        seen.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// How many requests for `path` arrived so far.
    /// Waits, at most `bound`, until the request log satisfies `done`
    /// (checked on every arrival); panics naming `what` otherwise.
    pub async fn wait_for_requests(
        &self,
        what: &str,
        bound: Duration,
        done: impl Fn(&[SeenRequest]) -> bool,
    ) {
        let mut arrived = self.state.arrived.subscribe();
        let check = || done(&self.state.seen.lock().unwrap());
        let waited = tokio::time::timeout(bound, async {
            while !check() {
                arrived.changed().await.unwrap();
            }
        })
        .await;
        assert!(waited.is_ok(), "{what}: not within {bound:?}");
    }

    pub fn requests_to(&self, path: &str) -> usize {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Holds every response until [`FeedServer::release`] (or, one at a
    /// time, [`FeedServer::release_one`]).
    pub fn hold(&self) {
        self.state.open.as_ref().unwrap().send_replace(false);
    }

    pub fn release(&self) {
        self.state.open.as_ref().unwrap().send_replace(true);
    }

    /// Lets one held response (whichever takes it) go.
    pub fn release_one(&self) {
        self.state.passes.add_permits(1);
    }

    /// Requests in flight right now, all paths together.
    pub fn in_flight(&self) -> usize {
        *self.state.in_flight.borrow()
    }

    /// Waits (unbounded: wrap it in a timeout) until at least `n` requests
    /// are in flight at once.
    pub async fn wait_in_flight(&self, n: usize) {
        let mut rx = self.state.in_flight.subscribe();
        let _ = rx.wait_for(|now| *now >= n).await;
    }

    /// The most requests seen in flight at once, all paths together.
    pub fn max_in_flight(&self) -> usize {
        self.state.flights.lock().unwrap().total_max
    }

    /// The most requests seen in flight at once for one path (`/a.xml`) or
    /// one host (`127.0.0.1`).
    pub fn max_in_flight_on(&self, path_or_host: &str) -> usize {
        let f = self.state.flights.lock().unwrap();
        f.max.get(path_or_host).copied().unwrap_or(0)
    }

    /// Bytes written so far by [`Delivery::Endless`] and [`Delivery::Sized`]
    /// routes.
    pub fn endless_sent(&self) -> u64 {
        self.state.endless_sent.load(Ordering::Relaxed)
    }
}

async fn answer(State(state): State<Arc<ServerState>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let headers = req.headers().clone();
    // `Request` is not `Sync`: keep only owned data across the await below.
    drop(req);
    let header =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let if_none_match = header(header::IF_NONE_MATCH);
    let host = header(header::HOST).unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h).to_owned();
    let _in_flight = InFlight::enter(&state, &path, &host);
    state.seen.lock().unwrap().push(SeenRequest {
        path: path.clone(),
        query: query.clone(),
        if_none_match: if_none_match.clone(),
        user_agent: header(header::USER_AGENT),
        authorization: header(header::AUTHORIZATION),
        host: host.clone(),
        at: std::time::Instant::now(),
    });
    state.arrived.send_modify(|n| *n += 1);
    let mut open = state.open.as_ref().unwrap().subscribe();
    tokio::select! {
        _ = open.wait_for(|o| *o) => {}
        pass = state.passes.acquire() => pass.unwrap().forget(),
    }

    // A route set for `path?query` answers that query only (a WordPress
    // feed's `?paged=2`); else the path's route answers any query.
    let route = {
        let routes = state.routes.lock().unwrap();
        query
            .as_ref()
            .and_then(|q| routes.get(&format!("{path}?{q}")))
            .or_else(|| routes.get(&path))
            .cloned()
    };
    let Some(route) = route else {
        return (StatusCode::NOT_FOUND, "no such feed").into_response();
    };
    if let Some(delay) = route.delay {
        tokio::time::sleep(delay).await;
    }
    if route.delivery == Delivery::Hang {
        return std::future::pending().await;
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &route.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    if let Some(etag) = &route.etag {
        headers.insert(header::ETAG, HeaderValue::from_str(etag).unwrap());
        if if_none_match.as_deref() == Some(etag.as_str()) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
    }
    if !route.content_type.is_empty() {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&route.content_type).unwrap(),
        );
    }
    let status = StatusCode::from_u16(route.status).unwrap();
    let body = match route.delivery {
        Delivery::Whole => Body::from(route.body),
        Delivery::Chunked => Body::from_stream(ReaderStream::new(std::io::Cursor::new(route.body))),
        Delivery::Drip(every) => {
            let (mut tx, rx) = tokio::io::duplex(64);
            tokio::spawn(async move {
                for b in route.body {
                    // Ends when the client hangs up.
                    if tx.write_all(&[b]).await.is_err() || tx.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
            });
            Body::from_stream(ReaderStream::new(rx))
        }
        Delivery::Endless => {
            let (mut tx, rx) = tokio::io::duplex(64 * 1024);
            let block = if route.body.is_empty() {
                vec![b' '; 64 * 1024]
            } else {
                route.body
            };
            let sent = state.endless_sent.clone();
            tokio::spawn(async move {
                while tx.write_all(&block).await.is_ok() {
                    sent.fetch_add(block.len() as u64, Ordering::Relaxed);
                }
            });
            Body::from_stream(ReaderStream::new(rx))
        }
        Delivery::Sized(len) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let (mut tx, rx) = tokio::io::duplex(64 * 1024);
            let block = if route.body.is_empty() {
                vec![b' '; 64 * 1024]
            } else {
                route.body
            };
            let sent = state.endless_sent.clone();
            tokio::spawn(async move {
                let mut left = len;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    if tx.write_all(&block[..n]).await.is_err() {
                        return;
                    }
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    left -= n as u64;
                }
            });
            Body::from_stream(ReaderStream::new(rx))
        }
        Delivery::Hang => unreachable!("handled above"),
    };
    (status, headers, body).into_response()
}

/// One `[[feed]]` entry of a test config.
pub struct FeedEntry<'a> {
    pub name: &'a str,
    pub url: String,
    pub tags: &'a [&'a str],
}

/// Writes a config listening on a free port with its store in `dir/data`.
/// The fixture feeds date their items in November 2025: keep them however
/// far the machine's clock (or a test's clock) has moved on since.
pub const FIXTURE_STORAGE: &str = "[storage]\nretention = \"36500d\"\nseen_retention = \"36500d\"\n\n";

pub fn write_config(dir: &Path, feeds: &[FeedEntry<'_>]) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n{FIXTURE_STORAGE}[poll]\ninterval = \"15m\"\ntimeout = \"10s\"\nfirst_poll_spread = \"0s\"\n# The feed server is on 127.0.0.1.\nallow_private_networks = true\n\n\
         [[output]]\nname = \"politics\"\ntitle = \"سياسة\"\nlanguage = \"ar\"\nmax_items = 50\ntags = [\"politics\"]\n\n",
    );
    for f in feeds {
        let tags: Vec<String> = f.tags.iter().map(|t| format!("{t:?}")).collect();
        text.push_str(&format!(
            "[[feed]]\nurl = {:?}\nname = {:?}\ntags = [{}]\n\n",
            f.url,
            f.name,
            tags.join(", ")
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A test config built key by key: one `politics` output selecting every
/// feed, the store in `dir/data`, and `[poll]` defaults that suit tests
/// (`interval = "15m"`, `timeout = "10s"`, `first_poll_spread = "0s"`),
/// each replaceable with [`TestConfig::poll`].
#[derive(Clone, Debug)]
pub struct TestConfig {
    listen: String,
    /// `[storage] path`; `dir/data` when unset.
    store: Option<PathBuf>,
    /// `[storage] retention`; [`FIXTURE_STORAGE`]'s when unset.
    retention: Option<String>,
    poll: Vec<(String, String)>,
    feeds: Vec<String>,
}

impl Default for TestConfig {
    fn default() -> TestConfig {
        TestConfig {
            listen: "127.0.0.1:0".into(),
            store: None,
            retention: None,
            poll: vec![
                ("interval".into(), "\"15m\"".into()),
                ("timeout".into(), "\"10s\"".into()),
                ("first_poll_spread".into(), "\"0s\"".into()),
            ],
            feeds: Vec::new(),
        }
    }
}

impl TestConfig {
    pub fn new() -> TestConfig {
        TestConfig::default()
    }

    pub fn listen(mut self, addr: SocketAddr) -> TestConfig {
        self.listen = addr.to_string();
        self
    }

    /// Puts the store at `path` instead of `dir/data`.
    pub fn store_at(mut self, path: &Path) -> TestConfig {
        self.store = Some(path.to_owned());
        self
    }

    /// Sets `[storage] retention` (e.g. `"30d"`) instead of the fixtures'
    /// 100 years.
    pub fn retention(mut self, retention: &str) -> TestConfig {
        self.retention = Some(retention.to_owned());
        self
    }

    /// Sets a `[poll]` key; `value` is TOML (`"\"10m\""`, `"2"`).
    pub fn poll(mut self, key: &str, value: &str) -> TestConfig {
        self.poll.retain(|(k, _)| k != key);
        self.poll.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn feed(mut self, name: &str, url: &str) -> TestConfig {
        self.feeds.push(format!(
            "[[feed]]\nurl = {url:?}\nname = {name:?}\ntags = [\"politics\"]\n"
        ));
        self
    }

    /// A feed with more `[[feed]]` keys, each value TOML
    /// (`("allow_private_networks", "false")`).
    pub fn feed_with(mut self, name: &str, url: &str, keys: &[(&str, &str)]) -> TestConfig {
        let mut entry = format!("[[feed]]\nurl = {url:?}\nname = {name:?}\ntags = [\"politics\"]\n");
        for (k, v) in keys {
            entry.push_str(&format!("{k} = {v}\n"));
        }
        self.feeds.push(entry);
        self
    }

    /// A feed with its own `interval` (e.g. `"1m"`).
    pub fn feed_every(mut self, name: &str, url: &str, interval: &str) -> TestConfig {
        self.feeds.push(format!(
            "[[feed]]\nurl = {url:?}\nname = {name:?}\ntags = [\"politics\"]\ninterval = {interval:?}\n"
        ));
        self
    }

    /// Writes `dir/feeds.toml` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let mut storage = match &self.store {
            Some(path) => {
                FIXTURE_STORAGE.replacen("[storage]\n", &format!("[storage]\npath = {path:?}\n"), 1)
            }
            None => FIXTURE_STORAGE.to_owned(),
        };
        if let Some(retention) = &self.retention {
            storage = storage.replacen("retention = \"36500d\"", &format!("retention = {retention:?}"), 1);
        }
        let mut text = format!(
            "[server]\nlisten = {:?}\nbase_url = \"http://feeds.test/\"\n\n{storage}[poll]\nallow_private_networks = true\n",
            self.listen
        );
        for (k, v) in &self.poll {
            text.push_str(&format!("{k} = {v}\n"));
        }
        text.push_str("\n[[output]]\nname = \"politics\"\ntags = [\"politics\"]\n\n");
        text.push_str(&self.feeds.join("\n"));
        let path = dir.join("feeds.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes the config and loads it.
    pub fn load(&self, dir: &Path) -> feedwire::config::Config {
        load_config(&self.write(dir))
    }
}

/// The five fixture feeds served at fixed paths; returns their entries.
pub fn serve_all_fixtures(server: &FeedServer) -> Vec<FeedEntry<'static>> {
    vec![
        FeedEntry {
            name: "الجزيرة نت",
            url: server.serve_fixture("/aj.xml", "aljazeera_rss2.xml", "application/rss+xml"),
            tags: &["politics", "ar"],
        },
        FeedEntry {
            name: "Example News",
            url: server.serve_fixture(
                "/atom.xml",
                "example_atom.xml",
                "application/atom+xml; charset=utf-8",
            ),
            tags: &["politics", "en"],
        },
        FeedEntry {
            name: "RDF Wire",
            url: server.serve_fixture("/rdf.xml", "wire_rdf.xml", "application/rdf+xml"),
            tags: &["politics"],
        },
        FeedEntry {
            name: "اليوم السابع",
            url: server.serve_fixture("/youm7.xml", "youm7_cp1256.xml", "text/xml"),
            tags: &["politics", "ar"],
        },
        FeedEntry {
            name: "Broken",
            url: server.serve_fixture("/broken.xml", "broken.xml", "application/rss+xml"),
            tags: &["politics"],
        },
    ]
}

pub fn load_config(path: &Path) -> feedwire::config::Config {
    feedwire::config::Config::load(path).unwrap()
}

/// A port on 127.0.0.1 free a moment ago, for a daemon that must be found
/// at a known address (`feedwire export`, `feedwire status`).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// An HTTP client for talking to feedwire; it does not decompress, so tests
/// see exactly what was sent.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// The body of a GET of `url`, as text (status not checked).
pub async fn get_text(url: &str) -> String {
    http_client().get(url).send().await.unwrap().text().await.unwrap()
}

/// The body of a GET of `url` (status not checked).
pub async fn get_bytes(url: &str) -> bytes::Bytes {
    http_client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

/// Parses a served document with feed-rs and returns (ids, titles).
pub fn entries_of(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let feed = feed_rs::parser::parse(bytes).expect("output parses with feed-rs");
    let ids = feed.entries.iter().map(|e| e.id.clone()).collect();
    let titles = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().map(|t| t.content.clone()).unwrap_or_default())
        .collect();
    (ids, titles)
}

/// The real `feedwire` binary, with its stderr read line by line.
pub struct Binary {
    /// `None` once waited for.
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    pub fn command() -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwire"));
        cmd.env("RUST_LOG", "info").env_remove("FEEDWIRE_CONFIG");
        cmd
    }

    /// Runs a one-shot command (`check`, `poll-once`, `export`...) to the
    /// end: `args`, then `paths`.
    pub fn cli(args: &[&str], paths: &[&Path]) -> std::process::Output {
        Binary::command()
            .args(args)
            .args(paths)
            .output()
            .expect("running feedwire")
    }

    /// Starts `feedwire run --config PATH`.
    pub fn run(config: &Path) -> Binary {
        Binary::run_with_env(config, &[])
    }

    /// Starts `feedwire run --config PATH` with extra environment variables.
    pub fn run_with_env(config: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Binary {
        let mut cmd = Binary::command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["run", "--config"]).arg(config);
        Binary::spawn(cmd)
    }

    /// Starts a prepared command (feedwire, or a wrapper that starts it).
    pub fn spawn(mut cmd: Command) -> Binary {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting feedwire");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Binary {
            child: Some(child),
            lines,
            log,
        }
    }

    /// Waits (bounded) for a log line containing `needle` and returns it.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no log line with {needle:?}; log so far:\n{}",
                    self.log.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Waits up to `within` for a log line containing `needle`: `None` if
    /// none came (for an event that a bug can hold back for good).
    pub fn line_within(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits for the `Listening.` line and returns the bound address.
    pub fn wait_listening(&self) -> SocketAddr {
        let line = self.wait_for_line("Listening.");
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        addr.parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("not waited for").id()
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait(mut self) -> ExitStatus {
        let (tx, rx) = mpsc::channel();
        let pid = self.pid();
        let mut child = self.child.take().expect("not waited for");
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(WAIT) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
                let log = self.log.lock().unwrap();
                let tail = &log[log.len().saturating_sub(30)..];
                panic!(
                    "feedwire (pid {pid}) did not exit within {WAIT:?}; last log lines:\n{}",
                    tail.join("\n")
                );
            }
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes `n` zero bytes a megabyte at a time (bomb bodies).
fn write_zeros(w: &mut impl Write, n: usize) {
    let block = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        w.write_all(&block[..k]).unwrap();
        left -= k;
    }
}

/// A fresh, empty PostgreSQL database for one test: its URL, created on the
/// server `FEEDWIRE_TEST_DATABASE_URL` names (`scripts/test-postgres` starts
/// a private one; CI always does). None, said plainly, when there is none;
/// with `FEEDWIRE_REQUIRE_POSTGRES=1` (CI) that is a failure instead.
pub async fn pg_database(test: &str) -> Option<String> {
    let Ok(admin) = std::env::var("FEEDWIRE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("FEEDWIRE_REQUIRE_POSTGRES").is_none_or(|v| v != "1"),
            "FEEDWIRE_REQUIRE_POSTGRES=1 but FEEDWIRE_TEST_DATABASE_URL is not set"
        );
        eprintln!("{test}: SKIPPED, no PostgreSQL (FEEDWIRE_TEST_DATABASE_URL unset; scripts/test-postgres starts one)");
        return None;
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "fw_it_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to FEEDWIRE_TEST_DATABASE_URL: {e}"));
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

/// A WebSub hub on 127.0.0.1 that records the form bodies it is sent, and
/// signals each on `received`.
pub struct Hub {
    pub url: String,
    pub pings: Arc<Mutex<Vec<String>>>,
    pub received: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Hub {
    pub async fn start() -> Hub {
        let pings: Arc<Mutex<Vec<String>>> = Arc::default();
        let (ping_tx, received) = tokio::sync::mpsc::unbounded_channel::<()>();
        let recorded = pings.clone();
        let app = Router::new().route(
            "/hub",
            axum::routing::post(move |body: String| {
                recorded.lock().unwrap().push(body);
                let _ = ping_tx.send(());
                async { StatusCode::NO_CONTENT }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hub {
            url: format!("http://{addr}/hub"),
            pings,
            received,
        }
    }
}
