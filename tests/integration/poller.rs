//! The poller against a real HTTP server: schedules on a manual clock,
//! publisher asks, backoff, Retry-After, per-host limits, redirects, 410,
//! body caps, timeouts, charsets, outages, and the status the operator sees.
//!
//! Schedules are driven by [`ManualClock`]: a test moves time forward and
//! waits (bounded by [`WAIT`]) for the reports of the polls that must follow.
//! "Nothing was polled before its time" is checked with a sync point: a feed
//! that is due at that moment is polled by the same scheduler pass, so once
//! its report is in, the server's request log shows what else was polled.
//! Network timeouts use tokio's real timer (`[poll] timeout = "1s"`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use feedwire::app::Daemon;
use feedwire::clock::{Clock, ManualClock};
use feedwire::config::Config;
use feedwire::fetch::{Fetcher, MAX_REDIRECTS};
use feedwire::poller::{
    poll_all, poll_feed, FeedReport, Outcome, PollContext, MAX_BACKOFF, MAX_RETRY_AFTER, OUTAGE_RETRY,
};
use feedwire::server::Representation;
use feedwire::status::FeedStatus;
use feedwire::store::{FeedState, Store};
use tokio::sync::broadcast;
use tokio::time::timeout;

use crate::support::*;

const RSS: &str = "application/rss+xml";

/// Where the manual clock starts: a fixed moment, unrelated to real time.
pub(crate) fn t0() -> DateTime<Utc> {
    "2025-11-29T10:00:00Z".parse().unwrap()
}

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap()
}

fn gap(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from)
        .to_std()
        .unwrap_or_else(|_| panic!("{to} is before {from}"))
}

/// Moves the clock forward to `t` (never back).
pub(crate) fn advance_to(clock: &ManualClock, t: DateTime<Utc>) {
    let now = clock.now();
    if t > now {
        clock.advance(gap(now, t));
    }
}

fn rfc3339(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .with_timezone(&Utc)
}

fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_owned()
}

/// `lo <= d <= lo * (1 + jitter)`: the poller's waits carry up to that much
/// jitter, always upwards.
fn assert_within(what: &str, d: Duration, lo: Duration, jitter: f64) {
    let hi = lo.mul_f64(1.0 + jitter);
    assert!(
        lo <= d && d <= hi,
        "{what}: waited {d:?}, expected between {lo:?} and {hi:?}"
    );
}

fn error_of(r: &FeedReport) -> &str {
    match &r.outcome {
        Outcome::Failed { error } => error,
        other => panic!("{} did not fail: {other:?}", r.url),
    }
}

fn assert_ok(r: &FeedReport) {
    assert!(
        !matches!(r.outcome, Outcome::Failed { .. }),
        "{} failed: {:?}",
        r.url,
        r.outcome
    );
}

/// Every feed poll's report, for waiting on one feed while keeping the
/// reports of others for later.
pub(crate) struct Reports {
    rx: broadcast::Receiver<FeedReport>,
    kept: Vec<FeedReport>,
}

impl Reports {
    pub(crate) fn new(daemon: &Daemon) -> Reports {
        Reports {
            rx: daemon.reports(),
            kept: Vec::new(),
        }
    }

    /// The next report of any feed.
    async fn next(&mut self) -> FeedReport {
        if !self.kept.is_empty() {
            return self.kept.remove(0);
        }
        self.recv("any feed").await
    }

    /// The next report of the feed configured as `url`.
    pub(crate) async fn of(&mut self, url: &str) -> FeedReport {
        if let Some(i) = self.kept.iter().position(|r| r.url == url) {
            return self.kept.remove(i);
        }
        loop {
            let r = self.recv(url).await;
            if r.url == url {
                return r;
            }
            self.kept.push(r);
        }
    }

    /// The next report of each feed, in the order given.
    async fn of_all(&mut self, urls: &[String]) -> Vec<FeedReport> {
        let mut out = Vec::new();
        for u in urls {
            out.push(self.of(u).await);
        }
        out
    }

    async fn recv(&mut self, what: &str) -> FeedReport {
        match timeout(WAIT, self.rx.recv()).await {
            Ok(r) => r.expect("the daemon sends reports"),
            Err(_) => panic!(
                "no report for {what} within {WAIT:?}; reports kept: {:?}",
                self.kept.iter().map(|r| &r.url).collect::<Vec<_>>()
            ),
        }
    }
}

/// Starts a daemon on the manual clock. Answers are held until the report
/// receiver exists, so that no report is missed.
pub(crate) async fn start(
    server: &FeedServer,
    config: Config,
    clock: &Arc<ManualClock>,
) -> (Daemon, Reports) {
    server.hold();
    let daemon = Daemon::start_with_clock(config, clock.clone()).await.unwrap();
    let reports = Reports::new(&daemon);
    server.release();
    (daemon, reports)
}

/// `GET /status.json` of a running daemon.
pub(crate) async fn statuses(daemon: &Daemon) -> Vec<FeedStatus> {
    let resp = http_client()
        .get(format!("http://{}/status.json", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

pub(crate) async fn status_of(daemon: &Daemon, url: &str) -> FeedStatus {
    statuses(daemon)
        .await
        .into_iter()
        .find(|s| s.url == url)
        .unwrap_or_else(|| panic!("{url} not in /status.json"))
}

/// A poll context on the config's store, as `poll-once` builds it, with
/// the manual clock.
pub(crate) fn context(config: &Config, clock: &Arc<ManualClock>) -> PollContext {
    let store = Store::open(&config.storage.path).unwrap();
    let fetcher = Fetcher::new(&config.poll).unwrap();
    PollContext::new(store, fetcher, clock.clone(), config)
}

/// Polls the feed configured as `url` once (bounded).
pub(crate) async fn poll_url(ctx: &PollContext, config: &Config, url: &str) -> FeedReport {
    let feed = config
        .feeds
        .iter()
        .find(|f| f.url.as_str() == url)
        .unwrap_or_else(|| panic!("{url} not configured"));
    timeout(WAIT, poll_feed(ctx, feed, config.interval_of(feed)))
        .await
        .unwrap_or_else(|_| panic!("polling {url} took longer than {WAIT:?}"))
}

pub(crate) fn state(ctx: &PollContext, url: &str) -> FeedState {
    ctx.store
        .feed_state(url)
        .unwrap()
        .unwrap_or_else(|| panic!("no state for {url}"))
}

/// The text of the first `<tag>` after `from` in a fixture, decoded with
/// the fixture's real charset.
fn fixture_text(name: &str, encoding: &'static encoding_rs::Encoding, from: &str, tag: &str) -> String {
    let bytes = fixture(name);
    let (text, _, bad) = encoding.decode(&bytes);
    assert!(!bad, "{name} is {}", encoding.name());
    let rest = &text[text.find(from).unwrap()..];
    let open = format!("<{tag}>");
    let start = rest.find(&open).unwrap() + open.len();
    let end = start + rest[start..].find(&format!("</{tag}>")).unwrap();
    rest[start..end].to_owned()
}

// ---------------------------------------------------------------------------
// 1. First start

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_spreads_new_feeds_over_first_poll_spread() {
    const FEEDS: usize = 10;
    const STEPS: u32 = 10;
    let spread = Duration::from_secs(600);
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = fixture("aljazeera_rss2.xml");
    let mut cfg = TestConfig::new()
        .poll("first_poll_spread", "\"10m\"")
        .poll("per_host", "32")
        .poll("concurrency", "32");
    let feeds: Vec<String> = (0..FEEDS)
        .map(|i| server.route(&format!("/new/{i}.xml"), Route::feed(body.clone(), RSS)))
        .collect();
    // Markers: feeds polled before, due at known moments (one per step of
    // the spread). A marker's report means the scheduler has been through
    // that moment and started everything due by then.
    let step = spread / STEPS;
    let markers: Vec<String> = (0..=STEPS)
        .map(|k| server.route(&format!("/marker/{k}.xml"), Route::feed(body.clone(), RSS)))
        .collect();
    for (i, u) in feeds.iter().enumerate() {
        cfg = cfg.feed(&format!("new {i}"), u);
    }
    for (k, u) in markers.iter().enumerate() {
        cfg = cfg.feed(&format!("marker {k}"), u);
    }
    let config = cfg.load(dir.path());
    assert_eq!(config.poll.first_poll_spread, spread);
    {
        let store = Store::open(&config.storage.path).unwrap();
        for (k, u) in markers.iter().enumerate() {
            let due = after(t0(), step * k as u32);
            let state = FeedState {
                next_due: Some(due.timestamp()),
                ..FeedState::default()
            };
            store.put_feed_state(u, &state).unwrap();
        }
        store.flush().unwrap();
    }

    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    for (k, marker) in markers.iter().enumerate() {
        if k > 0 {
            clock.advance(step);
        }
        reports.of(marker).await;
    }
    assert_eq!(clock.now(), after(t0(), spread));
    // Advancing by the spread has polled every new feed.
    for r in reports.of_all(&feeds).await {
        assert_ok(&r);
    }

    let status = statuses(&daemon).await;
    let first_polls: Vec<DateTime<Utc>> = feeds
        .iter()
        .map(|u| {
            let s = status.iter().find(|s| &s.url == u).unwrap();
            rfc3339(s.last_attempt.as_deref().unwrap())
        })
        .collect();
    for (u, t) in feeds.iter().zip(&first_polls) {
        assert!(
            (t0()..=after(t0(), spread)).contains(t),
            "{u} first polled at {t}"
        );
        assert_eq!(server.requests_to(&path_of(u)), 1, "{u} polled once");
    }
    let at_start = first_polls.iter().filter(|t| **t == t0()).count();
    assert!(
        at_start < FEEDS,
        "every new feed was polled at start: {first_polls:?}"
    );
    let distinct: BTreeSet<_> = first_polls.iter().collect();
    assert!(
        distinct.len() >= 3,
        "new feeds are not spread over the window: {first_polls:?}"
    );
    daemon.shutdown().await.unwrap();
}

/// More feeds due at once than the scheduler starts at once (2 ×
/// (concurrency + body slots): 10 with concurrency 1 on CI's 2 cores): the
/// rest wait for polls to end, not for time to pass, and all are polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_feeds_due_than_the_start_window_are_all_polled_at_once() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = fixture("youm7_cp1256.xml");
    let mut cfg = TestConfig::new()
        .poll("first_poll_spread", "\"0s\"")
        .poll("concurrency", "1")
        .poll("per_host", "16");
    let feeds: Vec<String> = (0..14)
        .map(|i| server.route(&format!("/due/{i}.xml"), Route::feed(body.clone(), "text/xml")))
        .collect();
    for (i, u) in feeds.iter().enumerate() {
        cfg = cfg.feed(&format!("اليوم السابع {i}"), u);
    }
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, cfg.load(dir.path()), &clock).await;
    for r in reports.of_all(&feeds).await {
        assert_ok(&r);
    }
    assert_eq!(clock.now(), t0(), "no time had to pass");
    assert_eq!(server.max_in_flight(), 1, "concurrency 1 still holds");
    for u in &feeds {
        assert_eq!(server.requests_to(&path_of(u)), 1, "{u} polled once");
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_first_poll_spread_polls_every_new_feed_at_start() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let body = fixture("aljazeera_rss2.xml");
    let mut cfg = TestConfig::new()
        .poll("first_poll_spread", "\"0s\"")
        .poll("per_host", "16");
    let feeds: Vec<String> = (0..10)
        .map(|i| server.route(&format!("/new/{i}.xml"), Route::feed(body.clone(), RSS)))
        .collect();
    for (i, u) in feeds.iter().enumerate() {
        cfg = cfg.feed(&format!("new {i}"), u);
    }
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, cfg.load(dir.path()), &clock).await;
    // No time passes: every feed is polled anyway.
    for r in reports.of_all(&feeds).await {
        assert_ok(&r);
    }
    assert_eq!(clock.now(), t0());
    for s in statuses(&daemon).await {
        assert_eq!(s.last_attempt.as_deref().map(rfc3339), Some(t0()), "{}", s.url);
    }
    daemon.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// 2. Interval and publisher asks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_ttl_and_max_age_postpone_the_next_poll() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ttl_minutes = 120;
    let ttl_body = String::from_utf8(fixture("aljazeera_rss2.xml"))
        .unwrap()
        .replacen("<channel>", &format!("<channel>\n<ttl>{ttl_minutes}</ttl>"), 1);
    let max_age = 7200;
    let ttl = server.route("/ttl.xml", Route::feed(ttl_body.into_bytes(), RSS));
    let cached = server.route(
        "/max-age.xml",
        Route::feed(fixture("youm7_cp1256.xml"), "text/xml")
            .header("Cache-Control", &format!("public, max-age={max_age}")),
    );
    // `Expires` three hours after the server's `Date` (which agrees with
    // our clock).
    let expires_in = Duration::from_secs(3 * 3600);
    let expiring = server.route(
        "/expires.xml",
        Route::feed(fixture("aljazeera_rss2.xml"), RSS)
            .header("Date", &http_date(t0()))
            .header("Expires", &http_date(after(t0(), expires_in))),
    );
    let plain = server.route("/plain.xml", Route::feed(fixture("aljazeera_rss2.xml"), RSS));
    let config = TestConfig::new()
        .feed("ttl", &ttl)
        .feed("max-age", &cached)
        .feed("expires", &expiring)
        .feed("plain", &plain)
        .load(dir.path());
    let interval = config.poll.interval;
    // (feed, what it asks, whether the ask still holds on the next poll:
    // an `Expires` date does not move).
    let asks = [
        (ttl.clone(), Duration::from_secs(ttl_minutes * 60), true),
        (cached.clone(), Duration::from_secs(max_age), true),
        (expiring.clone(), expires_in, false),
    ];
    for (_, asked, _) in &asks {
        assert!(*asked > interval, "the publisher asks for less than the interval");
    }

    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let mut due = Vec::new();
    for (url, asked, again) in &asks {
        let r = reports.of(url).await;
        assert_ok(&r);
        let next = r.next_due.unwrap();
        // Never sooner than asked; up to 5% jitter later.
        assert_within(url, gap(t0(), next), *asked, 0.05);
        let s = status_of(&daemon, url).await;
        assert_eq!(s.next_due.as_deref().map(rfc3339), Some(next.trunc_subsecs(0)));
        due.push((url.clone(), *asked, *again, next));
    }
    let r = reports.of(&plain).await;
    assert_within("plain", gap(t0(), r.next_due.unwrap()), interval, 0.05);

    // A second before the earliest of them, the plain feed is due (and is
    // polled); the others are not.
    due.sort_by_key(|(_, _, _, next)| *next);
    advance_to(&clock, due[0].3 - chrono::Duration::seconds(1));
    assert_ok(&reports.of(&plain).await);
    for (url, _, _, _) in &due {
        assert_eq!(server.requests_to(&path_of(url)), 1, "{url} polled early");
    }
    // From their due time on, each is polled. `<ttl>` (stored) and
    // `max-age` (sent again on the 304) still hold after a 304; a past
    // `Expires` leaves the interval.
    for (url, asked, again, next) in &due {
        advance_to(&clock, *next);
        let r = reports.of(url).await;
        assert_eq!(r.outcome, Outcome::NotModified, "{url}");
        assert_eq!(server.requests_to(&path_of(url)), 2, "{url}");
        let wait = gap(clock.now(), r.next_due.unwrap());
        assert_within(url, wait, if *again { *asked } else { interval }, 0.05);
    }
    daemon.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// 3. Backoff

/// The wait after the `failures`-th failure in a row, before jitter: a
/// quarter of the interval (at least a minute), doubling, capped.
fn backoff_floor(interval: Duration, failures: u32) -> Duration {
    let base = (interval / 4).max(Duration::from_secs(60));
    base.saturating_mul(2u32.saturating_pow(failures - 1))
        .min(MAX_BACKOFF)
}

/// Every stored item has an Arabic title, and there is one: a feed's
/// windows-1256 document was read (`what` names it).
fn assert_arabic_titles_stored(daemon: &Daemon, what: &str) {
    let mut titles = Vec::new();
    daemon
        .store()
        .for_each_item(|i| {
            titles.push(i.title);
            true
        })
        .unwrap();
    let arabic = |t: &String| t.chars().any(|c| ('\u{0621}'..='\u{064A}').contains(&c));
    assert!(
        !titles.is_empty() && titles.iter().all(arabic),
        "{what}: Arabic titles stored: {titles:?}"
    );
}

/// A publisher behind a bot wall answers 403 with its vendor's headers: the
/// error says who refused and what to try, and a feed's own `user_agent`
/// is what its requests carry (an Arabic site, in windows-1256, that only
/// serves browsers), while the other feeds keep `[poll]`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_wall_is_named_and_a_feed_sends_its_own_user_agent() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let walled = server.route(
        "/walled.xml",
        Route::status(403)
            .header("Server", "cloudflare")
            .header("cf-mitigated", "challenge"),
    );
    let firewalled = server.route(
        "/firewalled.xml",
        Route::status(403).header("Server", "cloudflare"),
    );
    let plain = server.route("/plain.xml", Route::status(403));
    let youm7 = server.serve_fixture("/youm7.xml", "youm7_cp1256.xml", RSS);
    let browser = "Mozilla/5.0 (X11; Linux x86_64) feedwire-test/VERSION";
    let config = TestConfig::new()
        .feed("walled", &walled)
        .feed("firewalled", &firewalled)
        .feed("plain", &plain)
        .feed_with("اليوم السابع", &youm7, &[("user_agent", &format!("{browser:?}"))])
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;

    let r = reports.of(&walled).await;
    assert!(
        error_of(&r).starts_with("HTTP 403: Cloudflare's bot challenge, which refuses automated clients")
            && error_of(&r).contains("[[feed]] user_agent"),
        "{:?}",
        r.outcome
    );
    let s = status_of(&daemon, &walled).await;
    assert_eq!(s.last_error.as_deref(), Some(error_of(&r)));
    assert_eq!(s.last_status, Some(403));
    let r = reports.of(&firewalled).await;
    assert!(
        error_of(&r).starts_with("HTTP 403: Cloudflare's firewall"),
        "{:?}",
        r.outcome
    );
    // Nothing names a wall that did not say so.
    let r = reports.of(&plain).await;
    assert_eq!(error_of(&r), "HTTP 403");

    let r = reports.of(&youm7).await;
    assert_ok(&r);
    let agents = |path: &str| -> Vec<String> {
        let seen = server.requests_for(path);
        seen.into_iter()
            .map(|q| q.user_agent.unwrap_or_default())
            .collect()
    };
    let own = browser.replace("VERSION", env!("CARGO_PKG_VERSION"));
    assert_eq!(agents("/youm7.xml"), [own]);
    let default = agents("/walled.xml");
    assert!(
        default.len() == 1 && default[0].starts_with("feedwire/"),
        "{default:?}"
    );
    assert_arabic_titles_stored(&daemon, "youm7_cp1256.xml");
    daemon.shutdown().await.unwrap();
}

/// A feed URL with a user name and password (an Arabic user name,
/// percent-encoded, and a password with an escaped `@`): they go to the
/// feed's host as HTTP Basic authentication, never to the host a redirect
/// leads to, and never into what feedwire shows or publishes. A token in
/// a feed URL's query (a private feed's) is sent and never published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_feed_url_go_to_its_host_only_and_are_never_shown() {
    let server = FeedServer::start().await;
    let elsewhere = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let private = server.serve_fixture("/private.xml", "youm7_cp1256.xml", RSS);
    let moved = elsewhere.serve_fixture("/moved.xml", "aljazeera_rss2.xml", RSS);
    let moving = server.route("/moving.xml", Route::redirect(302, &moved));
    let tokened = server.serve_fixture("/tokened.xml", "drops_cp1256.xml", RSS) + "?lang=ar&Feed_Token=T0K3N";
    let with_login = |url: &str| url.replacen("http://", "http://%D8%B9%D9%84%D9%8A:s3cr%40t-pw@", 1);
    let config = TestConfig::new()
        .feed("خاص", &with_login(&private))
        .feed("moving", &with_login(&moving))
        .feed("برمز", &tokened)
        .load(dir.path());
    assert_eq!(
        config.feeds[0].url.as_str(),
        private,
        "the login is taken out of the URL"
    );
    let login = config.feeds[0].credentials.clone().unwrap();
    assert_eq!(
        (login.username.as_str(), login.password.as_deref()),
        ("علي", Some("s3cr@t-pw"))
    );
    assert!(!format!("{login:?}").contains("s3cr"), "{login:?}");
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    assert_ok(&reports.of(&private).await);
    assert_ok(&reports.of(&moving).await);
    assert_ok(&reports.of(&tokened).await);
    let queries: Vec<Option<String>> = server
        .requests_for("/tokened.xml")
        .into_iter()
        .map(|q| q.query)
        .collect();
    assert_eq!(
        queries,
        [Some("lang=ar&Feed_Token=T0K3N".to_owned())],
        "sent as written"
    );

    // RFC 7617: base64 of "علي:s3cr@t-pw" in UTF-8.
    let basic = "Basic 2LnZhNmKOnMzY3JAdC1wdw==";
    let auth_of = |server: &FeedServer, path: &str| -> Vec<Option<String>> {
        let seen = server.requests_for(path);
        seen.into_iter().map(|q| q.authorization).collect()
    };
    assert_eq!(auth_of(&server, "/private.xml"), [Some(basic.to_owned())]);
    assert_eq!(auth_of(&server, "/moving.xml"), [Some(basic.to_owned())]);
    assert_eq!(
        auth_of(&elsewhere, "/moved.xml"),
        [None],
        "no password for another host"
    );

    // What subscribers and operators read names the feed without its login.
    let published = daemon.published();
    let mut renders = published.subscribe();
    let untokened = tokened.replace("&Feed_Token=T0K3N", "").replace('&', "&amp;");
    let carries_private = |_: &u64| {
        published.get("politics.rss").is_some_and(|d| {
            let rss = String::from_utf8_lossy(&d.body);
            rss.contains(&private) && rss.contains(&untokened)
        })
    };
    timeout(WAIT, renders.wait_for(carries_private))
        .await
        .expect("a render with the private feed's items")
        .unwrap();
    let status = get_text(&format!("http://{}/status.json", daemon.addr)).await;
    let page = get_text(&format!("http://{}/", daemon.addr)).await;
    assert!(
        status.contains(&untokened.replace("&amp;", "&")),
        "the feed, by its URL without the token: {status}"
    );
    for (name, text) in ["politics.rss", "politics.atom", "politics.json", "feeds.opml"]
        .into_iter()
        .map(|n| {
            (
                n,
                String::from_utf8_lossy(&published.get(n).unwrap().body).into_owned(),
            )
        })
        .chain([("status.json", status), ("status page", page)])
    {
        for secret in ["s3cr", "%D8%B9%D9%84%D9%8A", "علي"] {
            assert!(!text.contains(secret), "{name} shows {secret:?}");
        }
        assert!(!text.contains("T0K3N"), "{name} shows a feed's token");
    }
    daemon.shutdown().await.unwrap();
}

/// `[poll] proxy`: fetches go through it (here a feed server answering the
/// absolute-form requests a proxy receives), so a name feedwire cannot
/// resolve is fetched when the feed lets the proxy resolve it; and a name
/// that resolves to a loopback address is still refused, before the proxy
/// is asked, for a feed that may not reach private networks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_go_through_the_proxy_and_names_are_still_checked() {
    let proxy = FeedServer::start().await;
    proxy.serve_fixture("/youm7.xml", "youm7_cp1256.xml", RSS);
    let dir = tempfile::tempdir().unwrap();
    let through = "http://news.example/youm7.xml";
    let inside = "http://localhost:9/inside.xml";
    let config = TestConfig::new()
        .poll("proxy", &format!("{:?}", proxy.url("/")))
        .feed("اليوم السابع", through)
        .feed_with("inside", inside, &[("allow_private_networks", "false")])
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&proxy, config.clone(), &clock).await;

    assert_ok(&reports.of(through).await);
    let seen: Vec<(String, String)> = proxy.requests().into_iter().map(|q| (q.host, q.path)).collect();
    assert_eq!(seen, [("news.example".to_owned(), "/youm7.xml".to_owned())]);
    assert_arabic_titles_stored(&daemon, "youm7_cp1256.xml, through the proxy");

    daemon.shutdown().await.unwrap();

    // Polled on its own: the refusal needs no server, so under the daemon
    // its report could come before anyone listens.
    let ctx = context(&config, &clock);
    let r = poll_url(&ctx, &config, inside).await;
    assert!(
        error_of(&r).starts_with("refused: localhost is ")
            && error_of(&r).contains("private or local address"),
        "{:?}",
        r.outcome
    );
    assert_eq!(proxy.requests().len(), 1, "the proxy was not asked for it");
}

/// A server whose ETag does not follow its document (one ETag for
/// whatever it serves, and 304 to it) would keep the feed "not modified"
/// for good. A day after its last full answer the feed is fetched without
/// validators; the changed document (Arabic, windows-1256, after a UTF-8
/// one) is read, and since it came with the ETag we held, the feed is polled
/// without validators from then on. A server whose ETag follows its
/// document keeps its conditional requests after the daily check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_etag_does_not_follow_its_document_is_found_out() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let stuck_on_v1 = |fixture_name: &str| Route {
        etag: Some("\"v1\"".into()),
        ..Route::feed(fixture(fixture_name), RSS)
    };
    let bad = server.route("/bad.xml", stuck_on_v1("aljazeera_rss2.xml"));
    let good = server.serve_fixture("/good.xml", "aljazeera_rss2.xml", RSS);
    let cosmetic = server.route("/cosmetic.xml", stuck_on_v1("drops_cp1256.xml"));
    let config = TestConfig::new()
        .feed_every("bad", &bad, "6h")
        .feed_every("good", &good, "6h")
        .feed_every("cosmetic", &cosmetic, "6h")
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let mut due = std::collections::HashMap::new();
    for url in [&bad, &good, &cosmetic] {
        let r = reports.of(url).await;
        assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
        due.insert(url.clone(), r.next_due.unwrap());
    }
    let stored = |daemon: &Daemon| {
        let mut n = 0;
        daemon
            .store()
            .for_each_item(|_| {
                n += 1;
                true
            })
            .unwrap();
        n
    };
    let before = stored(&daemon);
    // The publisher's document changes; its server still says "v1".
    server.set("/bad.xml", stuck_on_v1("youm7_cp1256.xml"));
    // Another changes outside its entries only, under the same ETag.
    let mut touched = fixture("drops_cp1256.xml");
    touched.extend_from_slice(b"\n<!-- built again -->\n");
    server.set(
        "/cosmetic.xml",
        Route {
            etag: Some("\"v1\"".into()),
            ..Route::feed(touched, RSS)
        },
    );

    // Poll both until each was polled past a day and a half.
    let end = after(t0(), Duration::from_secs(36 * 3600));
    while due.values().any(|t| *t < end) {
        let (url, at) = due
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(u, t)| (u.clone(), *t))
            .unwrap();
        advance_to(&clock, at);
        let r = reports.of(&url).await;
        assert_ok(&r);
        due.insert(url, r.next_due.unwrap());
    }
    let sent = |path: &str| -> Vec<bool> {
        let seen = server.requests_for(path);
        seen.iter().map(|q| q.if_none_match.is_some()).collect()
    };
    // First without validators, then conditional (304s, the change unseen)
    // until a day had passed, then never again.
    let bad_sent = sent("/bad.xml");
    let first_plain = bad_sent.iter().skip(1).position(|c| !c).unwrap() + 1;
    assert!(first_plain >= 4, "conditional for the first day: {bad_sent:?}");
    assert!(bad_sent[1..first_plain].iter().all(|c| *c), "{bad_sent:?}");
    assert!(
        bad_sent[first_plain..].iter().all(|c| !c) && bad_sent.len() > first_plain + 1,
        "{bad_sent:?}"
    );
    assert!(stored(&daemon) > before, "the changed document was read");
    let s = status_of(&daemon, &bad).await;
    assert!(s.validators_ignored, "{s:?}");
    assert!(
        s.note().unwrap().contains("polled without ETag/Last-Modified"),
        "{:?}",
        s.note()
    );

    // The well-behaved server: one unconditional request a day, then
    // conditional again.
    let good_sent = sent("/good.xml");
    let plain: Vec<usize> = good_sent
        .iter()
        .enumerate()
        .filter(|(_, c)| !**c)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        plain.len(),
        2,
        "the first request and the daily one: {good_sent:?}"
    );
    assert!(
        plain[1] + 1 < good_sent.len() && good_sent[plain[1] + 1],
        "{good_sent:?}"
    );
    assert!(!status_of(&daemon, &good).await.validators_ignored);

    // Its daily request read a changed document with no entry it lacked:
    // the validators hid nothing, and stay.
    let cosmetic_sent = sent("/cosmetic.xml");
    let plain: Vec<usize> = cosmetic_sent
        .iter()
        .enumerate()
        .filter(|(_, c)| !**c)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(plain.len(), 2, "{cosmetic_sent:?}");
    assert!(
        plain[1] + 1 < cosmetic_sent.len() && cosmetic_sent[plain[1] + 1],
        "{cosmetic_sent:?}"
    );
    assert!(!status_of(&daemon, &cosmetic).await.validators_ignored);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_exponentially_and_reset_on_success() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.route("/flaky.xml", Route::status(500));
    let config = TestConfig::new().feed("flaky", &url).load(dir.path());
    let interval = config.interval_of(&config.feeds[0]);
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;

    // Fail until the wait has been capped twice.
    let mut failures = 0;
    let mut capped = 0;
    let mut last_wait = Duration::ZERO;
    let mut next = loop {
        let r = reports.of(&url).await;
        failures += 1;
        assert!(error_of(&r).contains("HTTP 500"), "{:?}", r.outcome);
        let started = clock.now();
        let wait = gap(started, r.next_due.unwrap());
        let floor = backoff_floor(interval, failures);
        assert_within(&format!("failure {failures}"), wait, floor, 0.1);
        if floor < MAX_BACKOFF {
            assert!(wait > last_wait, "failure {failures}: the wait grows");
        }
        last_wait = wait;
        let s = status_of(&daemon, &url).await;
        assert_eq!(s.consecutive_failures, failures);
        assert_eq!(s.state, "failing");
        assert_eq!(s.last_status, Some(500));
        assert_eq!(server.requests_to("/flaky.xml"), failures as usize);
        if floor == MAX_BACKOFF {
            capped += 1;
            if capped == 2 {
                break r.next_due.unwrap();
            }
        }
        advance_to(&clock, r.next_due.unwrap());
    };
    assert!(failures >= 3);

    // Back to normal: the next poll succeeds and the schedule is the
    // interval again.
    server.serve_fixture("/flaky.xml", "aljazeera_rss2.xml", RSS);
    advance_to(&clock, next);
    let r = reports.of(&url).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
    next = r.next_due.unwrap();
    assert_within("after recovery", gap(clock.now(), next), interval, 0.05);
    let s = status_of(&daemon, &url).await;
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.last_error, None);
    assert_eq!(s.state, "ok");
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_waits_at_least_a_minute_on_short_intervals() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.route("/fast.xml", Route::status(500));
    let config = TestConfig::new().feed_every("fast", &url, "1m").load(dir.path());
    let interval = config.interval_of(&config.feeds[0]);
    assert_eq!(interval, Duration::from_secs(60));
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    for failures in 1..=3 {
        let r = poll_url(&ctx, &config, &url).await;
        let wait = gap(clock.now(), r.next_due.unwrap());
        assert_within(
            &format!("failure {failures}"),
            wait,
            backoff_floor(interval, failures),
            0.1,
        );
        assert!(wait >= Duration::from_secs(60) * 2u32.pow(failures - 1));
        assert_eq!(state(&ctx, &url).consecutive_failures, failures);
        advance_to(&clock, r.next_due.unwrap());
    }
}

// ---------------------------------------------------------------------------
// 4. Retry-After

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_delays_only_the_limited_feed_and_is_capped() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The server's clock agrees with ours.
    let date = http_date(t0());
    let three_days = Duration::from_secs(3 * 86_400);
    assert!(MAX_RETRY_AFTER < three_days);
    let ok = server.serve_fixture("/ok.xml", "aljazeera_rss2.xml", RSS);
    let limited = server.route(
        "/429.xml",
        Route::status(429)
            .header("Retry-After", "120")
            .header("Date", &date),
    );
    let retry_at = after(t0(), Duration::from_secs(2 * 3600));
    let unavailable = server.route(
        "/503.xml",
        Route::status(503).header("Retry-After", &http_date(retry_at)),
    );
    let far_date = server.route(
        "/503-far.xml",
        Route::status(503).header("Retry-After", &http_date(after(t0(), three_days))),
    );
    let far_secs = server.route(
        "/429-far.xml",
        Route::status(429)
            .header("Retry-After", &three_days.as_secs().to_string())
            .header("Date", &date),
    );
    let config = TestConfig::new()
        .feed("ok", &ok)
        .feed("429", &limited)
        .feed("503", &unavailable)
        .feed("503 far", &far_date)
        .feed("429 far", &far_secs)
        .load(dir.path());
    let interval = config.poll.interval;
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;

    let r = reports.of(&limited).await;
    assert!(error_of(&r).contains("HTTP 429"), "{:?}", r.outcome);
    assert_eq!(r.next_due, Some(after(t0(), Duration::from_secs(120))));
    let r = reports.of(&unavailable).await;
    assert!(error_of(&r).contains("HTTP 503"), "{:?}", r.outcome);
    assert!(error_of(&r).contains("retrying after"), "{:?}", r.outcome);
    assert_eq!(r.next_due, Some(retry_at));
    for far in [&far_date, &far_secs] {
        let r = reports.of(far).await;
        assert_eq!(r.next_due, Some(after(t0(), MAX_RETRY_AFTER)), "{far}");
    }
    let r = reports.of(&ok).await;
    assert_ok(&r);
    let ok_due = r.next_due.unwrap();
    assert_within("ok", gap(t0(), ok_due), interval, 0.05);
    let s = status_of(&daemon, &unavailable).await;
    assert_eq!((s.state.as_str(), s.last_status), ("failing", Some(503)));
    assert_eq!(s.next_due.as_deref().map(rfc3339), Some(retry_at));

    // The 429 is lifted. The other feed on the same host keeps its schedule
    // and the lifted feed is polled again; the 503 feed is left alone until
    // its time.
    server.serve_fixture("/429.xml", "youm7_cp1256.xml", "text/xml");
    advance_to(&clock, ok_due);
    assert_ok(&reports.of(&ok).await);
    assert_ok(&reports.of(&limited).await);
    advance_to(&clock, retry_at - chrono::Duration::seconds(1));
    assert_ok(&reports.of(&ok).await);
    assert_eq!(server.requests_to("/503.xml"), 1, "polled before Retry-After");
    advance_to(&clock, retry_at);
    reports.of(&unavailable).await;
    assert_eq!(server.requests_to("/503.xml"), 2);
    for far in ["/503-far.xml", "/429-far.xml"] {
        assert_eq!(server.requests_to(far), 1, "{far}");
    }
    daemon.shutdown().await.unwrap();
}

/// RFC 9110 §10.2.3: delay-seconds count from when the response is
/// received, i.e. from our clock, whatever the server's `Date` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_seconds_count_from_our_clock() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A server whose clock is an hour slow, and one sending no Date at all.
    let skewed = server.route(
        "/skewed.xml",
        Route::status(429)
            .header("Retry-After", "120")
            .header("Date", &http_date(t0() - chrono::Duration::hours(1))),
    );
    let config = TestConfig::new().feed("skewed", &skewed).load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let r = poll_url(&ctx, &config, &skewed).await;
    assert_eq!(r.next_due, Some(after(t0(), Duration::from_secs(120))));
}

/// config.rs: "Feeds are never polled more often than [`MIN_INTERVAL`],
/// whatever the config says: publishers rate-limit or ban clients that
/// hammer them." A 429 is exactly that publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_never_polls_more_often_than_min_interval() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let now = server.route(
        "/now.xml",
        Route::status(429)
            .header("Retry-After", "0")
            .header("Date", &http_date(t0())),
    );
    let past = server.route(
        "/past.xml",
        Route::status(503).header("Retry-After", &http_date(t0() - chrono::Duration::hours(1))),
    );
    let config = TestConfig::new()
        .feed("now", &now)
        .feed("past", &past)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    for url in [&now, &past] {
        let r = poll_url(&ctx, &config, url).await;
        let wait = gap(clock.now(), r.next_due.unwrap());
        assert!(wait >= config.poll.min_interval, "{url}: retried after {wait:?}");
    }
}

// ---------------------------------------------------------------------------
// 5. Per-host limit

/// Polls six feeds on one host with every answer held, letting them go one
/// at a time once as many as allowed are waiting; returns the most requests
/// the server saw in flight at once.
async fn most_in_flight_with(per_host: usize) -> usize {
    const FEEDS: usize = 6;
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new()
        .poll("per_host", &per_host.to_string())
        .poll("concurrency", "16");
    let feeds: Vec<String> = (0..FEEDS)
        .map(|i| server.serve_fixture(&format!("/f{i}.xml"), "aljazeera_rss2.xml", RSS))
        .collect();
    for (i, u) in feeds.iter().enumerate() {
        cfg = cfg.feed(&format!("feed {i}"), u);
    }
    let config = cfg.load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    server.hold();
    let daemon = Daemon::start_with_clock(config, clock).await.unwrap();
    let mut reports = Reports::new(&daemon);
    for answered in 0..FEEDS {
        let waiting = per_host.min(FEEDS - answered);
        timeout(WAIT, server.wait_in_flight(waiting))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "per_host = {per_host}: {} in flight, expected {waiting}",
                    server.in_flight()
                )
            });
        server.release_one();
        assert_ok(&reports.next().await);
    }
    daemon.shutdown().await.unwrap();
    assert_eq!(server.requests().len(), FEEDS);
    assert_eq!(server.max_in_flight(), server.max_in_flight_on("127.0.0.1"));
    server.max_in_flight_on("127.0.0.1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit_caps_concurrent_fetches_to_one_host() {
    for per_host in [2, 4] {
        assert_eq!(
            most_in_flight_with(per_host).await,
            per_host,
            "per_host = {per_host}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6-8. Redirects and 410

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_redirect_is_remembered_temporary_is_not() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let old = server.route("/old.xml", Route::redirect(301, "/new.xml"));
    let new = server.serve_fixture("/new.xml", "aljazeera_rss2.xml", RSS);
    let old308 = server.route("/old308.xml", Route::redirect(308, "/new308.xml"));
    let new308 = server.serve_fixture("/new308.xml", "aljazeera_rss2.xml", RSS);
    let temp = server.route("/temp.xml", Route::redirect(302, &server.url("/dest.xml")));
    server.serve_fixture("/dest.xml", "youm7_cp1256.xml", "text/xml");
    let config = TestConfig::new()
        .feed("moved", &old)
        .feed("moved 308", &old308)
        .feed("temporary", &temp)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let urls = [old.clone(), old308.clone(), temp.clone()];
    let first = reports.of_all(&urls).await;
    for r in &first {
        assert!(matches!(r.outcome, Outcome::Updated { .. }), "{r:?}");
    }
    for (url, moved) in [(&old, Some(&new)), (&old308, Some(&new308)), (&temp, None)] {
        let s = status_of(&daemon, url).await;
        assert_eq!(s.permanent_redirect.as_ref(), moved, "{url}");
        assert_eq!(s.state, "ok", "{url}");
    }

    let seen = server.requests().len();
    advance_to(&clock, first.iter().filter_map(|r| r.next_due).max().unwrap());
    for r in reports.of_all(&urls).await {
        assert_ok(&r);
    }
    let later: Vec<String> = server.requests()[seen..].iter().map(|r| r.path.clone()).collect();
    for path in ["/new.xml", "/new308.xml", "/temp.xml", "/dest.xml"] {
        assert!(later.iter().any(|p| p == path), "{path} not polled: {later:?}");
    }
    for path in ["/old.xml", "/old308.xml"] {
        assert!(
            !later.iter().any(|p| p == path),
            "{path} polled after it moved: {later:?}"
        );
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_feed_is_not_polled_again_until_restart() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gone = server.route("/gone.xml", Route::status(410));
    let ok = server.serve_fixture("/ok.xml", "aljazeera_rss2.xml", RSS);
    let config = TestConfig::new()
        .feed("gone", &gone)
        .feed("ok", &ok)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config.clone(), &clock).await;
    let r = reports.of(&gone).await;
    assert!(error_of(&r).contains("410"), "{:?}", r.outcome);
    assert_eq!(r.next_due, None);
    assert_ok(&reports.of(&ok).await);
    let s = status_of(&daemon, &gone).await;
    assert_eq!(s.state, "gone");
    assert_eq!(s.next_due, None);
    assert_eq!(s.last_status, Some(410));

    // A day later the other feed has been polled, the gone one has not.
    clock.advance(Duration::from_secs(86_400));
    assert_ok(&reports.of(&ok).await);
    assert_eq!(server.requests_to("/gone.xml"), 1);
    daemon.shutdown().await.unwrap();

    // The publisher brings it back; a restart on the same store tries it.
    server.serve_fixture("/gone.xml", "youm7_cp1256.xml", "text/xml");
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let r = reports.of(&gone).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
    assert!(r.next_due.is_some());
    assert_eq!(server.requests_to("/gone.xml"), 2);
    assert_eq!(status_of(&daemon, &gone).await.state, "ok");
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_redirects_fail_with_clear_errors() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let loop_a = server.route("/loop-a.xml", Route::redirect(302, "/loop-b.xml"));
    server.set("/loop-b.xml", Route::redirect(301, "/loop-a.xml"));
    let to_self = server.route("/self.xml", Route::redirect(307, "/self.xml"));
    // Chains of exactly the limit and of one more.
    let chain = |name: &str, hops: usize| {
        for i in 0..hops {
            server.set(
                &format!("/{name}/{i}"),
                Route::redirect(302, &format!("/{name}/{}", i + 1)),
            );
        }
        server.serve_fixture(&format!("/{name}/{hops}"), "aljazeera_rss2.xml", RSS);
        server.url(&format!("/{name}/0"))
    };
    let at_limit = chain("limit", MAX_REDIRECTS);
    let over_limit = chain("over", MAX_REDIRECTS + 1);
    let to_ftp = server.route("/to-ftp.xml", Route::redirect(301, "ftp://127.0.0.1/feed.xml"));
    let to_file = server.route("/to-file.xml", Route::redirect(302, "file:///etc/passwd"));
    let config = TestConfig::new()
        .feed("loop", &loop_a)
        .feed("self", &to_self)
        .feed("at limit", &at_limit)
        .feed("over limit", &over_limit)
        .feed("ftp", &to_ftp)
        .feed("file", &to_file)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);

    let r = poll_url(&ctx, &config, &at_limit).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
    let too_many = format!("more than {MAX_REDIRECTS} redirects");
    for (url, expected) in [
        (&loop_a, "redirect loop"),
        (&to_self, "redirect loop"),
        (&over_limit, too_many.as_str()),
        (&to_ftp, "unsupported scheme ftp"),
        (&to_file, "unsupported scheme file"),
    ] {
        let r = poll_url(&ctx, &config, url).await;
        assert!(error_of(&r).contains(expected), "{url}: {:?}", r.outcome);
        let s = state(&ctx, url);
        assert_eq!(s.last_error.as_deref(), Some(error_of(&r)), "{url}");
        assert_eq!(s.consecutive_failures, 1, "{url}");
        assert_eq!(s.permanent_redirect, None, "{url}");
    }
    assert_eq!(server.requests_to(&format!("/over/{}", MAX_REDIRECTS + 1)), 0);
}

// ---------------------------------------------------------------------------
// 9-10. Body cap and timeouts

/// The Arabic fixture padded with an XML comment to exactly `len` bytes.
fn padded_feed(len: usize) -> Vec<u8> {
    let body = fixture("aljazeera_rss2.xml");
    let decl_end = body.windows(2).position(|w| w == b"?>").unwrap() + 2;
    let pad = len - body.len() - "<!---->".len();
    [
        &body[..decl_end],
        b"<!--",
        &vec![b'x'; pad],
        b"-->",
        &body[decl_end..],
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_cap_are_refused_while_reading() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cap = 1 << 20;
    let bomb = Route::gzip_bomb(50 << 20);
    assert!(bomb.body.len() < cap, "the bomb is small on the wire");
    let routes = [
        ("/exact.xml", Route::feed(padded_feed(cap), RSS), true),
        (
            "/exact-chunked.xml",
            Route::feed(padded_feed(cap), RSS).delivery(Delivery::Chunked),
            true,
        ),
        ("/over.xml", Route::feed(padded_feed(cap + 1), RSS), false),
        (
            "/over-chunked.xml",
            Route::feed(padded_feed(cap + 1), RSS).delivery(Delivery::Chunked),
            false,
        ),
        ("/bomb.xml", bomb, false),
        (
            "/endless.xml",
            Route::feed(Vec::new(), RSS).delivery(Delivery::Endless),
            false,
        ),
    ];
    let mut cfg = TestConfig::new().poll("max_body", "\"1MiB\"");
    let mut cases = Vec::new();
    for (path, route, fits) in routes {
        let url = server.route(path, route);
        cfg = cfg.feed(path, &url);
        cases.push((url, fits));
    }
    let config = cfg.load(dir.path());
    assert_eq!(config.poll.max_body, cap as u64);
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let cap_message = format!("body larger than the {}-byte cap", config.poll.max_body);
    for (url, fits) in &cases {
        let r = poll_url(&ctx, &config, url).await;
        if *fits {
            assert!(
                matches!(r.outcome, Outcome::Updated { .. }),
                "{url}: {:?}",
                r.outcome
            );
            assert_eq!(state(&ctx, url).bytes, cap as u64);
        } else {
            assert!(error_of(&r).contains(&cap_message), "{url}: {:?}", r.outcome);
            assert_eq!(state(&ctx, url).last_error.as_deref(), Some(cap_message.as_str()));
        }
    }
    // The endless body ended because the fetch stopped reading it (with a
    // 10 s timeout, a fetch reading on would have failed "timed out").
    assert!(server.endless_sent() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_servers_time_out_without_stalling_other_feeds() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hang = server.route(
        "/hang.xml",
        Route::feed(fixture("aljazeera_rss2.xml"), RSS).delivery(Delivery::Hang),
    );
    let drip = server.route(
        "/drip.xml",
        Route::feed(fixture("aljazeera_rss2.xml"), RSS).delivery(Delivery::Drip(Duration::from_millis(200))),
    );
    let ok = server.serve_fixture("/ok.xml", "youm7_cp1256.xml", "text/xml");
    let config = TestConfig::new()
        .poll("timeout", "\"1s\"")
        .poll("per_host", "4")
        .feed("hang", &hang)
        .feed("drip", &drip)
        .feed("ok", &ok)
        .load(dir.path());
    assert_eq!(config.poll.timeout, Duration::from_secs(1));
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let r = reports.of(&ok).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
    for url in [&hang, &drip] {
        let r = reports.of(url).await;
        assert_eq!(error_of(&r), "timed out", "{url}");
        let s = status_of(&daemon, url).await;
        assert_eq!(s.last_error.as_deref(), Some("timed out"));
        assert_eq!(s.consecutive_failures, 1);
    }
    assert_eq!(status_of(&daemon, &ok).await.state, "ok");
    daemon.shutdown().await.unwrap();
}

/// README: `[poll] timeout` is the "limit on one fetch"; a fetch follows
/// the redirects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_covers_the_whole_redirect_chain() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Three answers of 0.6 s each: every request is under the 1 s timeout,
    // the fetch is not.
    let hop = Duration::from_millis(600);
    let url = server.route("/slow/0", Route::redirect(302, "/slow/1").delay(hop));
    server.set("/slow/1", Route::redirect(302, "/slow/2").delay(hop));
    server.set(
        "/slow/2",
        Route::feed(fixture("aljazeera_rss2.xml"), RSS).delay(hop),
    );
    let config = TestConfig::new()
        .poll("timeout", "\"1s\"")
        .feed("slow", &url)
        .load(dir.path());
    assert!(hop * 3 > config.poll.timeout && hop < config.poll.timeout);
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let r = poll_url(&ctx, &config, &url).await;
    // The deadline falls while the second hop is answered: the third request
    // is never sent.
    assert_eq!(server.requests().len(), 2);
    assert!(
        matches!(&r.outcome, Outcome::Failed { error } if error == "timed out"),
        "{:?}",
        r.outcome
    );
}

// ---------------------------------------------------------------------------
// 11-12. What comes back: charsets, unchanged bodies

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charsets_over_http_are_settled_and_recorded() {
    let cp1256 = encoding_rs::WINDOWS_1256;
    let utf8 = encoding_rs::UTF_8;
    let youm7 = fixture("youm7_cp1256.xml");
    let youm7_says_utf8 = {
        let decl = b"encoding=\"windows-1256\"";
        let at = youm7.windows(decl.len()).position(|w| w == decl).unwrap();
        [&youm7[..at], b"encoding=\"UTF-8\"", &youm7[at + decl.len()..]].concat()
    };
    // The Arabic fixture in ISO-8859-6, declared windows-1256: only the HTTP
    // label reads it right (both charsets put Arabic letters in the upper
    // half, differently).
    let aljazeera = String::from_utf8(fixture("aljazeera_rss2.xml"))
        .unwrap()
        .replacen("encoding=\"UTF-8\"", "encoding=\"windows-1256\"", 1);
    let (iso, _, unmappable) = encoding_rs::ISO_8859_6.encode(&aljazeera);
    assert!(!unmappable, "the fixture fits in ISO-8859-6");
    // (case, body, Content-Type, fixture, its charset, charset expected)
    let cases = [
        (
            "cp1256, HTTP windows-1256, declared UTF-8",
            youm7_says_utf8.clone(),
            "text/xml; charset=windows-1256",
            "youm7_cp1256.xml",
            cp1256,
            cp1256,
        ),
        (
            "cp1256, HTTP utf-8",
            youm7.clone(),
            "text/xml; charset=utf-8",
            "youm7_cp1256.xml",
            cp1256,
            cp1256,
        ),
        (
            "cp1256, HTTP utf-8, declared UTF-8",
            youm7_says_utf8,
            "text/xml; charset=utf-8",
            "youm7_cp1256.xml",
            cp1256,
            cp1256,
        ),
        (
            "UTF-8, HTTP windows-1256",
            fixture("aljazeera_rss2.xml"),
            "text/xml; charset=windows-1256",
            "aljazeera_rss2.xml",
            utf8,
            utf8,
        ),
        (
            "ISO-8859-6, HTTP iso-8859-6, declared windows-1256",
            iso.into_owned(),
            "application/rss+xml; charset=iso-8859-6",
            "aljazeera_rss2.xml",
            utf8,
            encoding_rs::ISO_8859_6,
        ),
    ];
    let server = FeedServer::start().await;
    for (i, (case, body, content_type, fixture_name, fixture_charset, real)) in cases.into_iter().enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let url = server.route(&format!("/{i}.xml"), Route::feed(body, content_type));
        let config = TestConfig::new().feed(case, &url).load(dir.path());
        let clock = Arc::new(ManualClock::new(t0()));
        let ctx = context(&config, &clock);
        let r = poll_url(&ctx, &config, &url).await;
        assert!(
            matches!(r.outcome, Outcome::Updated { .. }),
            "{case}: {:?}",
            r.outcome
        );
        let s = state(&ctx, &url);
        assert_eq!(s.charset.as_deref(), Some(real.name()), "{case}");
        let channel = fixture_text(fixture_name, fixture_charset, "<channel>", "title");
        assert_eq!(s.title.as_deref(), Some(channel.as_str()), "{case}");
        let first = fixture_text(fixture_name, fixture_charset, "<item>", "title");
        assert!(first.chars().any(|c| ('\u{0621}'..='\u{064A}').contains(&c)));
        let titles: Vec<String> = ctx
            .store
            .recent(100, usize::MAX, |_| true)
            .unwrap()
            .into_iter()
            .map(|i| i.title)
            .collect();
        assert!(titles.contains(&first), "{case}: {first:?} not in {titles:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_body_without_validators_is_not_parsed_again() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.route(
        "/no-etag.xml",
        Route::feed(fixture("aljazeera_rss2.xml"), RSS).no_etag(),
    );
    let config = TestConfig::new().feed("no etag", &url).load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let r = poll_url(&ctx, &config, &url).await;
    assert!(
        matches!(r.outcome, Outcome::Updated { items, .. } if items > 0),
        "{:?}",
        r.outcome
    );
    let first = state(&ctx, &url);
    assert!(first.body_hash.is_some());

    advance_to(&clock, r.next_due.unwrap());
    let r = poll_url(&ctx, &config, &url).await;
    assert_eq!(r.outcome, Outcome::NotModified);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].if_none_match, None, "a full 200 was sent again");
    let second = state(&ctx, &url);
    assert_eq!(second.body_hash, first.body_hash);
    assert_eq!(second.last_success, Some(clock.now().timestamp()));
    assert_eq!(second.last_status, Some(200));

    // A changed body is parsed.
    server.set(
        "/no-etag.xml",
        Route::feed(fixture("youm7_cp1256.xml"), "text/xml").no_etag(),
    );
    advance_to(&clock, r.next_due.unwrap());
    let r = poll_url(&ctx, &config, &url).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{:?}", r.outcome);
    assert_ne!(state(&ctx, &url).body_hash, first.body_hash);
}

/// A warm round (every feed 304) leaves each feed's state as a fresh open
/// of the store reads it: the validators, body hash, charset and Arabic
/// title of the cold round kept, the round's check times and next due
/// time recorded, nothing left over from the cold round's 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_round_of_304s_leaves_every_state_durable_and_whole() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new().poll("first_poll_spread", "\"0s\"");
    let mut feeds = Vec::new();
    for i in 0..24 {
        // Arabic titles in UTF-8 and in windows-1256.
        let (fixture_name, content_type) = if i % 2 == 0 {
            ("aljazeera_rss2.xml", RSS)
        } else {
            ("youm7_cp1256.xml", "text/xml")
        };
        let url = server.route(
            &format!("/warm/{i}.xml"),
            Route::feed(fixture(fixture_name), content_type),
        );
        cfg = cfg.feed(&format!("مصدر {i}"), &url);
        feeds.push(url);
    }
    let config = cfg.load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let (cold, _) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    assert_eq!((cold.feeds_ok, cold.feeds_failed), (24, 0), "{cold}");
    let before: Vec<FeedState> = feeds.iter().map(|u| state(&ctx, u)).collect();

    let warm_at = after(t0(), Duration::from_secs(3600));
    advance_to(&clock, warm_at);
    let (_, reports) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    let due: std::collections::HashMap<String, i64> = reports
        .iter()
        .map(|r| {
            assert_eq!(r.outcome, Outcome::NotModified, "{}", r.url);
            (r.url.clone(), r.next_due.unwrap().timestamp())
        })
        .collect();
    drop(ctx);
    let store = Store::open(&config.storage.path).unwrap();
    for (url, before) in feeds.iter().zip(before) {
        let now = store.feed_state(url).unwrap().unwrap();
        assert!(
            before
                .title
                .as_deref()
                .is_some_and(|t| t.chars().any(|c| ('\u{600}'..='\u{6ff}').contains(&c))),
            "{url}: {:?}",
            before.title
        );
        assert_eq!(
            now,
            FeedState {
                last_attempt: Some(warm_at.timestamp()),
                last_success: Some(warm_at.timestamp()),
                last_status: Some(304),
                next_due: Some(due[url]),
                ..before
            },
            "{url}"
        );
    }
}

// ---------------------------------------------------------------------------
// 13. Outage

/// A port on 127.0.0.1 where nothing listens (bound, then let go). The
/// whole of 127/8 is loopback on Linux, so `127.0.0.N:port` refuses too.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_across_hosts_does_not_grow_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let port = dead_port();
    let hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let mut cfg = TestConfig::new();
    let mut urls = Vec::new();
    for host in hosts {
        for i in 0..2 {
            let url = format!("http://{host}:{port}/feed{i}.xml");
            cfg = cfg.feed(&format!("{host} {i}"), &url);
            urls.push(url);
        }
    }
    let config = cfg.load(dir.path());
    let interval = config.poll.interval;
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let outage = |s: &FeedState| s.last_error.as_deref().is_some_and(|e| e.contains("outage"));

    // First round: until feeds on every host have failed, a failure may be
    // the feed's own (counted); from then on it is an outage (not counted).
    let (totals, _) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    assert_eq!(totals.feeds_failed, urls.len());
    let mut counted_hosts = BTreeSet::new();
    let mut failures = Vec::new();
    for url in &urls {
        let s = state(&ctx, url);
        assert!(
            s.last_error.as_deref().unwrap().contains("cannot connect"),
            "{url}: {:?}",
            s.last_error
        );
        if outage(&s) {
            assert_eq!(s.consecutive_failures, 0, "{url}");
        } else {
            assert_eq!(s.consecutive_failures, 1, "{url}");
            counted_hosts.insert(url::Url::parse(url).unwrap().host_str().unwrap().to_owned());
        }
        failures.push(s.consecutive_failures);
    }
    assert!(failures.contains(&0), "no outage seen: {failures:?}");
    assert!(
        counted_hosts.len() < hosts.len(),
        "feeds on every host were counted as broken: {counted_hosts:?}"
    );

    // Every later round while nothing succeeds is an outage: no feed's
    // failures grow, and they are retried soon.
    for _ in 0..2 {
        clock.advance(MAX_BACKOFF * 2);
        let started = clock.now();
        let (_, reports) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
        for r in &reports {
            assert!(
                error_of(r).contains("network outage suspected"),
                "{:?}",
                r.outcome
            );
            assert_within(
                &r.url,
                gap(started, r.next_due.unwrap()),
                interval.min(OUTAGE_RETRY),
                0.1,
            );
        }
        for (url, before) in urls.iter().zip(&failures) {
            let s = state(&ctx, url);
            assert!(outage(&s), "{url}: {:?}", s.last_error);
            assert_eq!(s.consecutive_failures, *before, "{url}: backoff grew");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unreachable_host_is_not_an_outage() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ok = server.serve_fixture("/ok.xml", "aljazeera_rss2.xml", RSS);
    let dead = format!("http://127.0.0.2:{}/feed.xml", dead_port());
    let config = TestConfig::new()
        .feed("ok", &ok)
        .feed("dead", &dead)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    for failures in 1..=2 {
        timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
        let s = state(&ctx, &dead);
        let error = s.last_error.unwrap();
        assert!(
            error.contains("cannot connect") && !error.contains("outage"),
            "{error}"
        );
        assert_eq!(s.consecutive_failures, failures);
        clock.advance(MAX_BACKOFF * 2);
    }
}

// ---------------------------------------------------------------------------
// 14. Status for operators

/// A free port for a daemon whose address `feedwire status` must find in
/// the config.
async fn feedwire_status(config: &std::path::Path) -> std::process::Output {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || Binary::cli(&["status", "--config"], &[&config]))
        .await
        .unwrap()
}

const STATUS_FIELDS: [&str; 15] = [
    "name",
    "url",
    "state",
    "last_attempt",
    "last_success",
    "last_status",
    "consecutive_failures",
    "last_error",
    "next_due",
    "permanent_redirect",
    "charset",
    "items_seen",
    "items_new",
    "bytes",
    "title",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoint_and_command_show_every_feed() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ok = server.serve_fixture("/aj.xml", "aljazeera_rss2.xml", RSS);
    let legacy = server.serve_fixture("/youm7.xml", "youm7_cp1256.xml", "text/xml");
    let failing = server.route("/failing.xml", Route::status(500));
    let gone = server.route("/gone.xml", Route::status(410));
    let moved = server.route("/moved.xml", Route::redirect(301, "/aj-new.xml"));
    let moved_to = server.serve_fixture("/aj-new.xml", "aljazeera_rss2.xml", RSS);
    let urls = [
        ok.clone(),
        legacy.clone(),
        failing.clone(),
        gone.clone(),
        moved.clone(),
    ];
    let names = ["الجزيرة", "اليوم السابع", "Failing", "Gone", "Moved"];
    let mut cfg = TestConfig::new().listen(free_addr());
    for (name, url) in names.iter().zip(&urls) {
        cfg = cfg.feed(name, url);
    }
    let config_path = cfg.write(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, load_config(&config_path), &clock).await;
    let polled = reports.of_all(&urls).await;

    let resp = http_client()
        .get(format!("http://{}/status.json", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    let feeds = json.as_array().unwrap();
    assert_eq!(feeds.len(), urls.len(), "{json:#}");
    for (f, (name, url)) in feeds.iter().zip(names.iter().zip(&urls)) {
        let obj = f.as_object().unwrap();
        for field in STATUS_FIELDS {
            assert!(obj.contains_key(field), "{url}: no {field} in {f:#}");
        }
        assert_eq!(f["name"], *name);
        assert_eq!(f["url"], url.as_str());
    }
    let s: Vec<FeedStatus> = serde_json::from_value(json.clone()).unwrap();
    let expect = [
        ("ok", Some(200), Some("UTF-8")),
        ("ok", Some(200), Some("windows-1256")),
        ("failing", Some(500), None),
        ("gone", Some(410), None),
        ("ok", Some(200), Some("UTF-8")),
    ];
    for ((st, r), (state, http, charset)) in s.iter().zip(&polled).zip(expect) {
        assert_eq!(st.state, state, "{}", st.url);
        assert_eq!(st.last_status, http, "{}", st.url);
        assert_eq!(st.charset.as_deref(), charset, "{}", st.url);
        assert_eq!(
            st.next_due.as_deref().map(rfc3339),
            r.next_due.map(|t| t.trunc_subsecs(0)),
            "{}",
            st.url
        );
        assert_eq!(st.last_attempt.as_deref().map(rfc3339), Some(t0()), "{}", st.url);
    }
    assert_eq!(s[2].consecutive_failures, 1);
    assert!(s[2].last_error.as_deref().unwrap().contains("HTTP 500"));
    assert!(s[3].last_error.as_deref().unwrap().contains("410"));
    assert_eq!(s[4].permanent_redirect.as_deref(), Some(moved_to.as_str()));
    let channel = fixture_text("aljazeera_rss2.xml", encoding_rs::UTF_8, "<channel>", "title");
    assert_eq!(s[0].title.as_deref(), Some(channel.as_str()));
    assert!(s[0].items_seen > 0 && s[0].bytes > 0);

    // A slice for large fleets of feeds: by state, then a page; the same
    // objects as the whole array.
    let query = |q: &'static str| {
        let url = format!("http://{}/status.json?{q}", daemon.addr);
        async move {
            let resp = http_client().get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap())
        }
    };
    let page = |body: &[u8]| -> Vec<FeedStatus> { serde_json::from_slice(body).unwrap() };
    let (code, body) = query("state=failing,gone").await;
    assert_eq!(code, 200);
    assert_eq!(page(&body), vec![s[2].clone(), s[3].clone()]);
    let (_, body) = query("offset=1&limit=2").await;
    assert_eq!(
        page(&body),
        vec![s[1].clone(), s[2].clone()],
        "اليوم السابع, then Failing"
    );
    let (_, body) = query("state=ok&offset=2").await;
    assert_eq!(page(&body), vec![s[4].clone()]);
    let (_, body) = query("limit=0").await;
    assert!(page(&body).is_empty());
    assert_eq!(
        query("limit=many").await.0,
        400,
        "a bad query is refused, not ignored"
    );
    assert_eq!(query("colour=red").await.0, 400);

    // The command: the table, broken feeds first, exit 1.
    let out = feedwire_status(&config_path).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("STATE"), "{stdout}");
    assert!(lines[1].starts_with("failing  Failing"), "{stdout}");
    assert!(lines[1].contains(&format!("HTTP 500 ({failing})")), "{stdout}");
    assert!(lines[2].starts_with("gone     Gone"), "{stdout}");
    for name in names {
        assert!(stdout.contains(name), "{name} missing:\n{stdout}");
    }
    assert!(
        stdout.contains(&format!("moved to {moved_to}: update feeds.toml ({moved})")),
        "{stdout}"
    );
    assert!(stdout.contains("5 feeds, 3 ok, 2 broken"), "{stdout}");
    daemon.shutdown().await.unwrap();

    // A failing feed alone makes it exit 1; once it recovers, 0.
    let dir = tempfile::tempdir().unwrap();
    let flaky = server.route("/flaky.xml", Route::status(503));
    let config_path = TestConfig::new()
        .listen(free_addr())
        .feed("الجزيرة", &ok)
        .feed("flaky", &flaky)
        .write(dir.path());
    let (daemon, mut reports) = start(&server, load_config(&config_path), &clock).await;
    assert_ok(&reports.of(&ok).await);
    let r = reports.of(&flaky).await;
    let out = feedwire_status(&config_path).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 feeds, 1 ok, 1 broken"), "{stdout}");
    server.serve_fixture("/flaky.xml", "youm7_cp1256.xml", "text/xml");
    advance_to(&clock, r.next_due.unwrap());
    assert_ok(&reports.of(&flaky).await);
    let out = feedwire_status(&config_path).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 feeds, 2 ok, 0 broken"), "{stdout}");
    daemon.shutdown().await.unwrap();

    // No daemon listening: exit 2, saying so.
    let out = feedwire_status(&config_path).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is the daemon running?"), "{stderr}");
}

/// An RSS document whose channel links to `site`, with `items` Arabic
/// headlines dated shortly before [`t0`].
fn site_doc(site: &str, items: usize) -> Vec<u8> {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>أخبار الموقع</title><link>{site}</link><description>موجز الأخبار</description>"
    );
    for i in 0..items {
        xml.push_str(&format!(
            "<item><title>الخبر رقم {i} عن الانتخابات البرلمانية</title>\
             <link>https://news.example/akhbar/{i}</link>\
             <pubDate>Sat, 29 Nov 2025 09:{i:02}:00 GMT</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

/// The published document `name` once its text passes `ok` (bounded wait
/// on renders).
async fn published_when(daemon: &Daemon, name: &str, ok: impl Fn(&str) -> bool) -> Arc<Representation> {
    let published = daemon.published();
    let mut renders = published.subscribe();
    let text_of = |doc: &Representation| String::from_utf8_lossy(&doc.body).into_owned();
    let passes = |_: &u64| published.get(name).is_some_and(|d| ok(&text_of(&d)));
    if timeout(WAIT, renders.wait_for(passes)).await.is_err() {
        panic!(
            "{name} not as expected within {WAIT:?}: {:?}",
            published.get(name).map(|d| text_of(&d))
        );
    }
    published.get(name).unwrap()
}

// The renderer re-reads every feed's site link (a walk of all feed states,
// most of a render at 100,000 feeds) only after a poll saved a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opml_follows_site_links_and_is_kept_while_none_changes() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.route(
        "/site.xml",
        Route::feed(site_doc("https://a.example/siyasa", 2), RSS),
    );
    let config = TestConfig::new().feed("موقع الأخبار", &url).load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;

    // The first poll saves a site link; the OPML shows it.
    let r = reports.of(&url).await;
    assert!(r.site_changed, "{r:?}");
    published_when(&daemon, "feeds.opml", |o| {
        o.contains("htmlUrl=\"https://a.example/siyasa\"") && o.contains("موقع الأخبار")
    })
    .await;

    // The channel link moves and no item is new: a render follows anyway,
    // with the new link.
    server.set(
        "/site.xml",
        Route::feed(site_doc("https://b.example/akhbar", 2), RSS),
    );
    clock.advance(Duration::from_secs(86_400));
    let r = reports.of(&url).await;
    assert!(r.site_changed, "{r:?}");
    assert!(
        matches!(&r.outcome, Outcome::Updated { ingest, .. } if ingest.new == 0),
        "{:?}",
        r.outcome
    );
    published_when(&daemon, "feeds.opml", |o| {
        o.contains("htmlUrl=\"https://b.example/akhbar\"") && !o.contains("a.example")
    })
    .await;

    // New items under the same link: renders follow, and keep the OPML
    // they made (the same document, not one made again).
    let mut kept = Vec::new();
    for items in [3, 4] {
        server.set(
            "/site.xml",
            Route::feed(site_doc("https://b.example/akhbar", items), RSS),
        );
        clock.advance(Duration::from_secs(86_400));
        let r = reports.of(&url).await;
        assert!(!r.site_changed, "{r:?}");
        let newest = format!("https://news.example/akhbar/{}", items - 1);
        published_when(&daemon, "politics.rss", |rss| rss.contains(&newest)).await;
        kept.push(daemon.published().get("feeds.opml").unwrap());
    }
    assert!(Arc::ptr_eq(&kept[0], &kept[1]), "the OPML was made again");
    assert!(String::from_utf8_lossy(&kept[1].body).contains("htmlUrl=\"https://b.example/akhbar\""));
    daemon.shutdown().await.unwrap();
}

/// The politics output's story clusters (`politics/clusters.json`) once
/// a render published `wanted` of them and `ok` holds for the RSS.
async fn clusters_when(daemon: &Daemon, wanted: usize, ok: impl Fn(&str) -> bool) {
    let published = daemon.published();
    let mut renders = published.subscribe();
    let clusters = || {
        published.get("politics/clusters.json").map(|d| {
            let listing: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
            listing["clusters"].as_array().unwrap().len()
        })
    };
    let rss = || {
        published
            .get("politics.rss")
            .map(|d| String::from_utf8_lossy(&d.body).into_owned())
    };
    let passes = |_: &u64| clusters() == Some(wanted) && rss().is_some_and(|r| ok(&r));
    if timeout(WAIT, renders.wait_for(passes)).await.is_err() {
        panic!(
            "not {wanted} clusters within {WAIT:?}: {:?} clusters, rss {:?}",
            clusters(),
            rss()
        );
    }
}

/// An RSS document of one outlet's report of a story (the Iraqi amnesty
/// law), its channel linking to `site`, with `more` unrelated items.
fn story_doc(site: &str, title: &str, link: &str, more: usize) -> Vec<u8> {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>أخبار</title><link>{site}</link><description>موجز</description><language>ar</language>\
         <item><title>{title}</title><link>{link}</link>\
         <description>صوّت مجلس النواب العراقي على تعديل قانون العفو العام وقانون الأحوال الشخصية \
         وقانون إعادة العقارات إلى أصحابها، في جلسة شهدت اعتراضات وانسحاب عدد من النواب.</description>\
         <pubDate>Sat, 29 Nov 2025 09:00:00 GMT</pubDate></item>"
    );
    for i in 0..more {
        xml.push_str(&format!(
            "<item><title>منتخب المغرب يفوز في المباراة رقم {i} من التصفيات</title>\
             <link>{site}riyada/{i}</link><pubDate>Sat, 29 Nov 2025 08:{i:02}:00 GMT</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

// Story outlets (cluster = true) come from the feeds' site links, read with
// the OPML's in one walk of all feed states only after a poll saved a new
// site link: the outlet follows such a poll, and a render for anything else
// does not read them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_outlets_follow_site_links_and_are_kept_while_none_changes() {
    const AJ: &str = "البرلمان العراقي يقر تعديل قانون العفو العام بعد جلسة صاخبة";
    const SKY: &str = "العراق.. مجلس النواب يصوت على 3 قوانين جدلية بينها العفو العام";
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let aj_doc = |site: &str, more| story_doc(site, AJ, "https://www.aljazeera.net/news/amnesty", more);
    let aj = server.route(
        "/aj.xml",
        Route::feed(aj_doc("https://www.aljazeera.net/", 0), RSS),
    );
    let sky = server.route(
        "/sky.xml",
        Route::feed(
            story_doc(
                "https://www.skynewsarabia.com/",
                SKY,
                "https://www.skynewsarabia.com/middle-east/amnesty",
                0,
            ),
            RSS,
        ),
    );
    let path = TestConfig::new()
        .feed("الجزيرة", &aj)
        .feed("سكاي نيوز عربية", &sky)
        .write(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "tags = [\"politics\"]\n",
            "tags = [\"politics\"]\ncluster = true\n",
            1,
        ),
    )
    .unwrap();
    let config = load_config(&path);
    assert!(config.outputs[0].cluster.is_some());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config, &clock).await;

    // Two outlets (aljazeera.net, skynewsarabia.com): one story.
    for url in [&aj, &sky] {
        assert!(reports.of(url).await.site_changed);
    }
    clusters_when(&daemon, 1, |_| true).await;

    // Al Jazeera's channel now links to a Sky News site: one outlet, whose
    // reports never merge.
    server.set(
        "/aj.xml",
        Route::feed(aj_doc("https://arabic.skynewsarabia.com/", 0), RSS),
    );
    clock.advance(Duration::from_secs(86_400));
    assert!(reports.of(&aj).await.site_changed);
    assert!(!reports.of(&sky).await.site_changed);
    clusters_when(&daemon, 0, |_| true).await;

    // Sky News' saved site link changes behind the poller's back (its
    // polls get 304 and keep it); Al Jazeera brings a new item under the
    // same link. The render that follows keeps the outlets it read: a walk
    // would make Sky News bbc.com and merge the story again.
    let mut state = daemon.store().feed_state(&sky).unwrap().unwrap();
    state.site_url = Some("https://www.bbc.com/arabic".into());
    daemon.store().put_feed_state(&sky, &state).unwrap();
    server.set(
        "/aj.xml",
        Route::feed(aj_doc("https://arabic.skynewsarabia.com/", 1), RSS),
    );
    clock.advance(Duration::from_secs(86_400));
    let r = reports.of(&aj).await;
    assert!(!r.site_changed, "{r:?}");
    assert!(
        matches!(&r.outcome, Outcome::Updated { ingest, .. } if ingest.new == 1),
        "{:?}",
        r.outcome
    );
    assert!(!reports.of(&sky).await.site_changed);
    clusters_when(&daemon, 0, |rss| rss.contains("riyada/0")).await;

    // A poll that saves a new site link (Al Jazeera's own again): the next
    // render reads them all, Sky News' bbc.com included, and the story
    // is one again.
    server.set(
        "/aj.xml",
        Route::feed(aj_doc("https://www.aljazeera.net/", 1), RSS),
    );
    clock.advance(Duration::from_secs(86_400));
    assert!(reports.of(&aj).await.site_changed);
    clusters_when(&daemon, 1, |_| true).await;
    let opml = daemon.published().get("feeds.opml").unwrap();
    let opml = String::from_utf8_lossy(&opml.body);
    assert!(opml.contains("htmlUrl=\"https://www.bbc.com/arabic\""), "{opml}");
    daemon.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// Gaps: entries lost between two polls of a fast feed

/// A publisher's ticker: Arabic entries published at given times, of which
/// the document carries the newest `window`, newest first.
struct Ticker {
    name: &'static str,
    path: &'static str,
    window: usize,
    cp1256: bool,
    /// `<ttl>` in minutes: the publisher's own ask.
    ttl: Option<u64>,
    /// When each entry is published, in order.
    times: Vec<DateTime<Utc>>,
}

impl Ticker {
    fn link(&self, i: usize) -> String {
        format!("https://ticker.example/{}/akhbar/{i}", self.name)
    }

    fn title(i: usize) -> String {
        format!("عاجل {i}: مجلس الوزراء يجتمع في القاهرة لبحث الأزمة")
    }

    /// Entries published by `t`.
    fn published(&self, t: DateTime<Utc>) -> usize {
        self.times.iter().take_while(|p| **p <= t).count()
    }

    /// The entries the document at `t` carries.
    fn window_at(&self, t: DateTime<Utc>) -> std::ops::Range<usize> {
        let n = self.published(t);
        n.saturating_sub(self.window)..n
    }

    fn document(&self, t: DateTime<Utc>) -> Vec<u8> {
        let mut items = String::new();
        for i in self.window_at(t).rev() {
            items.push_str(&format!(
                "<item><title>{}</title><link>{}</link><pubDate>{}</pubDate><description>تفاصيل الخبر رقم {i} من مراسلنا</description></item>\n",
                Ticker::title(i),
                self.link(i),
                self.times[i].to_rfc2822(),
            ));
        }
        let ttl = self.ttl.map(|m| format!("<ttl>{m}</ttl>")).unwrap_or_default();
        let charset = if self.cp1256 { "windows-1256" } else { "utf-8" };
        let text = format!(
            "<?xml version=\"1.0\" encoding=\"{charset}\"?>\n<rss version=\"2.0\"><channel><title>شريط الأخبار</title><link>https://ticker.example/</link>{ttl}\n{items}</channel></rss>\n"
        );
        if self.cp1256 {
            let (bytes, _, bad) = encoding_rs::WINDOWS_1256.encode(&text);
            assert!(!bad);
            bytes.into_owned()
        } else {
            text.into_bytes()
        }
    }

    fn serve(&self, server: &FeedServer, t: DateTime<Utc>) {
        server.set(self.path, Route::feed(self.document(t), RSS));
    }
}

/// Publication times: one entry every `every` over `[from, to)`.
fn every(from: DateTime<Utc>, to: DateTime<Utc>, every: Duration) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        out.push(t);
        t = after(t, every);
    }
    out
}

/// What one ticker's polls did over a simulated run.
#[derive(Default)]
struct TickerRun {
    /// (poll time, report) in order.
    polls: Vec<(DateTime<Utc>, FeedReport)>,
    /// Entries the polled documents carried.
    fetched: BTreeSet<usize>,
}

impl TickerRun {
    fn stored(&self) -> usize {
        self.polls
            .iter()
            .map(|(_, r)| match &r.outcome {
                Outcome::Updated { ingest, .. } => ingest.new,
                _ => 0,
            })
            .sum()
    }

    fn gaps(&self) -> Vec<DateTime<Utc>> {
        self.polls
            .iter()
            .filter(|(_, r)| r.gap)
            .map(|(t, _)| *t)
            .collect()
    }

    fn wait_after(&self, i: usize) -> Duration {
        let (t, r) = &self.polls[i];
        gap(*t, r.next_due.unwrap())
    }
}

/// Runs the daemon over the tickers' publication times from `t0()` to
/// `end` in steps of 30 s: before each step the server is given every
/// ticker's document at the step's end, then the clock moves and each
/// ticker due by then is polled (its report waited for, bounded).
/// `check` runs after each poll. `due` holds when each ticker is due (the
/// first call: now), and is left at the next due times.
#[allow(clippy::too_many_arguments)]
async fn simulate(
    server: &FeedServer,
    reports: &mut Reports,
    clock: &ManualClock,
    tickers: &[(&Ticker, String)],
    end: DateTime<Utc>,
    runs: &mut [TickerRun],
    due: &mut [Option<DateTime<Utc>>],
    mut check: impl AsyncFnMut(usize, &TickerRun),
) {
    let step = Duration::from_secs(30);
    loop {
        let now = clock.now();
        for (i, (ticker, url)) in tickers.iter().enumerate() {
            if due[i].is_some_and(|d| d <= now) {
                let r = reports.of(url).await;
                assert_ok(&r);
                runs[i].fetched.extend(ticker.window_at(now));
                due[i] = r.next_due;
                runs[i].polls.push((now, r));
                check(i, &runs[i]).await;
            }
        }
        if now >= end {
            break;
        }
        let next = after(now, step);
        for (ticker, _) in tickers {
            ticker.serve(server, next);
        }
        advance_to(clock, next);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_outruns_its_window_is_reported_and_polled_faster_until_nothing_is_lost() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let begin = t0();
    // Two hours of one entry every 45 s (20 per configured 15 minutes,
    // twice the window of 10), then two hours of one every 5 minutes.
    let fast_end = after(begin, Duration::from_secs(2 * 3600));
    let end = after(begin, Duration::from_secs(4 * 3600));
    let mut times = every(
        begin - chrono::Duration::seconds(10 * 45),
        fast_end,
        Duration::from_secs(45),
    );
    times.extend(every(fast_end, end, Duration::from_secs(300)));
    let ticker = |name, path, cp1256, ttl| Ticker {
        name,
        path,
        window: 10,
        cp1256,
        ttl,
        times: times.clone(),
    };
    let utf8 = ticker("youm7", "/youm7.xml", false, None);
    let legacy = ticker("skynews", "/skynews.xml", true, None);
    // The publisher asks for at most one poll per 15 minutes: the speed-up
    // is refused, as the poller did before it existed.
    let bound = ticker("ttl", "/ttl.xml", false, Some(15));
    let feeds = [
        ("اليوم السابع", &utf8),
        ("سكاي نيوز عربية", &legacy),
        ("شريط مقيد", &bound),
    ];
    let mut config = TestConfig::new().poll("first_poll_spread", "\"0s\"");
    for (name, t) in &feeds {
        t.serve(&server, begin);
        config = config.feed(name, &server.url(t.path));
    }
    let config = config.load(dir.path());
    let interval = config.poll.interval;
    assert_eq!(interval, Duration::from_secs(900));
    let clock = Arc::new(ManualClock::new(begin));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let tickers: Vec<(&Ticker, String)> = feeds.iter().map(|(_, t)| (*t, server.url(t.path))).collect();
    let mut runs: Vec<TickerRun> = (0..3).map(|_| TickerRun::default()).collect();
    let addr = daemon.addr;
    simulate(
        &server,
        &mut reports,
        &clock,
        &tickers,
        end,
        &mut runs,
        &mut [Some(begin); 3],
        async |i, run: &TickerRun| {
            let n = run.polls.len();
            let (_, r) = &run.polls[n - 1];
            if n == 2 {
                // 20 published since the first poll: none of the 10 shown
                // was in it.
                assert!(r.gap, "{}: no gap reported: {r:?}", r.url);
                let status: Vec<FeedStatus> =
                    serde_json::from_slice(&get_bytes(&format!("http://{addr}/status.json")).await).unwrap();
                let s = status.iter().find(|s| s.url == r.url).unwrap();
                assert_eq!(s.state, "ok", "a gap is not a failure");
                assert_eq!(s.gaps, 1);
                assert_eq!(s.last_gap.as_deref().map(rfc3339), Some(run.polls[1].0));
                let note = s.gap.as_deref().unwrap_or_else(|| panic!("no gap note: {s:?}"));
                assert!(
                    note.contains("none of the 10 entries was in the last poll 1")
                        && note.contains("ago: entries published in between may have been missed"),
                    "{note}"
                );
                let metrics = get_text(&format!("http://{addr}/metrics")).await;
                let series = format!("feedwire_feed_gaps_total{{feed=\"{}\"}} 1", feeds[i].0);
                assert!(metrics.contains(&series), "no {series} in\n{metrics}");
                if i == 2 {
                    // Bound by the publisher's <ttl>: not faster, and it says why.
                    assert_eq!(s.interval, Some(900));
                    assert!(
                        note.contains("not faster: the publisher asks for one poll every 15m at most"),
                        "{note}"
                    );
                    assert_within("ttl-bound wait", run.wait_after(1), interval, 0.05);
                } else {
                    assert_eq!(s.interval, Some(450), "{s:?}");
                    assert!(note.ends_with("polling every 7m30s"), "{note}");
                    assert_within("wait after a gap", run.wait_after(1), interval / 2, 0.05);
                }
            }
        },
    )
    .await;

    for (i, run) in runs.iter().enumerate() {
        let ticker = tickers[i].0;
        // From the first document on, up to the last poll: the ones before
        // were never ours to see, the ones after are not due yet.
        let first = ticker.window_at(begin).start;
        let published = ticker.published(run.polls.last().unwrap().0);
        // What the polls fetched is what the store says it took, no more.
        assert_eq!(run.stored(), run.fetched.len(), "{}", ticker.name);
        let gaps = run.gaps();
        let lost: Vec<usize> = (first..published).filter(|e| !run.fetched.contains(e)).collect();
        eprintln!(
            "{}: {} published, {} stored, {} polls, gaps at {gaps:?}",
            ticker.name,
            published - first,
            run.stored(),
            run.polls.len()
        );
        if i == 2 {
            // The publisher's ask holds: every wait is the 15 minutes, a
            // gap at every fast poll, half the fast entries lost.
            for p in 0..run.polls.len() {
                assert_within("ttl-bound", run.wait_after(p), interval, 0.05);
            }
            assert!(gaps.len() >= 7, "{gaps:?}");
            assert!(lost.len() >= 60, "{} lost", lost.len());
            continue;
        }
        // Adapted after two gaps (15m, then 7m30s shows 10 new of 10);
        // from the second on, nothing is lost, through the fast phase and
        // the slow one.
        assert_eq!(gaps.len(), 2, "{}: gaps at {gaps:?}", ticker.name);
        let adapted = ticker.published(gaps[1]).saturating_sub(ticker.window);
        assert!(
            lost.iter().all(|e| *e < adapted),
            "{}: lost {lost:?} after adapting (entry {adapted} on)",
            ticker.name
        );
        for e in adapted..published {
            let key = feedwire::item::ItemKey::from_link(&url::Url::parse(&ticker.link(e)).unwrap());
            let item = daemon
                .store()
                .get(&key)
                .unwrap()
                .unwrap_or_else(|| panic!("{}: entry {e} not stored", ticker.name));
            assert_eq!(item.title, Ticker::title(e), "decoded as published");
        }
        // At 3m45s in the fast phase (5 new of 10 a poll: busy, not calm).
        let fast: Vec<Duration> = (0..run.polls.len())
            .filter(|p| {
                run.polls[*p].0 > after(gaps[1], Duration::from_secs(1)) && run.polls[*p].0 < fast_end
            })
            .map(|p| run.wait_after(p))
            .collect();
        assert!(fast.len() > 20, "{fast:?}");
        for w in &fast {
            assert_within("adapted wait", *w, interval / 4, 0.05);
        }
        // In the slow phase it relaxes back to the configured interval.
        let last = run.polls.len() - 1;
        assert_within("relaxed wait", run.wait_after(last), interval, 0.05);
        let s = status_of(&daemon, &tickers[i].1).await;
        assert_eq!(
            (s.gaps, s.interval, s.gap.as_deref()),
            (2, Some(900), None),
            "{s:?}"
        );
        if ticker.cp1256 {
            assert_eq!(s.charset.as_deref(), Some("windows-1256"));
        }
    }
    daemon.shutdown().await.unwrap();
}

/// Serves the ticker's document at `t`, moves the clock there and polls.
async fn poll_ticker_at(
    server: &FeedServer,
    clock: &ManualClock,
    ctx: &PollContext,
    config: &Config,
    ticker: &Ticker,
    t: DateTime<Utc>,
) -> FeedReport {
    ticker.serve(server, t);
    advance_to(clock, t);
    poll_url(ctx, config, &server.url(ticker.path)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_gap_on_a_first_poll_an_overlap_a_304_a_one_entry_feed_or_after_failures() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let minutes = |m: i64| t0() + chrono::Duration::minutes(m);
    // One entry a minute, ten a document, in windows-1256.
    let ticker = Ticker {
        name: "masrawy",
        path: "/masrawy.xml",
        window: 10,
        cp1256: true,
        ttl: None,
        times: every(minutes(-60), minutes(600), Duration::from_secs(60)),
    };
    let single = Ticker {
        name: "alerts",
        path: "/alerts.xml",
        window: 1,
        ..Ticker {
            times: ticker.times.clone(),
            ..ticker
        }
    };
    let url = server.url(ticker.path);
    single.serve(&server, minutes(0));
    let config = TestConfig::new()
        .feed("مصراوي", &url)
        .feed("تنبيهات", &server.url(single.path))
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let poll = async |t| poll_ticker_at(&server, &clock, &ctx, &config, &ticker, t).await;
    let no_gap = |r: &FeedReport, what: &str| {
        assert_ok(r);
        assert!(!r.gap, "{what}: a gap was reported: {r:?}");
        let s = state(&ctx, &r.url);
        assert_eq!((s.gaps, s.speedup), (0, 0), "{what}: {s:?}");
        assert_within(
            what,
            gap(clock.now(), r.next_due.unwrap()),
            config.poll.interval,
            0.05,
        );
    };

    // A first poll has nothing to compare with.
    no_gap(&poll(minutes(0)).await, "first poll");
    // Five minutes on: five new of ten.
    let r = poll(minutes(5)).await;
    assert!(
        matches!(&r.outcome, Outcome::Updated { ingest, .. } if ingest.new == 5),
        "{r:?}"
    );
    no_gap(&r, "overlap");
    // The same document: a 304, then (no ETag) an identical body.
    let r = poll(minutes(5) + chrono::Duration::seconds(30)).await;
    assert_eq!(r.outcome, Outcome::NotModified);
    no_gap(&r, "304");
    server.set(
        ticker.path,
        Route::feed(ticker.document(minutes(5)), RSS).no_etag(),
    );
    advance_to(&clock, minutes(6));
    let r = poll_url(&ctx, &config, &url).await;
    assert_eq!(r.outcome, Outcome::NotModified);
    no_gap(&r, "identical body");

    // Two failures, then a document none of whose entries we saw: lost to
    // the failures (reported as such), not to the interval.
    for m in [20, 25] {
        server.set(ticker.path, Route::status(500));
        advance_to(&clock, minutes(m));
        assert!(matches!(
            poll_url(&ctx, &config, &url).await.outcome,
            Outcome::Failed { .. }
        ));
    }
    no_gap(&poll(minutes(40)).await, "first success after failures");
    let single_url = server.url(single.path);
    single.serve(&server, minutes(40));
    no_gap(
        &poll_url(&ctx, &config, &single_url).await,
        "one-entry feed, first poll",
    );

    // The control: the same shape fifteen minutes after a success is a gap
    // (and `poll-once` counts it in its summary).
    ticker.serve(&server, minutes(55));
    single.serve(&server, minutes(55));
    advance_to(&clock, minutes(55));
    let (report, feeds) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    assert_eq!(report.feeds_gap, 1, "{feeds:?}");
    assert!(
        report
            .to_string()
            .ends_with("; 1 feeds with a gap (none of their entries was in the poll before: entries may have been missed)"),
        "{report}"
    );
    let r = feeds.iter().find(|r| r.url == url).unwrap();
    assert!(r.gap, "{r:?}");
    let s = state(&ctx, &url);
    assert_eq!((s.gaps, s.speedup, s.interval), (1, 1, Some(450)), "{s:?}");
    assert_within(
        "after a gap",
        gap(clock.now(), r.next_due.unwrap()),
        config.poll.interval / 2,
        0.05,
    );
    // A one-entry feed replaces its entry at every change: never a gap.
    let one = feeds.iter().find(|r| r.url == single_url).unwrap();
    assert!(
        matches!(&one.outcome, Outcome::Updated { ingest, .. } if ingest.new == 1),
        "{one:?}"
    );
    no_gap(one, "one-entry feed");
}

/// The numbers behind BENCHMARKS.md Run 18: for several publishing rates
/// against a window of 20 entries, four hours at a configured 15 minutes,
/// what a feed whose interval adapts stores against one held to the
/// configured interval by its publisher's `<ttl>` (the schedule every feed
/// had before gaps were noticed), and the requests it costs. Printed with
/// `--nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_stored_at_several_rates_with_and_without_the_speed_up() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let begin = t0();
    let end = after(begin, Duration::from_secs(4 * 3600));
    let window = 20;
    // Entries per configured interval (15 minutes).
    let rates = [15u64, 30, 60, 120, 200];
    let names: Vec<(String, String)> = rates
        .iter()
        .flat_map(|r| {
            [
                (format!("r{r}-adaptive"), format!("/r{r}a.xml")),
                (format!("r{r}-ttl"), format!("/r{r}t.xml")),
            ]
        })
        .collect();
    let tickers: Vec<Ticker> = names
        .iter()
        .enumerate()
        .map(|(i, (name, path))| {
            let rate = rates[i / 2];
            let every_ms = 900_000 / rate;
            Ticker {
                name: name.clone().leak(),
                path: path.clone().leak(),
                window,
                cp1256: i % 4 == 0,
                ttl: (i % 2 == 1).then_some(15),
                times: every(
                    begin - chrono::Duration::milliseconds((window as i64) * every_ms as i64),
                    end,
                    Duration::from_millis(every_ms),
                ),
            }
        })
        .collect();
    let mut config = TestConfig::new().poll("first_poll_spread", "\"0s\"");
    for t in &tickers {
        t.serve(&server, begin);
        config = config.feed(&format!("شريط {}", t.name), &server.url(t.path));
    }
    let config = config.load(dir.path());
    let clock = Arc::new(ManualClock::new(begin));
    let (daemon, mut reports) = start(&server, config, &clock).await;
    let with_urls: Vec<(&Ticker, String)> = tickers.iter().map(|t| (t, server.url(t.path))).collect();
    let mut runs: Vec<TickerRun> = tickers.iter().map(|_| TickerRun::default()).collect();
    simulate(
        &server,
        &mut reports,
        &clock,
        &with_urls,
        end,
        &mut runs,
        &mut vec![Some(begin); tickers.len()],
        async |_, _: &TickerRun| {},
    )
    .await;
    daemon.shutdown().await.unwrap();

    eprintln!(
        "| entries per 15m / window | published | stored, fixed 15m | stored, adaptive | lost, fixed | lost, adaptive | requests, fixed | requests, adaptive | gaps reported, fixed / adaptive | adaptive's last wait |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|");
    for (k, rate) in rates.iter().enumerate() {
        let (a, t) = (&runs[2 * k], &runs[2 * k + 1]);
        let (ta, tt) = (&tickers[2 * k], &tickers[2 * k + 1]);
        // Published from the first document on up to the last poll of the
        // pair (the entries after it are not due yet).
        let last = a.polls.last().unwrap().0.min(t.polls.last().unwrap().0);
        let first = ta.window_at(begin).start;
        let published = ta.published(last) - first;
        let fetched = |run: &TickerRun, tk: &Ticker| {
            run.fetched
                .iter()
                .filter(|e| **e >= first && **e < tk.published(last))
                .count()
        };
        let (sa, st) = (fetched(a, ta), fetched(t, tt));
        for (run, tk) in [(a, ta), (t, tt)] {
            assert_eq!(
                run.stored(),
                run.fetched.len(),
                "{}: the store took what was fetched",
                tk.name
            );
        }
        let requests = |run: &TickerRun| run.polls.iter().filter(|(p, _)| *p <= last).count();
        let gaps = |run: &TickerRun| run.gaps().len();
        eprintln!(
            "| {rate} / {window} | {published} | {st} | {sa} | {} | {} | {} | {} | {} / {} | {} |",
            published - st,
            published - sa,
            requests(t),
            requests(a),
            gaps(t),
            gaps(a),
            feedwire::poller::gaps::human(a.wait_after(a.polls.len() - 1)),
        );
        assert!(sa >= st, "r{rate}: the speed-up never stores less");
        if (*rate as usize) < window {
            assert_eq!(
                (gaps(a), gaps(t)),
                (0, 0),
                "r{rate}: no gap when the window holds an interval"
            );
            // (Jitter is per feed: one poll more or less by the end.)
            assert!(
                requests(a).abs_diff(requests(t)) <= 1,
                "r{rate}: and no extra request"
            );
        } else if *rate <= 8 * window as u64 / 2 {
            // Within reach of 8x: after the last gap nothing is lost.
            let adapted = ta.published(*a.gaps().last().unwrap()) - window;
            assert!(
                (adapted..ta.published(last)).all(|e| a.fetched.contains(&e)),
                "r{rate}: lost after adapting"
            );
            assert!(gaps(t) > gaps(a), "r{rate}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_the_interval_starts_from_the_new_one() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let begin = t0();
    let slow_from = after(begin, Duration::from_secs(30 * 60));
    // Half an hour of one entry every 45 s, then one every 5 minutes.
    let mut times = every(
        begin - chrono::Duration::seconds(450),
        slow_from,
        Duration::from_secs(45),
    );
    times.extend(every(
        slow_from,
        after(begin, Duration::from_secs(3 * 3600)),
        Duration::from_secs(300),
    ));
    let ticker = Ticker {
        name: "ahram",
        path: "/ahram.xml",
        window: 10,
        cp1256: true,
        ttl: None,
        times,
    };
    let url = server.url(ticker.path);
    ticker.serve(&server, begin);
    let write = |interval: &str| {
        TestConfig::new()
            .poll("first_poll_spread", "\"0s\"")
            .feed_every("الأهرام", &url, interval)
            .write(dir.path())
    };
    let config = load_config(&write("15m"));
    let clock = Arc::new(ManualClock::new(begin));
    let (mut daemon, mut reports) = start(&server, config, &clock).await;
    let tickers = [(&ticker, url.clone())];
    let mut runs = [TickerRun::default()];
    let mut due = [Some(begin)];
    let at = after(begin, Duration::from_secs(35 * 60));
    simulate(
        &server,
        &mut reports,
        &clock,
        &tickers,
        at,
        &mut runs,
        &mut due,
        async |_, _: &TickerRun| {},
    )
    .await;
    let s = status_of(&daemon, &url).await;
    assert_eq!((s.gaps, s.interval), (2, Some(225)), "{s:?}");

    write("10m");
    daemon.reload().await.unwrap();
    let mut after_reload = [TickerRun::default()];
    let end = after(at, Duration::from_secs(30 * 60));
    simulate(
        &server,
        &mut reports,
        &clock,
        &tickers,
        end,
        &mut after_reload,
        &mut due,
        async |_, _: &TickerRun| {},
    )
    .await;
    let run = &after_reload[0];
    assert!(run.polls.len() >= 2, "{:?}", run.polls.len());
    // Its first poll was due at the sped-up time; from it on, the new
    // interval, not a halving of it nor of the old one.
    for p in 0..run.polls.len() {
        assert_within(
            "after the reload",
            run.wait_after(p),
            Duration::from_secs(600),
            0.05,
        );
    }
    let s = status_of(&daemon, &url).await;
    assert_eq!(
        (s.gaps, s.interval, s.gap.as_deref()),
        (2, Some(600), None),
        "{s:?}"
    );
    daemon.shutdown().await.unwrap();
}

/// Feed `a` after feed `b` brought the same stories: entries another feed
/// brought are new to this one, so a document of them only is a gap; the
/// next, overlapping, is not. On sled (entries looked up one by one:
/// sightings) and on PostgreSQL when there is one (this feed's keys read
/// once: the others are built and found at commit).
async fn sightings_are_new_to_the_feed_on(
    config: Config,
    store: Store,
    server: &FeedServer,
    a: &Ticker,
    b: &Ticker,
) {
    let clock = Arc::new(ManualClock::new(t0()));
    let fetcher = Fetcher::new(&config.poll).unwrap();
    let ctx = PollContext::new(store, fetcher, clock.clone(), &config);
    let minutes = |m: i64| t0() + chrono::Duration::minutes(m);
    let first = poll_ticker_at(server, &clock, &ctx, &config, a, minutes(0)).await;
    assert!(!first.gap);
    // The mirror brings the next twenty first.
    let mirrored = poll_ticker_at(server, &clock, &ctx, &config, b, minutes(15)).await;
    assert!(matches!(&mirrored.outcome, Outcome::Updated { ingest, .. } if ingest.new == 10));
    let r = poll_ticker_at(server, &clock, &ctx, &config, a, minutes(15)).await;
    assert!(
        matches!(&r.outcome, Outcome::Updated { ingest, notes, .. } if ingest.new == 0 && ingest.merged == 10 && notes.known == 0),
        "{r:?}"
    );
    assert!(r.gap, "stories another feed brought are new to this one: {r:?}");
    let r = poll_ticker_at(server, &clock, &ctx, &config, a, minutes(22)).await;
    assert!(
        matches!(&r.outcome, Outcome::Updated { notes, .. } if notes.known == 3 && notes.entries == 10),
        "{r:?}"
    );
    assert!(!r.gap, "{r:?}");
    let s = ctx.store.feed_state(&r.url).unwrap().unwrap();
    assert_eq!((s.gaps, s.speedup, s.interval), (1, 1, Some(450)), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_other_feeds_brought_are_new_to_this_feed_on_both_stores() {
    let server = FeedServer::start().await;
    // One entry a minute; the mirror serves the same stories, links and
    // all, in windows-1256.
    let times = every(
        t0() - chrono::Duration::minutes(10),
        t0() + chrono::Duration::hours(2),
        Duration::from_secs(60),
    );
    let a = Ticker {
        name: "wire",
        path: "/wire.xml",
        window: 10,
        cp1256: false,
        ttl: None,
        times,
    };
    let b = Ticker {
        path: "/mirror.xml",
        cp1256: true,
        times: a.times.clone(),
        ..a
    };
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed("وكالة", &server.url(a.path))
        .feed("مرآة", &server.url(b.path))
        .load(dir.path());
    let store = Store::open(&config.storage.path).unwrap();
    sightings_are_new_to_the_feed_on(config.clone(), store, &server, &a, &b).await;
    let Some(db) = pg_database("entries_other_feeds_brought_are_new_to_this_feed_on_both_stores").await
    else {
        return;
    };
    let mut config = config;
    config.storage.backend = feedwire::config::Backend::Postgres;
    config.storage.url = Some(db);
    let store = tokio::task::spawn_blocking({
        let storage = config.storage.clone();
        move || Store::open_storage(&storage).unwrap()
    })
    .await
    .unwrap();
    sightings_are_new_to_the_feed_on(config, store, &server, &a, &b).await;
}
