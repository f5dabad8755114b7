//! Operations: the systemd notify protocol from the real binary, the
//! watchdog, config reloads, metrics, the status page, export and import.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use feedwire::app::Daemon;
use reqwest::StatusCode;

use crate::support::*;

/// A NOTIFY_SOCKET bound by the test; yields each datagram as text.
struct NotifySocket {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        NotifySocket { socket, path }
    }

    /// The next message (bounded wait).
    fn next(&self) -> String {
        let mut buf = vec![0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within the bound");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Reads messages until one contains `needle`; returns all read.
    fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let m = self.next();
            let done = m.contains(needle);
            seen.push(m);
            if done {
                return seen;
            }
        }
    }

    /// Messages already waiting, without blocking.
    fn drain(&self) -> Vec<String> {
        self.socket.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        self.socket.set_nonblocking(false).unwrap();
        out
    }
}

/// The real binary on the fixtures, with a NOTIFY_SOCKET the test reads and
/// a 0.4 s watchdog; `extra` adds environment variables.
async fn notified_daemon(
    extra: &[(&str, &std::ffi::OsStr)],
) -> (FeedServer, tempfile::TempDir, NotifySocket, Binary) {
    notified_daemon_with(extra, |_, config| config).await
}

/// [`notified_daemon`], its config text first passed through `edit` (with
/// the test's directory).
async fn notified_daemon_with(
    extra: &[(&str, &std::ffi::OsStr)],
    edit: impl FnOnce(&Path, String) -> String,
) -> (FeedServer, tempfile::TempDir, NotifySocket, Binary) {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_all_fixtures(&server));
    let text = edit(dir.path(), std::fs::read_to_string(&config).unwrap());
    std::fs::write(&config, text).unwrap();
    let notify = NotifySocket::bind(dir.path());
    let mut env = vec![
        ("NOTIFY_SOCKET", notify.path.as_os_str()),
        ("WATCHDOG_USEC", "400000".as_ref()),
    ];
    env.extend_from_slice(extra);
    let daemon = Binary::run_with_env(&config, &env);
    (server, dir, notify, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_protocol_in_order_from_the_real_binary() {
    let (_server, _dir, notify, daemon) = notified_daemon(&[]).await;

    // READY with a status line, once the store is open and the port bound.
    let first = notify.next();
    assert!(first.contains("READY=1\n"), "{first:?}");
    assert!(first.contains("STATUS=5 feeds: "), "{first:?}");
    let addr = daemon.wait_listening();
    assert_eq!(get(addr, "/healthz").await.status(), StatusCode::OK);
    // Watchdog pings follow while the poller turns.
    notify.until("WATCHDOG=1");

    // SIGHUP: RELOADING (with the MONOTONIC_USEC systemd 253 wants), then READY.
    daemon.signal("HUP");
    let reload = notify.until("RELOADING=1");
    assert!(reload.last().unwrap().contains("MONOTONIC_USEC="), "{reload:?}");
    let after = notify.until("READY=1");
    assert!(after.iter().all(|m| !m.contains("STOPPING")), "{after:?}");
    daemon.wait_for_line("Config reloaded.");

    // SIGTERM: STOPPING, exit 0.
    daemon.signal("TERM");
    notify.until("STOPPING=1");
    assert_eq!(daemon.wait().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_is_withheld_while_the_poller_is_stuck() {
    let (_server, _dir, notify, daemon) =
        notified_daemon(&[("FEEDWIRE_TEST_STALL_POLLER", "1".as_ref())]).await;
    notify.until("READY=1");
    let addr = daemon.wait_listening();
    // The daemon still serves; it just stops vouching for itself.
    daemon.wait_for_line("Withholding the watchdog ping");
    notify.drain();
    daemon.wait_for_line("Withholding the watchdog ping");
    daemon.wait_for_line("Withholding the watchdog ping");
    let between = notify.drain();
    assert!(
        between.iter().all(|m| !m.contains("WATCHDOG=1")),
        "no ping while stuck: {between:?}"
    );
    assert_eq!(get(addr, "/politics.rss").await.status(), StatusCode::OK);
    // `/healthz` reports it too, once the loop is late by its own bound.
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait().code(),
        Some(0),
        "a stalled poller still stops cleanly"
    );
}

/// A render that never ends: the output's files go through a temporary file
/// that is here a named pipe nobody reads, so the render blocks in `open`
/// as it would on a hung network mount (or in sled's flush after a full
/// disk, BENCHMARKS.md Run 15). The daemon keeps serving its last documents
/// but stops vouching for itself, so that systemd restarts it; with the
/// test's 0.4 s watchdog a render counts as stuck after 4 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_that_never_ends_withholds_the_watchdog() {
    let (_server, dir, notify, daemon) = notified_daemon_with(&[], |dir, config| {
        let out = dir.join("out");
        std::fs::create_dir(&out).unwrap();
        for ext in ["rss", "atom", "json"] {
            let fifo = out.join(format!("سياسة.{ext}.tmp"));
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success(), "mkfifo {}", fifo.display());
        }
        let file = format!("tags = [\"politics\"]\nfile = {:?}", out.join("سياسة"));
        config.replacen("tags = [\"politics\"]", &file, 1)
    })
    .await;
    notify.until("READY=1");
    // Read every notification as it comes: pings wait four seconds here
    // before a render counts as stuck, and a socket nobody reads fills up
    // and blocks the sender.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = notify.socket.try_clone().unwrap();
    std::thread::spawn({
        let received = received.clone();
        move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = reader.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                received.lock().unwrap().push(m);
            }
        }
    });
    let addr = daemon.wait_listening();
    let line = daemon.wait_for_line("a render has not finished");
    assert!(line.contains("Withholding the watchdog ping"), "{line}");
    // A ping sent just before the first refusal may still be on its way.
    daemon.wait_for_line("a render has not finished");
    let stuck_at = received.lock().unwrap().len();
    daemon.wait_for_line("a render has not finished");
    daemon.wait_for_line("a render has not finished");
    let between = received.lock().unwrap()[stuck_at..].to_vec();
    assert!(
        between.iter().all(|m| !m.contains("WATCHDOG=1")),
        "no ping while a render is stuck: {between:?}"
    );
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let why = health.text().await.unwrap();
    assert!(why.contains("a render has not finished"), "{why}");
    // Subscribers still get the documents rendered before.
    assert_eq!(get(addr, "/politics.rss").await.status(), StatusCode::OK);
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait().code(),
        Some(0),
        "a stuck render does not hold up the stop"
    );
    drop(dir);
}

async fn get(addr: std::net::SocketAddr, path: &str) -> reqwest::Response {
    http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap()
}

/// Replaces `from` with `to` in the config file.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in config");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_valid_changes_and_refuses_invalid_ones() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut feeds = serve_all_fixtures(&server);
    let atom = feeds.remove(1);
    let path = write_config(dir.path(), &feeds);
    let mut daemon = Daemon::start(load_config(&path)).await.unwrap();
    let client = http_client();
    let title_of = |body: &[u8]| feed_rs::parser::parse(body).unwrap().title.unwrap().content;
    let old_addr = daemon.addr;

    // Invalid edits (a typo, a half-written file): refused, old config kept.
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("[poll]", "[poll]\nintervall = \"5m\"")).unwrap();
    let err = daemon.reload().await.unwrap_err();
    assert!(err.to_string().contains("poll.intervall: unknown field"), "{err}");
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    assert!(daemon.reload().await.is_err());
    assert_eq!(daemon.config().feeds.len(), 4);

    // A valid edit: one feed added, one removed, an output retitled, and a
    // new listen address; all applied without a restart.
    let mut reports = daemon.reports();
    std::fs::write(&path, &good).unwrap();
    let broken = server.url("/broken.xml");
    edit(
        &path,
        &format!("url = {broken:?}"),
        &format!("url = {:?}", atom.url),
    );
    edit(&path, "name = \"Broken\"", "name = \"Example News\"");
    edit(&path, "title = \"سياسة\"", "title = \"أخبار سياسية\"");
    edit(
        &path,
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\n# moved",
    );
    let summary = daemon.reload().await.unwrap();
    assert_eq!(summary, "+1 feed, -1 feed, output politics changed");
    assert_eq!(daemon.config().feeds.len(), 4);

    // The new feed is polled promptly.
    let report = tokio::time::timeout(WAIT, async {
        loop {
            let r = reports.recv().await.unwrap();
            if r.url == atom.url {
                return r;
            }
        }
    })
    .await
    .expect("the added feed is polled");
    assert!(
        matches!(report.outcome, feedwire::poller::Outcome::Updated { .. }),
        "{report:?}"
    );

    // The output is rendered again with its new title.
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| title_of(&published.get("politics.rss").unwrap().body) == "أخبار سياسية"),
    )
    .await
    .expect("re-rendered with the new title")
    .unwrap();
    assert_eq!(daemon.addr, old_addr, "listen unchanged: same socket");

    // A changed listen address rebinds: the new one serves.
    let fresh = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = fresh.local_addr().unwrap().port();
    drop(fresh);
    edit(
        &path,
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let summary = daemon.reload().await.unwrap();
    assert_eq!(summary, "server settings changed");
    assert_eq!(daemon.addr.port(), port);
    let r = client
        .get(format!("http://{}/politics.atom", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_edits_on_disk_reload_once_with_the_final_text() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let feeds = serve_all_fixtures(&server);
    let path = write_config(dir.path(), &feeds[..2]);
    let daemon = Binary::run_with_env(&path, &[("RUST_LOG", "info,feedwire::app=debug".as_ref())]);
    daemon.wait_for_line("Watching the config file.");
    // Several saves in a row, the middle one broken: debounced into one
    // reload of the final, valid text.
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("title = \"سياسة\"", "title = \"1\"")).unwrap();
    std::fs::write(&path, good.replace("[poll]", "[poll\n")).unwrap();
    let more = write_config(dir.path(), &feeds[..3]);
    assert_eq!(more, path);
    let line = daemon.wait_for_line("Config reloaded.");
    assert!(line.contains("+1 feed"), "{line}");
    let log = daemon.log.lock().unwrap().join("\n");
    assert_eq!(log.matches("Config reloaded.").count(), 1, "{log}");
    assert!(
        !log.contains("Config not reloaded."),
        "the broken middle save was never read: {log}"
    );
    daemon.signal("TERM");
    assert_eq!(daemon.wait().code(), Some(0));
}

/// Prometheus text exposition: `# TYPE`/`# HELP`/`# UNIT` comments, samples
/// `name{labels} value`, `# EOF` last.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"));
    let mut samples = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split(' ').next().unwrap();
            assert!(["TYPE", "HELP", "UNIT"].contains(&kind), "{line}");
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.push((series.to_owned(), value));
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_page_and_readiness() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &serve_all_fixtures(&server));
    let daemon = Daemon::start(load_config(&path)).await.unwrap();
    let base = format!("http://{}", daemon.addr);
    let client = http_client();
    // /readyz turns ready once a poll round is done. Subscribed before each
    // check, so a round that ends after the check is seen.
    let mut reports = daemon.reports();
    tokio::time::timeout(WAIT, async {
        loop {
            let r = client.get(format!("{base}/readyz")).send().await.unwrap();
            if r.status() == StatusCode::OK {
                break;
            }
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            let _ = reports.recv().await;
        }
    })
    .await
    .expect("ready after the first round");
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| entries_of(&published.get("politics.atom").unwrap().body).0.len() == 8),
    )
    .await
    .expect("every item rendered")
    .unwrap();
    client.get(format!("{base}/politics.rss")).send().await.unwrap();

    let r = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert!(r.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let samples = parse_exposition(&r.text().await.unwrap());
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .unwrap_or_else(|| panic!("no {series}"))
            .1
    };
    assert_eq!(value("feedwire_store_items"), 8.0);
    assert_eq!(
        value("feedwire_fetches_total{feed=\"Broken\",result=\"failed\"}"),
        1.0
    );
    assert_eq!(
        value("feedwire_fetches_total{feed=\"اليوم السابع\",result=\"updated\"}"),
        1.0
    );
    assert_eq!(
        value("feedwire_items_total{feed=\"اليوم السابع\",kind=\"new\"}"),
        2.0
    );
    assert_eq!(value("feedwire_feed_consecutive_failures{feed=\"Broken\"}"), 1.0);
    assert!(value("feedwire_store_size_bytes") > 0.0);
    assert!(value("feedwire_http_requests_total{route=\"document\",status=\"200\"}") >= 1.0);
    assert!(samples
        .iter()
        .any(|(s, _)| s.starts_with("feedwire_output_size_bytes{output=\"politics\",format=\"atom\"}")));

    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert!(page.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<td dir=\"auto\"><a href=\"") && page.contains(">اليوم السابع</a>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"failing\">failing</td>"), "{page}");
    assert!(page.contains("<td dir=\"auto\">سياسة</td><td>8</td>"), "{page}");
    assert!(
        page.contains("not a feed"),
        "the broken feed's error is shown: {page}"
    );
    daemon.shutdown().await.unwrap();
}

/// A full output says how long an item stays in it (its newest and oldest
/// items' dates apart), in the metrics and on the status page; an output
/// with room left carries every item it selects and has no span. A
/// windows-1256 Arabic feed of five items 20 minutes apart; one output of
/// three items (40 minutes), one of ten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_output_says_how_long_its_items_stay() {
    let server = FeedServer::start().await;
    let now = chrono::Utc::now();
    let items: String = (1..=5)
        .map(|i| {
            let date = http_date(now - chrono::Duration::minutes(20 * i));
            format!("<item><title>خبر رقم {i}</title><link>https://www.youm7.com/story/{i}</link><pubDate>{date}</pubDate></item>")
        })
        .collect();
    let xml = format!(
        r#"<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel><title>اليوم السابع</title><link>https://www.youm7.com/</link>{items}</channel></rss>"#
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(&xml);
    let feed = server.route("/rss", Route::feed(bytes.into_owned(), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let path = TestConfig::new().feed("اليوم السابع", &feed).write(dir.path());
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[[output]]\nname = \"politics\"\n",
        "[[output]]\nname = \"أخبار\"\nmax_items = 10\ntags = [\"politics\"]\n\n[[output]]\nname = \"politics\"\nmax_items = 3\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let daemon = Daemon::start(load_config(&path)).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| {
            published
                .get("أخبار.atom")
                .is_some_and(|d| entries_of(&d.body).0.len() == 5)
        }),
    )
    .await
    .expect("every item rendered")
    .unwrap();
    let base = format!("http://{}", daemon.addr);
    let metrics = get_text(&format!("{base}/metrics")).await;
    let samples = parse_exposition(&metrics);
    let span: Vec<&(String, f64)> = samples
        .iter()
        .filter(|(s, _)| s.starts_with("feedwire_output_span_seconds"))
        .collect();
    assert_eq!(
        span,
        [&(
            "feedwire_output_span_seconds{output=\"politics\"}".to_owned(),
            2400.0
        )],
        "{metrics}"
    );
    let page = get_text(&format!("{base}/")).await;
    assert!(page.contains("<td>3</td><td>the last 40m</td>"), "{page}");
    assert!(page.contains("<td>5</td><td>every item selected</td>"), "{page}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_through_the_daemon_and_import_round_trip() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &serve_all_fixtures(&server));
    // `feedwire export` finds the daemon at `[server] listen`: a real port.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    edit(
        &path,
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let daemon = Binary::run(&path);
    daemon.wait_for_line("Outputs rendered. stored=8");
    // The daemon holds the store: export goes through its HTTP endpoint.
    let out = Binary::cli(&["export", "--config"], &[&path]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let dump = out.stdout;
    assert_eq!(dump.iter().filter(|b| **b == b'\n').count(), 8);
    assert!(String::from_utf8_lossy(&dump).contains("الحكومة تعلن استقالتها"));
    daemon.signal("TERM");
    assert_eq!(daemon.wait().code(), Some(0));

    // Import into a fresh store, then export it directly: the same items.
    let restored = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let other = restored.path().join("feeds.toml");
    std::fs::write(&other, &text).unwrap();
    let dump_file = restored.path().join("dump.jsonl");
    std::fs::write(&dump_file, &dump).unwrap();
    let out = Binary::cli(&["import", "--config"], &[&other, &dump_file]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("8 items imported, 0 already stored"));
    let out = Binary::cli(&["export", "--config"], &[&other]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, dump, "export → import → export is the identity");
    // Importing again adds nothing.
    let out = Binary::cli(&["import", "--config"], &[&other, &dump_file]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 items imported, 8 already stored"));
    // A file that is not a dump is refused with its line.
    std::fs::write(&dump_file, "{\"not\": \"an item\"}\n").unwrap();
    let out = Binary::cli(&["import", "--config"], &[&other, &dump_file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: not an exported item"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_activation_serves_on_the_passed_socket() {
    let Ok(tool) = which("systemd-socket-activate") else {
        // CI installs systemd; say so plainly rather than pass silently.
        eprintln!("systemd-socket-activate not installed: socket activation not tested here");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have systemd-socket-activate"
        );
        return;
    };
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // `listen` says port 0: only the passed socket can explain a fixed port.
    let path = write_config(dir.path(), &serve_all_fixtures(&server));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut cmd = std::process::Command::new(tool);
    cmd.env("RUST_LOG", "info")
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .arg(env!("CARGO_BIN_EXE_feedwire"))
        .args(["run", "--config"])
        .arg(&path);
    let daemon = Binary::spawn(cmd);
    daemon.wait_for_line("Listening on");
    // systemd-socket-activate starts the service on the first connection.
    let r = tokio::time::timeout(
        WAIT,
        get(format!("127.0.0.1:{port}").parse().unwrap(), "/healthz"),
    )
    .await
    .expect("answered on the activated socket");
    assert_eq!(r.status(), StatusCode::OK);
    let line = daemon.wait_for_line("Listening.");
    assert!(line.contains(&format!("addr=127.0.0.1:{port}")), "{line}");
    daemon.signal("TERM");
    daemon.wait();
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A reload that changes which feeds an output selects changes what it
/// renders: which feeds each output selects is worked out once per config
/// and kept between renders (`render::Selection`), so it must be worked
/// out again for the new one. Two Arabic feeds, one in windows-1256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changing_an_outputs_feeds_changes_what_it_renders() {
    const YOUM7_TITLE: &str = "الحكومة تعلن استقالتها بعد اجتماع طارئ";
    const AJ_LINK: &str = "https://www.aljazeera.net/news/politics/2025/";
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let aj = server.serve_fixture("/aj.xml", "aljazeera_rss2.xml", "application/rss+xml");
    let youm7 = server.serve_fixture("/youm7.xml", "youm7_cp1256.xml", "text/xml");
    let path = write_config(
        dir.path(),
        &[
            FeedEntry {
                name: "الجزيرة نت",
                url: aj,
                tags: &["politics"],
            },
            FeedEntry {
                name: "اليوم السابع",
                url: youm7.clone(),
                tags: &["مصر"],
            },
        ],
    );
    let mut daemon = Daemon::start(load_config(&path)).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    let rss = || String::from_utf8_lossy(&published.get("politics.rss").unwrap().body).into_owned();

    // Both feeds polled; the output selects Al Jazeera only.
    let store = daemon.store();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| rss().contains(AJ_LINK) && store.feed_state(&youm7).unwrap().is_some()),
    )
    .await
    .expect("both feeds polled and Al Jazeera rendered")
    .unwrap();
    assert!(!rss().contains(YOUM7_TITLE), "{}", rss());

    // The output now selects Youm7's tag instead: its items replace Al
    // Jazeera's at the next render.
    edit(
        &path,
        "max_items = 50\ntags = [\"politics\"]",
        "max_items = 50\ntags = [\"مصر\"]",
    );
    assert_eq!(daemon.reload().await.unwrap(), "output politics changed");
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| rss().contains(YOUM7_TITLE) && !rss().contains(AJ_LINK)),
    )
    .await
    .expect("re-rendered with the new output's feeds")
    .unwrap();
    daemon.shutdown().await.unwrap();
}
