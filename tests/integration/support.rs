//! Shared helpers: a scriptable feed server on 127.0.0.1:0, temp configs,
//! an HTTP client, and the real `feedwire` binary as a child process.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;

/// Bound on every wait in the tests: long enough for a slow CI machine,
/// short enough that a hang fails the test instead of the CI run.
pub const WAIT: Duration = Duration::from_secs(30);

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
    pub content_type: String,
    pub body: Vec<u8>,
    /// Sent as `ETag`; a request whose `If-None-Match` matches gets 304.
    pub etag: Option<String>,
}

impl Route {
    pub fn feed(body: Vec<u8>, content_type: &str) -> Route {
        let etag = format!("\"{:x}\"", fxhash(&body));
        Route {
            status: 200,
            content_type: content_type.to_owned(),
            body,
            etag: Some(etag),
        }
    }
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
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Default)]
struct ServerState {
    routes: Mutex<HashMap<String, Route>>,
    seen: Mutex<Vec<SeenRequest>>,
    /// `false` holds every response until it turns `true`.
    open: Option<watch::Sender<bool>>,
}

/// A feed server on 127.0.0.1 with a free port.
pub struct FeedServer {
    pub addr: SocketAddr,
    state: Arc<ServerState>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let state = Arc::new(ServerState {
            open: Some(watch::Sender::new(true)),
            ..Default::default()
        });
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

    pub fn serve_fixture(&self, path: &str, fixture_name: &str, content_type: &str) -> String {
        self.set(path, Route::feed(fixture(fixture_name), content_type));
        self.url(path)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Holds every response until [`FeedServer::release`].
    pub fn hold(&self) {
        self.state.open.as_ref().unwrap().send_replace(false);
    }

    pub fn release(&self) {
        self.state.open.as_ref().unwrap().send_replace(true);
    }
}

async fn answer(State(state): State<Arc<ServerState>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    // `Request` is not `Sync`: keep only owned data across the await below.
    drop(req);
    let header =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let if_none_match = header(header::IF_NONE_MATCH);
    state.seen.lock().unwrap().push(SeenRequest {
        path: path.clone(),
        if_none_match: if_none_match.clone(),
        user_agent: header(header::USER_AGENT),
    });
    let mut open = state.open.as_ref().unwrap().subscribe();
    let _ = open.wait_for(|o| *o).await;

    let Some(route) = state.routes.lock().unwrap().get(&path).cloned() else {
        return (StatusCode::NOT_FOUND, "no such feed").into_response();
    };
    let mut headers = HeaderMap::new();
    if let Some(etag) = &route.etag {
        headers.insert(header::ETAG, HeaderValue::from_str(etag).unwrap());
        if if_none_match.as_deref() == Some(etag.as_str()) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&route.content_type).unwrap(),
    );
    (StatusCode::from_u16(route.status).unwrap(), headers, route.body).into_response()
}

/// One `[[feed]]` entry of a test config.
pub struct FeedEntry<'a> {
    pub name: &'a str,
    pub url: String,
    pub tags: &'a [&'a str],
}

/// Writes a config listening on a free port with its store in `dir/data`.
pub fn write_config(dir: &Path, feeds: &[FeedEntry<'_>]) -> PathBuf {
    let mut text = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n[poll]\ninterval = \"15m\"\ntimeout = \"10s\"\nfirst_poll_spread = \"0s\"\n\n\
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

    /// Starts `feedwire run --config PATH`.
    pub fn run(config: &Path) -> Binary {
        let mut child = Binary::command()
            .args(["run", "--config"])
            .arg(config)
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
                panic!("feedwire (pid {pid}) did not exit within {WAIT:?}");
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
