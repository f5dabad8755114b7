//! Hostile and broken upstreams against the running daemon.
//!
//! Every case is a feed served by the local [`FeedServer`] and polled by a
//! [`Daemon`] beside a healthy control feed (Arabic titles). After one round
//! each test checks, besides the case's own expectation:
//!
//! - the daemon still serves: `/politics.rss`, `.atom` and `.json` answer
//!   200, the XML ones parse with feed-rs, all three carry the control
//!   items; `/healthz` is 200;
//! - the case shows up in `/status.json`: `failing` with a clear
//!   `last_error`, or `ok` where reading it is right (a bomb that is not
//!   expanded, a huge document that is capped);
//! - the store is consistent: once the daemon is stopped, it opens again and
//!   holds exactly the items the round's reports called new, every one
//!   readable through the date index.
//!
//! What happens, case by case (established by these tests):
//!
//! - XML bombs (billion laughs, quadratic blowup) and external entities
//!   (XXE to a local file, to a URL, parameter entities, an external DTD,
//!   XInclude): feed-rs's reader (quick-xml) expands no DTD entity at all,
//!   so the documents are read, cost nothing, and the entity stays as its
//!   literal `&name;` text. No file is read, no URL requested.
//! - A 1 GiB body (with `Content-Length`), an endless chunked stream, a gzip
//!   and a brotli bomb: refused with "body larger than the N-byte cap",
//!   counted after decompression; a drip-fed body and a server that never
//!   answers: "timed out" after `[poll] timeout`.
//! - Redirect loops and redirects to `file:`, `ftp:`, `data:`,
//!   `javascript:`: "redirect loop at ..." / "redirect to unsupported
//!   scheme ...:"; nothing outside http(s) is ever opened.
//! - An HTML page, a PNG, an empty 200: "not a feed (charset): ...".
//!   Truncated XML and a character reference to NUL (`&#0;`, not
//!   well-formed XML) go through the parse recovery layer: the entries
//!   before the cut are kept, the entry cut before its link is dropped, the
//!   reference is dropped, and the feed's state is `repaired`. Raw NUL and control characters inside titles are dropped and the
//!   item kept. Invalid UTF-8 in a UTF-8 feed: read, but see
//!   [`one_invalid_byte_keeps_the_rest_of_a_utf8_feed_readable`].
//! - 100,000 items: the first `[poll] max_items` taken; a 5 MB title cut to
//!   `parse::MAX_TITLE_CHARS` characters; a 10,000-character link kept whole.
//! - Duplicate guids with different links: both items kept (we key on
//!   links). A pubDate in year 9999 is kept as `published` but the item is
//!   dated (sorted, served) at its first-seen time; one in 1990 is kept as
//!   published and served with it, and the next retention pass with a
//!   shorter retention prunes it, leaving a seen record so that the feed
//!   listing it again does not bring it back; one in 1900, before any web
//!   page (a CMS's "no date"), is kept as `published` and dated at its
//!   first-seen time, as an undated item (entries older than `[storage]
//!   retention` are counted and not stored: `recovery.rs`, `binary.rs`).
//! - SSRF: with `allow_private_networks = false` on a feed, loopback in any
//!   spelling, `localhost`, `[::1]`, `0.0.0.0` and `169.254.169.254` are
//!   refused ("refused: ..."), and the local server never sees the request.
//! - A store on a read-only filesystem (a tmpfs remounted read-only, since
//!   root ignores `chmod`; a read-only folder for other users): `run` exits
//!   1 and `poll-once` 2, both with "opening store PATH: ...". A full disk
//!   while running: the daemon keeps serving what it had and logs the
//!   failing feed with "No space left on device"; after a crash and more
//!   space the store holds all or none of the failed document and polls it
//!   again; `/healthz` says so until a flush works
//!   ([`disk_full_shows_in_health`]), and a stop stays bounded even when
//!   sled's flush hangs after the failure ([`sigterm_after_a_disk_full_error_exits`]).
//!
//! The `sanitizer` submodule runs feedparser's sanitizer corpus through
//! parse and the three renderers.

mod sanitizer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use feedwire::app::Daemon;
use feedwire::clock::ManualClock;
use feedwire::config::Config;
use feedwire::parse::MAX_TITLE_CHARS;
use feedwire::poller::{FeedReport, Outcome};
use feedwire::status::FeedStatus;
use feedwire::store::{FeedState, Retention, Store};
use tokio::time::timeout;

use crate::support::*;

const RSS: &str = "application/rss+xml";

/// The manual clock starts here; every feed is due [`START`] later, when
/// the test moves the clock, so that no poll starts (and reports) before the
/// test listens.
fn t0() -> DateTime<Utc> {
    "2025-11-29T10:00:00Z".parse().unwrap()
}
const START: Duration = Duration::from_secs(1);

/// When the round's polls happen: the first-seen time of its items.
fn first_seen() -> DateTime<Utc> {
    t0() + chrono::Duration::from_std(START).unwrap()
}

fn rss(channel_title: &str, items: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{channel_title}</title><link>http://hostile.test/</link>{items}</channel></rss>"#
    )
    .into_bytes()
}

fn item(title: &str, link: &str) -> String {
    format!("<item><title>{title}</title><link>{link}</link></item>")
}

/// The healthy feed polled beside every case.
const CONTROL: [(&str, &str); 3] = [
    (
        "مجلس الأمن يعقد جلسة طارئة لبحث الأزمة",
        "http://control.test/news/1",
    ),
    (
        "وزير الخارجية يصل إلى القاهرة في زيارة رسمية",
        "http://control.test/news/2",
    ),
    ("انطلاق الانتخابات البلدية في تونس", "http://control.test/news/3"),
];

fn control_feed() -> Vec<u8> {
    let items: String = CONTROL.iter().map(|(t, l)| item(t, l)).collect();
    rss("أخبار المراقبة", &items)
}

/// What a hostile feed must come to.
#[derive(Clone, Debug)]
enum Expect {
    /// The poll fails and the feed's status is `failing` with a
    /// `last_error` that contains this.
    Fails(String),
    /// The document is read (no error) and yields this many items.
    Items(usize),
}

fn fails(message: &str) -> Expect {
    Expect::Fails(message.to_owned())
}

struct Case {
    name: String,
    url: String,
    /// `allow_private_networks = false` on this feed.
    refuse_private: bool,
    expect: Expect,
}

impl Case {
    /// A case served by the feed server at `/{name}`.
    fn served(server: &FeedServer, name: &str, route: Route, expect: Expect) -> Case {
        Case {
            name: name.to_owned(),
            url: server.route(&format!("/{name}"), route),
            refuse_private: false,
            expect,
        }
    }
}

/// The documents served after a round, as (path, bytes).
struct Served(Vec<(&'static str, Vec<u8>)>);

impl Served {
    fn get(&self, path: &str) -> &[u8] {
        &self.0.iter().find(|(p, _)| *p == path).unwrap().1
    }
}

/// Items the test config's output carries (`[[output]] max_items` default).
const OUTPUT_MAX_ITEMS: usize = 200;

fn new_items(reports: &HashMap<String, FeedReport>) -> usize {
    reports
        .values()
        .map(|r| match &r.outcome {
            Outcome::Updated { ingest, .. } => ingest.new,
            _ => 0,
        })
        .sum()
}

/// One poll round of the control feed and the cases in one daemon.
struct Round {
    server: FeedServer,
    dir: tempfile::TempDir,
    daemon: Daemon,
    config: Config,
    reports: HashMap<String, FeedReport>,
    statuses: HashMap<String, FeedStatus>,
    served: Served,
}

const PUBLIC_PATHS: [&str; 8] = [
    "/politics.rss",
    "/politics.atom",
    "/politics.json",
    "/feeds.opml",
    "/status.json",
    "/",
    "/metrics",
    "/export.jsonl",
];

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let resp = http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// Titles of a served JSON Feed.
fn json_titles(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).expect("politics.json is JSON");
    v["items"]
        .as_array()
        .expect("JSON Feed items")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Starts a daemon on `cfg` with the control feed and the cases, lets every
/// feed be polled once, and checks what every round must show.
async fn round(server: FeedServer, cfg: TestConfig, cases: Vec<Case>) -> Round {
    let dir = tempfile::tempdir().unwrap();
    let control = server.route("/control.xml", Route::feed(control_feed(), RSS));
    let mut cfg = cfg.feed("control", &control);
    for c in &cases {
        cfg = if c.refuse_private {
            cfg.feed_with(&c.name, &c.url, &[("allow_private_networks", "false")])
        } else {
            cfg.feed(&c.name, &c.url)
        };
    }
    let config = cfg.load(dir.path());
    // Every feed is first due at `first_seen()`, as if polled before.
    {
        let store = Store::open(&config.storage.path).unwrap();
        for f in &config.feeds {
            let state = FeedState {
                next_due: Some(first_seen().timestamp()),
                ..FeedState::default()
            };
            store.put_feed_state(f.url.as_str(), &state).unwrap();
        }
        store.flush().unwrap();
    }
    let clock = Arc::new(ManualClock::new(t0()));
    let daemon = Daemon::start_with_clock(config.clone(), clock.clone())
        .await
        .unwrap();
    let mut rx = daemon.reports();
    let published = daemon.published();
    let mut renders = published.subscribe();
    clock.advance(START);

    let mut reports: HashMap<String, FeedReport> = HashMap::new();
    while reports.len() < config.feeds.len() {
        let r = match timeout(WAIT, rx.recv()).await {
            Ok(r) => r.unwrap(),
            Err(_) => panic!(
                "no report within {WAIT:?}; still waiting for {:?}",
                config
                    .feeds
                    .iter()
                    .filter(|f| !reports.contains_key(f.url.as_str()))
                    .map(|f| &f.name)
                    .collect::<Vec<_>>()
            ),
        };
        assert!(
            !reports.contains_key(&r.url),
            "{} polled twice in one round",
            r.name
        );
        reports.insert(r.url.clone(), r);
    }

    // Wait for the render that holds everything the round stored: every
    // new item, since the rounds store fewer than the output carries.
    let new = new_items(&reports);
    assert!(new <= OUTPUT_MAX_ITEMS, "{new} items would not all be served");
    let items_in = |body: &[u8]| body.windows(6).filter(|w| w == b"<item>").count();
    timeout(
        WAIT,
        renders.wait_for(|_| {
            published
                .get("politics.rss")
                .is_some_and(|d| items_in(&d.body) == new)
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no render with the {new} new items"))
    .unwrap();

    let mut served = Vec::new();
    for path in PUBLIC_PATHS {
        let (status, body) = get(daemon.addr, path).await;
        assert_eq!(status, 200, "GET {path}");
        served.push((path, body));
    }
    let served = Served(served);
    for path in ["/politics.rss", "/politics.atom"] {
        let (_, titles) = entries_of(served.get(path));
        for (t, _) in CONTROL {
            assert!(titles.iter().any(|x| x == t), "{path} lacks {t:?}: {titles:?}");
        }
    }
    let titles = json_titles(served.get("/politics.json"));
    for (t, _) in CONTROL {
        assert!(titles.iter().any(|x| x == t), "politics.json lacks {t:?}");
    }
    assert_eq!(get(daemon.addr, "/healthz").await.0, 200);

    let statuses: HashMap<String, FeedStatus> =
        serde_json::from_slice::<Vec<FeedStatus>>(served.get("/status.json"))
            .unwrap()
            .into_iter()
            .map(|s| (s.url.clone(), s))
            .collect();
    let control_status = &statuses[&control];
    assert_eq!(control_status.state, "ok", "{control_status:?}");
    assert_eq!(control_status.items_seen, CONTROL.len());

    for c in &cases {
        let url = config
            .feeds
            .iter()
            .find(|f| f.name == c.name)
            .unwrap()
            .url
            .to_string();
        let (r, s) = (&reports[&url], &statuses[&url]);
        match &c.expect {
            Expect::Fails(message) => {
                match &r.outcome {
                    Outcome::Failed { error } => {
                        assert!(error.contains(message.as_str()), "{}: {error:?}", c.name)
                    }
                    other => panic!("{}: expected a failure with {message:?}, got {other:?}", c.name),
                }
                assert_eq!(s.state, "failing", "{}: {s:?}", c.name);
                assert!(
                    s.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains(message.as_str())),
                    "{}: {s:?}",
                    c.name
                );
                assert_eq!(s.consecutive_failures, 1, "{}", c.name);
            }
            Expect::Items(n) => {
                match &r.outcome {
                    Outcome::Updated { items, .. } => assert_eq!(items, n, "{}", c.name),
                    other => panic!("{}: expected {n} items, got {other:?}", c.name),
                }
                // Read, possibly after the recovery layer mended it.
                assert!(matches!(s.state.as_str(), "ok" | "repaired"), "{}: {s:?}", c.name);
                assert_eq!(s.items_seen, *n, "{}", c.name);
            }
        }
    }
    Round {
        server,
        dir,
        daemon,
        config,
        reports,
        statuses,
        served,
    }
}

impl Round {
    fn url(&self, name: &str) -> String {
        let f = self.config.feeds.iter().find(|f| f.name == name);
        f.unwrap_or_else(|| panic!("no feed {name:?}")).url.to_string()
    }

    fn status(&self, name: &str) -> &FeedStatus {
        &self.statuses[&self.url(name)]
    }

    fn report(&self, name: &str) -> &FeedReport {
        &self.reports[&self.url(name)]
    }

    /// Stops the daemon and opens its store again: it must hold exactly the
    /// items the reports called new, each reachable through the date index.
    async fn finish(self) -> (Store, tempfile::TempDir) {
        let new = new_items(&self.reports);
        self.daemon.shutdown().await.unwrap();
        let store = Store::open(&self.config.storage.path).expect("the store opens again");
        assert_eq!(store.item_count(), new, "items stored vs reported new");
        let mut walked = 0;
        store
            .for_each_item(|_| {
                walked += 1;
                true
            })
            .unwrap();
        assert_eq!(walked, new, "items reachable through the date index");
        (store, self.dir)
    }
}

/// Fails unless no public output of the round contains `needle`.
fn assert_nowhere(served: &Served, needle: &str) {
    for (path, body) in &served.0 {
        assert!(
            !String::from_utf8_lossy(body).contains(needle),
            "{needle:?} appears in {path}"
        );
    }
}

fn stored_items(store: &Store) -> Vec<feedwire::item::Item> {
    let mut items = Vec::new();
    store
        .for_each_item(|i| {
            items.push(i);
            true
        })
        .unwrap();
    items
}

// ---------------------------------------------------------------------------
// XML bombs and external entities

/// A file with a secret, for the XXE cases to point at.
const SECRET: &str = "سر-الخادم TOPSECRET-7f3a91";
const SECRET_MARK: &str = "TOPSECRET-7f3a91";

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

fn billion_laughs() -> Vec<u8> {
    let mut dtd = String::from(r#"<!ENTITY lol0 "lol">"#);
    for i in 1..=9 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!(r#"<!ENTITY lol{i} "{refs}">"#));
    }
    let items = item("ضحكات &lol9;", "http://hostile.test/laughs/1")
        + &item("خبر سليم بعد القنبلة", "http://hostile.test/laughs/2");
    let doc = String::from_utf8(rss("قنبلة", &items)).unwrap();
    doc.replacen("<rss", &format!("<!DOCTYPE rss [{dtd}]><rss"), 1)
        .into_bytes()
}

/// One 100 KB entity referenced 10,000 times: 1 GB if expanded.
fn quadratic_blowup() -> Vec<u8> {
    let entity = "ب".repeat(50_000);
    let refs = "&big;".repeat(10_000);
    let doc = String::from_utf8(rss(
        "انفجار تربيعي",
        &item(&format!("عنوان {refs}"), "http://hostile.test/quadratic/1"),
    ))
    .unwrap();
    doc.replacen(
        "<rss",
        &format!(r#"<!DOCTYPE rss [<!ENTITY big "{entity}">]><rss"#),
        1,
    )
    .into_bytes()
}

fn with_doctype(doctype: &str, title: &str, link: &str) -> Vec<u8> {
    let doc = String::from_utf8(rss(
        "كيانات خارجية",
        &format!("<item><title>{title}</title><description>{title}</description><link>{link}</link></item>"),
    ))
    .unwrap();
    doc.replacen("<rss", &format!("{doctype}<rss"), 1).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_bombs_and_external_entities_are_inert() {
    let server = FeedServer::start().await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    let secret_url = file_url(&secret);
    // Canaries on the feed server: any request to them is an entity fetch.
    let canaries = ["/xxe-entity", "/xxe-param.dtd", "/xxe-doctype.dtd"];
    for path in canaries {
        server.set(
            path,
            Route::feed(
                format!("<!ENTITY leak \"{SECRET_MARK}\">{SECRET_MARK}").into_bytes(),
                "application/xml-dtd",
            ),
        );
    }
    let link = |n: &str| format!("http://hostile.test/xxe/{n}");
    let cases = vec![
        Case::served(
            &server,
            "billion-laughs.xml",
            Route::feed(billion_laughs(), RSS),
            Expect::Items(2),
        ),
        Case::served(
            &server,
            "quadratic.xml",
            Route::feed(quadratic_blowup(), RSS),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "xxe-file.xml",
            Route::feed(
                with_doctype(
                    &format!(r#"<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret_url}">]>"#),
                    "ملف &xxe;",
                    &link("file"),
                ),
                RSS,
            ),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "xxe-url.xml",
            Route::feed(
                with_doctype(
                    &format!(
                        r#"<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{}">]>"#,
                        server.url("/xxe-entity")
                    ),
                    "رابط &xxe;",
                    &link("url"),
                ),
                RSS,
            ),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "xxe-parameter.xml",
            Route::feed(
                with_doctype(
                    &format!(
                        r#"<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{}"> %remote;]>"#,
                        server.url("/xxe-param.dtd")
                    ),
                    "معامل &leak;",
                    &link("parameter"),
                ),
                RSS,
            ),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "xxe-external-dtd.xml",
            Route::feed(
                with_doctype(
                    &format!(r#"<!DOCTYPE rss SYSTEM "{}">"#, server.url("/xxe-doctype.dtd")),
                    "تعريف خارجي &leak;",
                    &link("dtd"),
                ),
                RSS,
            ),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "xinclude.xml",
            Route::feed(
                with_doctype(
                    "",
                    &format!(
                        r#"تضمين <xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret_url}" parse="text"/>"#
                    ),
                    &link("xinclude"),
                ),
                RSS,
            ),
            Expect::Items(1),
        ),
    ];
    let round = round(server, TestConfig::new(), cases).await;

    // Nothing was expanded: no output grows with the bombs, none carries
    // the secret, and no entity URL was requested.
    assert_nowhere(&round.served, SECRET_MARK);
    assert_nowhere(&round.served, &"lol".repeat(20));
    assert_nowhere(&round.served, &"ب".repeat(500));
    for path in canaries {
        assert_eq!(round.server.requests_to(path), 0, "{path} was requested");
    }
    assert_eq!(round.status("billion-laughs.xml").title.as_deref(), Some("قنبلة"));
    let (store, _dir) = round.finish().await;
    for item in stored_items(&store) {
        let all = format!("{item:?}");
        assert!(!all.contains(SECRET_MARK), "{all}");
        assert!(item.title.chars().count() <= MAX_TITLE_CHARS, "{}", item.title);
    }
}

/// The same from the real binary: the secret is in no log line either, nor
/// in `feedwire export`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_entities_leak_into_no_log_or_export() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    server.set("/xxe-entity", Route::feed(SECRET_MARK.into(), "text/plain"));
    let doctype = format!(
        r#"<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{}"><!ENTITY web SYSTEM "{}">]>"#,
        file_url(&secret),
        server.url("/xxe-entity")
    );
    let xxe = server.route(
        "/xxe.xml",
        Route::feed(
            with_doctype(&doctype, "سر &xxe; &web;", "http://hostile.test/xxe/bin"),
            RSS,
        ),
    );
    // A broken variant too (cut short): the recovery layer reads it, and
    // neither its repair warning nor its items may quote the secret.
    let mut broken = with_doctype(&doctype, "سر &xxe; &web;", "http://hostile.test/xxe/broken");
    broken.truncate(broken.len() - 20);
    let broken = server.route("/xxe-broken.xml", Route::feed(broken, RSS));
    let control = server.route("/control.xml", Route::feed(control_feed(), RSS));
    // `feedwire export` finds the daemon at `[server] listen`: a real port.
    let config = TestConfig::new()
        .listen(free_addr())
        .feed("xxe", &xxe)
        .feed("xxe broken", &broken)
        .feed("control", &control)
        .write(dir.path());
    let daemon = Binary::run(&config);
    let addr = daemon.wait_listening();
    let done = daemon.wait_for_line("Poll round done.");
    assert!(done.contains("ok=3") && done.contains("failed=0"), "{done}");
    for path in PUBLIC_PATHS {
        let (status, body) = get(addr, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains(SECRET_MARK), "{path}");
    }
    let export = Binary::cli(&["export", "--config"], &[&config]);
    assert!(export.status.success(), "{export:?}");
    let dump = String::from_utf8_lossy(&export.stdout);
    assert!(dump.contains("http://hostile.test/xxe/bin"), "{dump}");
    assert!(!dump.contains(SECRET_MARK), "{dump}");
    daemon.signal("TERM");
    let log = daemon.log.clone();
    assert!(daemon.wait().success());
    let log = log.lock().unwrap().join("\n");
    assert!(
        log.lines()
            .any(|l| l.contains("xxe-broken.xml") && l.contains("repaired")),
        "the repair is logged: {log}"
    );
    assert!(!log.contains(SECRET_MARK), "{log}");
    assert_eq!(server.requests_to("/xxe-entity"), 0);
}

// ---------------------------------------------------------------------------
// Bodies too big, endless or too slow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_endless_compressed_and_stalled_bodies_are_cut() {
    let server = FeedServer::start().await;
    let cap: usize = 1 << 20;
    let inflated = 64 << 20;
    let gzip = Route::gzip_bomb(inflated);
    let brotli = Route::brotli_bomb(inflated);
    // Small on the wire: only the decompressed count can catch them.
    assert!(
        gzip.body.len() < cap / 8,
        "gzip bomb is {} bytes",
        gzip.body.len()
    );
    assert!(
        brotli.body.len() < 1024,
        "brotli bomb is {} bytes",
        brotli.body.len()
    );
    let too_large = format!("body larger than the {cap}-byte cap");
    let control = control_feed();
    let cases = vec![
        Case::served(
            &server,
            "1gib.xml",
            Route::feed(Vec::new(), RSS).delivery(Delivery::Sized(1 << 30)),
            fails(&too_large),
        ),
        Case::served(
            &server,
            "endless.xml",
            Route::feed(control.clone(), RSS).delivery(Delivery::Endless),
            fails(&too_large),
        ),
        Case::served(&server, "gzip-bomb.xml", gzip, fails(&too_large)),
        Case::served(&server, "brotli-bomb.xml", brotli, fails(&too_large)),
        Case::served(
            &server,
            "drip.xml",
            Route::feed(control.clone(), RSS).delivery(Delivery::Drip(Duration::from_millis(100))),
            fails("timed out"),
        ),
        Case::served(
            &server,
            "never-answers.xml",
            Route::feed(control, RSS).delivery(Delivery::Hang),
            fails("timed out"),
        ),
    ];
    let cfg = TestConfig::new()
        .poll("max_body", "\"1MiB\"")
        .poll("timeout", "\"1s\"")
        .poll("per_host", "16");
    let round = round(server, cfg, cases).await;
    // The 1 GiB and endless bodies were cut off long before their end:
    // what went out is socket buffers' worth, not a gigabyte.
    let sent = round.server.endless_sent();
    assert!(sent < 64 << 20, "{sent} bytes sent");
    // A timeout is the fetch's: the time-outs took about `[poll] timeout`.
    for name in ["drip.xml", "never-answers.xml"] {
        let took = round.report(name).duration;
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{name} took {took:?}"
        );
    }
    round.finish().await;
}

// ---------------------------------------------------------------------------
// Redirects

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_and_foreign_schemes_are_refused() {
    let server = FeedServer::start().await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.xml");
    std::fs::write(&secret, rss(SECRET, &item(SECRET, "http://hostile.test/secret"))).unwrap();
    server.set("/loop-b.xml", Route::redirect(302, "/loop-a.xml"));
    let data = format!(
        "data:application/rss+xml,{}",
        String::from_utf8(rss("x", &item(SECRET_MARK, "http://hostile.test/data"))).unwrap()
    );
    let cases = vec![
        Case::served(
            &server,
            "loop-a.xml",
            Route::redirect(301, "/loop-b.xml"),
            fails("redirect loop at"),
        ),
        Case::served(
            &server,
            "to-file.xml",
            Route::redirect(302, &file_url(&secret)),
            fails("redirect to unsupported scheme file:"),
        ),
        Case::served(
            &server,
            "to-ftp.xml",
            Route::redirect(301, "ftp://127.0.0.1/feed.xml"),
            fails("redirect to unsupported scheme ftp:"),
        ),
        Case::served(
            &server,
            "to-data.xml",
            Route::redirect(307, &data),
            fails("redirect to unsupported scheme data:"),
        ),
        Case::served(
            &server,
            "to-javascript.xml",
            Route::redirect(308, "javascript:alert(document.cookie)"),
            fails("redirect to unsupported scheme javascript:"),
        ),
    ];
    let round = round(server, TestConfig::new(), cases).await;
    assert_nowhere(&round.served, SECRET_MARK);
    for name in ["loop-a.xml", "to-file.xml", "to-data.xml"] {
        assert_eq!(round.status(name).permanent_redirect, None, "{name}");
    }
    assert_eq!(round.server.requests_to("/loop-a.xml"), 1);
    assert_eq!(round.server.requests_to("/loop-b.xml"), 1);
    round.finish().await;
}

// ---------------------------------------------------------------------------
// Documents that are not feeds, or broken ones

/// A 1x1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

/// Two Arabic items, the second title with one invalid byte (0xFF) in it.
fn invalid_utf8_feed() -> (Vec<u8>, [&'static str; 2]) {
    let titles = ["الحكومة تعلن خطة اقتصادية جديدة", "البرلمان يصادق على الميزانية"];
    let items =
        item(titles[0], "http://hostile.test/utf8/1") + &item(titles[1], "http://hostile.test/utf8/2");
    let mut body = rss("أخبار", &items);
    let at = String::from_utf8(body.clone()).unwrap().find(titles[1]).unwrap();
    body.insert(at, 0xFF);
    (body, titles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_are_not_feeds_fail_cleanly() {
    let server = FeedServer::start().await;
    let full = control_feed();
    let mut truncated = full.clone();
    // Cut inside the second item's title, on a character boundary.
    let text = String::from_utf8(full.clone()).unwrap();
    let start = text.find(CONTROL[1].0).unwrap();
    let (at, _) = text[start..].char_indices().nth(6).unwrap();
    truncated.truncate(start + at);
    let html = "<!DOCTYPE html><html lang=\"ar\" dir=\"rtl\"><head><title>الصفحة الرئيسية</title></head><body><h1>مرحبا</h1><p>ليست خلاصة</p></body></html>";
    let controls = rss(
        "محارف تحكم",
        &(item(
            "عاجل\u{0}\u{1}: خبر\u{8} مهم\u{1b}[31m",
            "http://hostile.test/ctl/1",
        ) + &item("\u{7}\u{7}تنبيه\u{c}", "http://hostile.test/ctl/2")),
    );
    let nul_reference = rss("مرجع", &item("عاجل&#0;خبر", "http://hostile.test/ctl/ref"));
    let (invalid_utf8, _) = invalid_utf8_feed();
    let cases = vec![
        Case::served(
            &server,
            "page.html",
            Route::feed(html.into(), "text/html; charset=utf-8"),
            fails("is a web page (text/html) with no feed link in its head"),
        ),
        Case::served(
            &server,
            "image.png",
            Route::feed(PNG.to_vec(), "image/png"),
            fails("not a feed"),
        ),
        Case::served(
            &server,
            "empty.xml",
            Route::feed(Vec::new(), RSS),
            fails("not a feed"),
        ),
        Case::served(
            &server,
            "truncated.xml",
            Route::feed(truncated, RSS),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "nul-reference.xml",
            Route::feed(nul_reference, RSS),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "control-chars.xml",
            Route::feed(controls, RSS),
            Expect::Items(2),
        ),
        Case::served(
            &server,
            "invalid-utf8.xml",
            Route::feed(invalid_utf8, RSS),
            Expect::Items(2),
        ),
    ];
    let round = round(server, TestConfig::new(), cases).await;
    // Control characters never reach subscribers: the documents stay XML.
    for (path, body) in &round.served.0[..3] {
        let text = std::str::from_utf8(body).unwrap();
        let bad = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
        assert_eq!(bad, None, "{path}");
    }
    let (_, titles) = entries_of(round.served.get("/politics.rss"));
    assert!(titles.iter().any(|t| t == "عاجل: خبر مهم[31m"), "{titles:?}");
    assert!(titles.iter().any(|t| t == "تنبيه"), "{titles:?}");
    assert!(titles.iter().any(|t| t == "عاجلخبر"), "{titles:?}");
    let s = round.status("truncated.xml");
    assert_eq!(s.state, "repaired", "{s:?}");
    assert!(
        s.repaired
            .as_deref()
            .unwrap()
            .contains("1 entry cut short dropped"),
        "{s:?}"
    );
    let s = round.status("nul-reference.xml");
    assert_eq!(s.state, "repaired", "{s:?}");
    assert_eq!(
        s.repaired.as_deref(),
        Some("1 illegal character reference dropped")
    );
    round.finish().await;
}

/// A UTF-8 feed with one stray byte is still a UTF-8 feed: that byte may
/// be lost, the rest of the text must not be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_byte_keeps_the_rest_of_a_utf8_feed_readable() {
    let server = FeedServer::start().await;
    let (body, titles) = invalid_utf8_feed();
    let cases = vec![Case::served(
        &server,
        "invalid-utf8.xml",
        Route::feed(body, "application/rss+xml; charset=utf-8"),
        Expect::Items(2),
    )];
    let round = round(server, TestConfig::new(), cases).await;
    assert_eq!(round.status("invalid-utf8.xml").charset.as_deref(), Some("UTF-8"));
    let (_, served) = entries_of(round.served.get("/politics.rss"));
    assert!(served.iter().any(|t| t == titles[0]), "{served:?}");
    assert!(
        served
            .iter()
            .any(|t| t.contains(titles[1]) || t.ends_with("الميزانية")),
        "{served:?}"
    );
    round.finish().await;
}

// ---------------------------------------------------------------------------
// Documents too big in other ways

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_documents_are_capped_not_refused() {
    let server = FeedServer::start().await;
    const MANY: usize = 100_000;
    const TAKEN: usize = 100;
    let many: String = (0..MANY)
        .map(|i| item(&format!("خبر رقم {i}"), &format!("http://hostile.test/many/{i}")))
        .collect();
    let many = rss("مئة ألف خبر", &many);
    // 5 MB of Arabic letters (two bytes each) in one title.
    let long_title = "س".repeat(2_500_000);
    let big_title = rss(
        &"ع".repeat(500_000),
        &item(&long_title, "http://hostile.test/big-title/1"),
    );
    assert!(big_title.len() > 5_000_000);
    let long_link = format!(
        "http://hostile.test/long/{}?q={}",
        "مسار/".repeat(1000),
        "x".repeat(5000)
    );
    assert!(long_link.chars().count() >= 10_000);
    let cases = vec![
        Case::served(&server, "many.xml", Route::feed(many, RSS), Expect::Items(TAKEN)),
        Case::served(
            &server,
            "big-title.xml",
            Route::feed(big_title, RSS),
            Expect::Items(1),
        ),
        Case::served(
            &server,
            "long-link.xml",
            Route::feed(rss("رابط طويل", &item("رابط طويل جدا", &long_link)), RSS),
            Expect::Items(1),
        ),
    ];
    let cfg = TestConfig::new()
        .poll("max_items", &TAKEN.to_string())
        .poll("max_body", "\"16MiB\"")
        .poll("timeout", "\"10m\"");
    let round = round(server, cfg, cases).await;

    // 100,000 entries are fetched and parsed, and only the newest are kept
    // (Expect::Items above); the others are counted. How fast is a
    // benchmark's question, not a test's: a slow machine must not fail
    // here, hence the generous fetch timeout.
    assert_eq!(round.status("many.xml").items_over_limit, MANY - TAKEN);
    let s = round.status("big-title.xml");
    assert_eq!(
        s.title.as_deref().map(|t| t.chars().count()),
        Some(MAX_TITLE_CHARS)
    );
    let (_, titles) = entries_of(round.served.get("/politics.rss"));
    let cut = titles
        .iter()
        .find(|t| t.starts_with('س'))
        .expect("the long title is served");
    assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
    assert!(cut.chars().all(|c| c == 'س'));

    let feed = feed_rs::parser::parse(round.served.get("/politics.atom")).unwrap();
    let expected = url::Url::parse(&long_link).unwrap().to_string();
    assert!(expected.len() > 10_000);
    assert!(
        feed.entries
            .iter()
            .any(|e| e.links.iter().any(|l| l.href == expected)),
        "the long link is served whole"
    );
    let (store, _dir) = round.finish().await;
    let items = stored_items(&store);
    let many: Vec<_> = items.iter().filter(|i| i.title.starts_with("خبر رقم")).collect();
    assert_eq!(many.len(), TAKEN);
    // The first ones, in document order.
    assert!(many.iter().all(|i| {
        let n: usize = i.title["خبر رقم ".len()..].parse().unwrap();
        n < TAKEN
    }));
}

// ---------------------------------------------------------------------------
// Identity and dates

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_guids_and_extreme_dates() {
    let server = FeedServer::start().await;
    let same_guid = rss(
        "معرفات مكررة",
        "<item><title>الخبر الأول</title><guid isPermaLink=\"false\">dup-1</guid><link>http://hostile.test/guid/a</link></item>\
         <item><title>الخبر الثاني</title><guid isPermaLink=\"false\">dup-1</guid><link>http://hostile.test/guid/b</link></item>",
    );
    let dates = rss(
        "تواريخ",
        "<item><title>من المستقبل البعيد</title><link>http://hostile.test/date/9999</link><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>\
         <item><title>من الماضي</title><link>http://hostile.test/date/1990</link><pubDate>Mon, 01 Jan 1990 00:00:00 GMT</pubDate></item>\
         <item><title>من الماضي البعيد</title><link>http://hostile.test/date/1900</link><pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate></item>",
    );
    let cases = vec![
        Case::served(
            &server,
            "same-guid.xml",
            Route::feed(same_guid, RSS),
            Expect::Items(2),
        ),
        Case::served(&server, "dates.xml", Route::feed(dates, RSS), Expect::Items(3)),
    ];
    let round = round(server, TestConfig::new(), cases).await;
    let feed = feed_rs::parser::parse(round.served.get("/politics.rss")).unwrap();
    let served = |link: &str| {
        feed.entries
            .iter()
            .find(|e| e.links.iter().any(|l| l.href == link))
            .unwrap_or_else(|| panic!("{link} not served"))
            .clone()
    };
    // Both items with guid dup-1 are kept: identity is the link.
    assert_eq!(
        served("http://hostile.test/guid/a").id,
        "http://hostile.test/guid/a"
    );
    assert_eq!(
        served("http://hostile.test/guid/b").id,
        "http://hostile.test/guid/b"
    );

    let first_seen = first_seen();
    let y9999 = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").unwrap();
    let y1990 = DateTime::parse_from_rfc3339("1990-01-01T00:00:00Z").unwrap();
    assert_eq!(
        served("http://hostile.test/date/9999").published,
        Some(first_seen)
    );
    assert_eq!(
        served("http://hostile.test/date/1990").published,
        Some(y1990.to_utc())
    );
    // The 1990 item is the oldest served, served last; the 1900 one is a
    // placeholder, served at its first-seen time rather than refused as
    // older than `[storage] retention` (100 years in the test config).
    let links: Vec<&str> = feed.entries.iter().map(|e| e.links[0].href.as_str()).collect();
    assert_eq!(links.last(), Some(&"http://hostile.test/date/1990"), "{links:?}");
    assert_eq!(
        served("http://hostile.test/date/1900").published,
        Some(first_seen)
    );
    assert_eq!(round.status("dates.xml").items_too_old, 0);

    let (store, _dir) = round.finish().await;
    let by_link = |link: &str| {
        stored_items(&store)
            .into_iter()
            .find(|i| i.link.as_deref() == Some(link))
            .unwrap()
    };
    let future = by_link("http://hostile.test/date/9999");
    assert_eq!(
        future.published,
        Some(y9999.timestamp()),
        "the feed's date is kept"
    );
    assert_eq!(future.date, first_seen.timestamp(), "and clamped to first seen");
    let past = by_link("http://hostile.test/date/1990");
    assert_eq!(past.date, y1990.timestamp());
    let placeholder = by_link("http://hostile.test/date/1900");
    assert_eq!(
        (placeholder.published, placeholder.date),
        (
            Some(
                DateTime::parse_from_rfc3339("1900-01-01T00:00:00Z")
                    .unwrap()
                    .timestamp()
            ),
            first_seen.timestamp()
        ),
        "the feed's date is kept, the item dated at first sight"
    );

    // Retention: the next pass with the default 30 days prunes the 1990
    // item (and no other); listed again, it is not new.
    let policy = Retention {
        max_age: Duration::from_secs(30 * 86_400),
        max_items: 100_000,
        seen_max_age: Duration::from_secs(365 * 86_400),
    };
    let before = store.item_count();
    let pruned = store.prune(first_seen.timestamp(), &policy, 1000).unwrap();
    assert_eq!(pruned.items, 1);
    assert_eq!(store.item_count(), before - 1);
    assert_eq!(store.get(&past.key).unwrap(), None);
    let again = store.ingest(&[past]).unwrap();
    assert_eq!((again.new, again.duplicate), (0, 1));
}

// ---------------------------------------------------------------------------
// Server-side request forgery

/// `allow_private_networks = false` on a feed (the test config allows them
/// in `[poll]`, the per-feed key must win) refuses every local address,
/// however it is written, before any request leaves. Every URL below but
/// the last two points at the feed server by path, which serves a feed
/// there: a guard that let one through would show as a request and an
/// `ok` status.
///
/// Not testable here: a redirect from a public feed to a private address.
/// With only 127.0.0.1 to serve from, the first hop of a feed that refuses
/// private networks is itself refused; the redirect path runs the same
/// per-hop check (`Fetcher::request`) as that first hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_per_feed() {
    let server = FeedServer::start().await;
    let port = server.addr.port();
    let targets = [
        ("literal", format!("http://127.0.0.1:{port}/ssrf/literal.xml")),
        ("short form", format!("http://127.1:{port}/ssrf/short.xml")),
        ("decimal", format!("http://2130706433:{port}/ssrf/decimal.xml")),
        ("hex", format!("http://0x7f000001:{port}/ssrf/hex.xml")),
        (
            "other loopback",
            format!("http://127.8.9.10:{port}/ssrf/other.xml"),
        ),
        ("name", format!("http://localhost:{port}/ssrf/localhost.xml")),
        ("unspecified", format!("http://0.0.0.0:{port}/ssrf/zero.xml")),
        (
            "v4-mapped",
            format!("http://[::ffff:127.0.0.1]:{port}/ssrf/mapped.xml"),
        ),
        ("ipv6 loopback", format!("http://[::1]:{port}/ssrf/v6.xml")),
        ("metadata", "http://169.254.169.254/latest/meta-data/".to_owned()),
    ];
    let mut cases = Vec::new();
    for (name, url) in &targets {
        let path = url::Url::parse(url).unwrap().path().to_owned();
        server.set(&path, Route::feed(control_feed(), RSS));
        cases.push(Case {
            name: (*name).to_owned(),
            url: url.clone(),
            refuse_private: true,
            expect: fails("refused: "),
        });
    }
    let round = round(server, TestConfig::new(), cases).await;
    for (name, url) in &targets {
        let error = round.status(name).last_error.clone().unwrap();
        assert!(error.starts_with("refused: "), "{name}: {error}");
        assert!(error.contains("allow_private_networks"), "{name}: {error}");
        let path = url::Url::parse(url).unwrap().path().to_owned();
        assert_eq!(round.server.requests_to(&path), 0, "{name}: {url} was requested");
        // Refused at once, not after a connect timeout.
        let took = round.report(name).duration;
        assert!(took < Duration::from_secs(5), "{name} took {took:?}");
    }
    assert!(
        round
            .status("name")
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("refused: localhost is "),
        "{:?}",
        round.status("name")
    );
    round.finish().await;
}

// ---------------------------------------------------------------------------
// A store that cannot be written

/// A tmpfs on a fresh temporary folder, unmounted when dropped: a store
/// that really runs out of space, or really turns read-only (which `chmod`
/// cannot do for root). `None`, after saying why on stderr, where mounting
/// is not permitted.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "cannot mount a tmpfs ({}): test skipped",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("cannot run mount ({e}): test skipped");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `mount -o remount,OPTIONS`.
    fn remount(&self, options: &str) {
        let out = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remount,{options}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a daemon killed a moment ago may still hold a file open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run_command(config: &Path, args: &[&str]) -> std::process::Output {
    Binary::command()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn exported_links(config: &Path) -> Vec<String> {
    let out = run_command(config, &["export"]);
    assert!(out.status.success(), "export: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // Seen records of pruned items follow the items.
        .filter(|l| !l.starts_with("{\"seen\""))
        .map(|l| {
            let item: feedwire::item::Item = serde_json::from_str(l).unwrap();
            item.link.unwrap()
        })
        .collect()
}

/// A store that cannot be written at start (a read-only filesystem, or
/// for a non-root user a read-only folder): `run` and `poll-once` refuse
/// with an error naming the store's path, and once it is writable again the
/// store is intact.
///
/// The store cannot be made read-only under a running daemon: the kernel
/// refuses to remount a filesystem read-only while sled holds its file
/// open for writing ("mount point is busy"), and a `chmod` does not affect
/// a file already open. A store that fails writes while running is the
/// disk-full case below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_store_refuses_to_start_and_names_its_path() {
    let root = is_root();
    let tmpfs = if root {
        match Tmpfs::mount("8m") {
            Some(t) => Some(t),
            None => return,
        }
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap();
    let store = tmpfs.as_ref().map_or(dir.path(), |t| t.path()).join("data");
    let server = FeedServer::start().await;
    let control = server.route("/control.xml", Route::feed(control_feed(), RSS));
    let config = TestConfig::new()
        .store_at(&store)
        .feed("control", &control)
        .write(dir.path());
    let daemon = Binary::run(&config);
    daemon.wait_for_line("Outputs rendered. stored=3");
    daemon.signal("TERM");
    assert!(daemon.wait().success());

    let make_writable: Box<dyn Fn(bool)> = match &tmpfs {
        Some(t) => Box::new(move |rw| t.remount(if rw { "rw" } else { "ro" })),
        None => {
            let store = store.clone();
            Box::new(move |rw| {
                let mode = if rw { "u+w" } else { "a-w" };
                let ok = std::process::Command::new("chmod")
                    .args(["-R", mode])
                    .arg(&store)
                    .status()
                    .unwrap();
                assert!(ok.success());
            })
        }
    };
    make_writable(false);
    let why = if root {
        "Read-only file system"
    } else {
        "Permission denied"
    };
    for (args, code) in [(&["run"][..], 1), (&["poll-once"][..], 2)] {
        let out = run_command(&config, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        let expected = format!("feedwire: opening store {}: ", store.display());
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    make_writable(true);
    let mut links = exported_links(&config);
    links.sort();
    let mut expected: Vec<String> = CONTROL.iter().map(|(_, l)| l.to_string()).collect();
    expected.sort();
    assert_eq!(links, expected);
}

/// Serves a feed that cannot fit in a 2 MiB store: 300 items of 9 KB.
fn filling_feed(server: &FeedServer) -> String {
    server.route("/fill.xml", Route::feed(filling_document(), RSS))
}

/// The filling feed's document: 300 items, ~2.4 MB once packed.
fn filling_document() -> Vec<u8> {
    filling_document_of(300, 12_000)
}

/// `count` items of `size` Arabic letters each.
fn filling_document_of(count: usize, size: usize) -> Vec<u8> {
    // The store packs records (zstd), so repeated text would shrink to
    // nothing: each item gets its own letters, drawn by a fixed-seed
    // generator (12,000 of them pack to ~8 KB).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut letters = |n: usize| -> String {
        (0..n)
            .map(|k| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if k % 6 == 5 {
                    ' '
                } else {
                    char::from_u32(0x0621 + (state % 42) as u32).expect("Arabic letter")
                }
            })
            .collect()
    };
    let items: String = (0..count)
        .map(|i| {
            let text = letters(size);
            format!(
                "<item><title>خبر رقم {i}</title><link>http://hostile.test/fill/{i}</link><description>{text}</description></item>"
            )
        })
        .collect();
    rss("ملء القرص", &items)
}

/// A full disk must stay visible (`/healthz` reads `write_failure`) until a
/// flush works: the next feed's poll, with nothing new to write, succeeds
/// without touching the disk and must not make the store look healthy; a
/// flush that fails keeps it failing.
#[test]
fn a_poll_with_nothing_new_does_not_hide_a_full_disk() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        return;
    };
    let store = Store::open(&tmpfs.path().join("data")).unwrap();
    let parse = |feed: &str, body: &[u8]| {
        let url = url::Url::parse(&format!("http://hostile.test/{feed}.xml")).unwrap();
        feedwire::parse::parse_feed(
            feedwire::parse::FeedRef {
                url: &url,
                name: feed,
            },
            body,
            None,
            chrono::Utc::now(),
            feedwire::parse::Limits::default(),
        )
        .unwrap()
        .items
    };
    let control = parse("control", &control_feed());
    assert_eq!(store.ingest(&control).unwrap().new, CONTROL.len());
    store.flush().unwrap();
    assert_eq!(store.write_failure(), None);

    let fill = parse("fill", &filling_document());
    let failed = store
        .ingest(&fill)
        .expect_err("2.4 MB of packed items do not fit a 2 MiB store");
    assert!(failed.to_string().contains("No space left on device"), "{failed}");

    // The control feed again: its Arabic items are all known, so the
    // parse passes none of them on.
    let again = store.ingest(&[]).unwrap();
    assert_eq!((again.new, again.duplicate), (0, 0));
    let failure = store.write_failure().expect("still failing: nothing is durable");
    assert!(failure.contains("No space left on device"), "{failure}");
    assert!(store.flush().is_err(), "the disk is still full");
    assert!(store.write_failure().is_some());
}

/// A daemon on a 2 MiB store holding the control items, then told (by a
/// reload) to poll a feed that fills the disk. Returns once that poll failed.
async fn fill_the_disk(server: &FeedServer, tmpfs: &Tmpfs, dir: &Path) -> (Binary, PathBuf) {
    let control = server.route("/control.xml", Route::feed(control_feed(), RSS));
    let cfg = TestConfig::new()
        .listen(free_addr())
        .store_at(&tmpfs.path().join("data"))
        .feed("control", &control);
    let config = cfg.write(dir);
    let daemon = Binary::run(&config);
    daemon.wait_for_line("Outputs rendered. stored=3");
    let fill = filling_feed(server);
    cfg.feed("fill", &fill).write(dir);
    daemon.signal("HUP");
    // A store write failure is the operator's to fix, logged as an error
    // that says what to check (and not counted as the feed's fault).
    let failed = daemon.wait_for_line("Cannot store the feed's items");
    assert!(
        failed.contains("feed=fill") && failed.contains("No space left on device"),
        "{failed}"
    );
    assert!(failed.contains("check the store's disk space"), "{failed}");
    (daemon, config)
}

/// Disk full while running: the daemon keeps serving what it had, logs the
/// failure with the feed and the cause, and after a crash and more space
/// the store opens with every document's items all there or all absent;
/// the failed feed is then polled again and stored whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_keeps_serving_and_the_store_survives() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        return;
    };
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (daemon, config) = fill_the_disk(&server, &tmpfs, dir.path()).await;
    let addr = config_addr(&config);
    let (status, body) = get(addr, "/politics.rss").await;
    assert_eq!(status, 200);
    let (_, titles) = entries_of(&body);
    assert_eq!(titles.len(), CONTROL.len(), "{titles:?}");

    // A crash (a clean stop has its own problem: see below), then room.
    daemon.signal("KILL");
    daemon.wait();
    tmpfs.remount("size=64m");
    let daemon = Binary::run(&config);
    let listening = daemon.wait_for_line("Listening.");
    let at_start: usize = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("items="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no items= in {listening}"));
    assert!(
        at_start == 3 || at_start == 303,
        "all or none of the failed document: {listening}"
    );
    let stored = |links: Vec<String>| {
        let unique: std::collections::HashSet<&String> = links.iter().collect();
        assert_eq!(unique.len(), links.len(), "no item stored twice");
        links.len()
    };
    // Whether the failure could be recorded depends on which write hit the
    // full disk first: a feed with no saved state is polled at once and
    // stored whole; one recorded as failing carries the disk-full error and
    // is retried after its backoff.
    let (_, body) = get(addr, "/status.json").await;
    let statuses: Vec<FeedStatus> = serde_json::from_slice(&body).unwrap();
    let fill = statuses.iter().find(|s| s.name == "fill").unwrap();
    if fill.state == "failing" {
        let error = fill.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("No space left on device"), "{fill:?}");
        assert_eq!(stored(exported_links(&config)), at_start);
    } else {
        // Polled at start (maybe done already: the line waits in the log).
        daemon.wait_for_line("Poll round done. ok=1");
        assert_eq!(stored(exported_links(&config)), 303, "{fill:?}");
    }
    daemon.signal("TERM");
    assert!(daemon.wait().success());
}

fn config_addr(config: &Path) -> std::net::SocketAddr {
    feedwire::config::Config::load(config).unwrap().server.listen
}

/// The operator must learn that the store cannot be written: every poll
/// now fails, and the feed state that would say so often cannot be saved
/// either, so `/status.json` may show the failing feed as `pending` (never
/// polled). Seen too: once sled has failed a write it keeps failing every
/// write after space is freed, until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_shows_in_health() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        return;
    };
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (daemon, config) = fill_the_disk(&server, &tmpfs, dir.path()).await;
    let (status, body) = get(config_addr(&config), "/healthz").await;
    daemon.signal("KILL");
    daemon.wait();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
}

/// README: on SIGTERM feedwire "drains and flushes in a few seconds".
/// After sled has failed a write for lack of space, space is freed and one
/// more write is attempted, its flush never returns (seen in gdb: blocked
/// in `sled::pagecache::iobuf::make_stable`), and `Daemon::shutdown` waits
/// on it unbounded: systemd has to SIGKILL the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_after_a_disk_full_error_exits() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        return;
    };
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (daemon, config) = fill_the_disk(&server, &tmpfs, dir.path()).await;
    // Room again, and one more poll (and store write) before the stop.
    tmpfs.remount("size=64m");
    let more = server.route(
        "/more.xml",
        Route::feed(
            rss(
                "المزيد",
                &item("خبر بعد تحرير المساحة", "http://hostile.test/more/1"),
            ),
            RSS,
        ),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text + &format!("\n[[feed]]\nurl = {more:?}\nname = \"more\"\n"),
    )
    .unwrap();
    daemon.signal("HUP");
    // That write may fail (sled keeps failing after a write error) or
    // work; a flush after it can then block for good (seen in gdb: the
    // render's flush in `sled::pagecache::iobuf::make_stable`). Either way
    // the round ends: a stop must come after it. (The round can be logged
    // before "Config reloaded", not before the signal's line.)
    daemon.wait_for_line("SIGHUP: reloading the config.");
    daemon.wait_for_line("Poll round done.");
    // When the write worked, the render after it flushes: if that flush
    // hangs, no "Outputs rendered" comes and the stop arrives during it.
    let _ = daemon.line_within("Outputs rendered.", Duration::from_secs(5));
    daemon.signal("TERM");
    // Binary::wait fails the test (and kills the daemon) after WAIT.
    let status = daemon.wait();
    assert!(status.code().is_some(), "{status:?}");
}
