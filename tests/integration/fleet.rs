//! Several `feedwire run` nodes on one PostgreSQL store (issue 14): real
//! processes, a real database (`support::pg_database`), a local farm of
//! feeds whose request log is the referee.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{http_client, pg_database, Binary, FeedServer, Route, SeenRequest};

const FEEDS: usize = 300;
/// Feeds per shared story: story `s` is carried by feeds `10s..10s+9`.
const SHARING: usize = 10;
const INTERVAL: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(6);
/// A live node renews its leases every third of `LEASE` while it polls, and
/// the store counts whole seconds: a dead node's lease on a feed it was
/// polling ends at least this long after its death.
const DEAD_LEASE_LASTS: Duration = Duration::from_secs(6 - 2 - 1);
const PER_HOST: usize = 4;

/// Feed `i`'s document: its own items `0..own`, each with an Arabic title,
/// and the story it shares with nine other feeds.
fn farm_feed(i: usize, own: usize) -> Vec<u8> {
    let mut items = String::new();
    for j in 0..own {
        items.push_str(&format!(
            "<item><title>خبر {j} من المصدر {i}</title><link>http://farm.test/{i}/{j}</link>\
             <pubDate>Mon, 0{} Jan 2024 10:{:02}:00 +0000</pubDate></item>",
            1 + j % 9,
            i % 60
        ));
    }
    let story = i / SHARING;
    items.push_str(&format!(
        "<item><title>قصة مشتركة {story}</title><link>http://farm.test/story/{story}</link>\
         <pubDate>Tue, 02 Jan 2024 08:{:02}:00 +0000</pubDate></item>",
        story % 60
    ));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>مصدر {i}</title>\
         <link>http://farm.test/{i}/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

fn serve_farm(farm: &FeedServer, own: usize) {
    for i in 0..FEEDS {
        farm.set(
            &format!("/feed/{i}.xml"),
            Route::feed(farm_feed(i, own), "application/rss+xml").delay(Duration::from_millis(40)),
        );
    }
}

fn fleet_config(dir: &Path, farm: &FeedServer) -> std::path::PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n\
         [storage]\nbackend = \"postgres\"\n# The URL comes from FEEDWIRE_DATABASE_URL.\nlease = \"{}s\"\npool_size = 6\n\
         retention = \"36500d\"\nseen_retention = \"36500d\"\n\n\
         [poll]\ninterval = \"{}s\"\ntimeout = \"2s\"\nper_host = {PER_HOST}\nconcurrency = 16\n\
         first_poll_spread = \"0s\"\nallow_private_networks = true\n\n\
         [[output]]\nname = \"politics\"\ntitle = \"سياسة\"\nlanguage = \"ar\"\nmax_items = 100\ntags = [\"politics\"]\n\n",
        LEASE.as_secs(),
        INTERVAL.as_secs()
    );
    for i in 0..FEEDS {
        text.push_str(&format!(
            "[[feed]]\nurl = \"{}\"\nname = \"مصدر {i}\"\ntags = [\"politics\"]\n\n",
            farm.url(&format!("/feed/{i}.xml"))
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_node(config: &Path, db: &str, name: &str) -> Binary {
    Binary::run_with_env(
        config,
        &[
            ("FEEDWIRE_DATABASE_URL", db.as_ref()),
            ("FEEDWIRE_NODE", name.as_ref()),
        ],
    )
}

/// Request times per feed index, in arrival order.
fn fetches(log: &[SeenRequest]) -> HashMap<usize, Vec<Instant>> {
    let mut out: HashMap<usize, Vec<Instant>> = HashMap::new();
    for r in log {
        if let Some(i) = r
            .path
            .strip_prefix("/feed/")
            .and_then(|p| p.strip_suffix(".xml"))
            .and_then(|i| i.parse().ok())
        {
            out.entry(i).or_default().push(r.at);
        }
    }
    out
}

async fn get(addr: std::net::SocketAddr, path: &str) -> reqwest::Response {
    http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap()
}

/// Waits (bounded) until `node` logs a render made with `stored` items.
fn wait_rendered(node: &Binary, stored: usize) {
    let needle = format!("stored={stored}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if node.wait_for_line("Outputs rendered.").contains(&needle) {
            return;
        }
    }
    panic!("no render with {needle}");
}

/// Three nodes, 300 feeds, one node SIGKILLed mid-round: every feed is
/// polled on schedule, nothing is lost or stored twice, no feed is fetched
/// twice within its interval except after the dead node's leases expired,
/// `per_host` holds across the fleet, and the survivors serve identical
/// documents with identical ETags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_polling_and_survive_a_sigkill() {
    let Some(db) = pg_database("three_nodes_share_polling_and_survive_a_sigkill").await else {
        return;
    };
    let farm = FeedServer::start().await;
    serve_farm(&farm, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = fleet_config(dir.path(), &farm);
    let started = Instant::now();
    let a = start_node(&config, &db, "node-a");
    let b = start_node(&config, &db, "node-b");
    let c = start_node(&config, &db, "node-c");
    let (addr_a, addr_b) = (a.wait_listening(), b.wait_listening());
    c.wait_listening();

    // Mid-round: a third of the feeds fetched, node c has polls in flight.
    farm.wait_for_requests("a third of round 1", Duration::from_secs(60), |r| {
        r.len() >= FEEDS / 3
    })
    .await;
    // Node c dies between these two instants.
    let signalled = Instant::now();
    c.signal("KILL");
    let killed = Instant::now();
    c.wait();

    // Round 1 completes: every feed fetched at least once (those c held,
    // after its leases expire).
    farm.wait_for_requests("round 1 on every feed", Duration::from_secs(60), |log| {
        fetches(log).len() == FEEDS
    })
    .await;
    let round1_done = Instant::now();
    assert!(
        round1_done < started + INTERVAL,
        "round 1 took {:?}, longer than the interval",
        round1_done - started
    );
    // Every feed gains an item for round 2.
    serve_farm(&farm, 4);
    farm.wait_for_requests(
        "round 2 on every feed",
        INTERVAL * 2 + Duration::from_secs(30),
        |log| {
            let f = fetches(log);
            f.len() == FEEDS && f.values().all(|t| t.len() >= 2)
        },
    )
    .await;

    // Schedule, from the farm's own log: consecutive fetches of a feed are
    // at least an interval apart (whole-second due times: 1.5 s slack),
    // unless the first was node c's, in flight when it died, and the
    // second came after its lease expired. Live nodes renew their leases
    // while they poll, so no other double fetch is allowed.
    let mut refetched_after_expiry = 0;
    for (i, times) in fetches(&farm.requests()) {
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            if gap + Duration::from_millis(1500) >= INTERVAL {
                continue;
            }
            assert!(
                pair[0] < killed && pair[1] >= signalled + DEAD_LEASE_LASTS,
                "feed {i} fetched twice {gap:?} apart, not a dead node's lease expiring"
            );
            refetched_after_expiry += 1;
        }
        assert!(times[0] < round1_done, "feed {i} not polled in round 1");
        assert!(times.len() <= 3, "feed {i} fetched {} times", times.len());
    }
    assert!(
        refetched_after_expiry <= 16,
        "{refetched_after_expiry} refetches: more than node c could have had in flight"
    );
    let max_in_flight = farm.max_in_flight_on("127.0.0.1");
    assert!(
        max_in_flight <= PER_HOST,
        "{max_in_flight} fetches to one host at once across the fleet; per_host = {PER_HOST}"
    );
    eprintln!(
        "fleet: round 1 in {:?}, {refetched_after_expiry} feeds refetched after node c's leases expired, at most {max_in_flight} fetches at once to the farm's host",
        round1_done - started
    );

    // Stored = distinct links served, each once, shared stories with all
    // their sources; both survivors converge on the same bytes.
    let distinct = FEEDS * 4 + FEEDS / SHARING;
    wait_rendered(&a, distinct);
    wait_rendered(&b, distinct);
    let export = get(addr_a, "/export.jsonl").await.text().await.unwrap();
    let mut links = BTreeSet::new();
    for line in export.lines().filter(|l| !l.starts_with("{\"seen\"")) {
        let item: feedwire::item::Item = serde_json::from_str(line).unwrap();
        let link = item.link.clone().unwrap();
        if link.contains("/story/") {
            assert_eq!(item.sources.len(), SHARING, "{link}: {:?}", item.sources);
        }
        assert!(links.insert(link.clone()), "{link} stored twice");
    }
    assert_eq!(links.len(), distinct, "stored items");
    for path in ["/politics.rss", "/politics.atom", "/politics.json", "/feeds.opml"] {
        let (ra, rb) = (get(addr_a, path).await, get(addr_b, path).await);
        let (ea, eb) = (
            ra.headers().get("etag").cloned(),
            rb.headers().get("etag").cloned(),
        );
        let (ba, bb) = (ra.bytes().await.unwrap(), rb.bytes().await.unwrap());
        assert!(ba == bb, "{path}: the survivors serve different documents");
        assert_eq!(ea, eb, "{path}: ETags differ");
    }

    // Operations: which node polled each feed, and the fleet's nodes.
    let status: serde_json::Value =
        serde_json::from_slice(&get(addr_b, "/status.json").await.bytes().await.unwrap()).unwrap();
    let by: BTreeSet<String> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["polled_by"].as_str().unwrap_or("none").to_owned())
        .collect();
    assert!(
        by.is_subset(&["node-a", "node-b", "node-c"].map(String::from).into()),
        "{by:?}"
    );
    assert!(by.contains("node-a") && by.contains("node-b"), "{by:?}");
    let fleet: serde_json::Value =
        serde_json::from_slice(&get(addr_a, "/fleet.json").await.bytes().await.unwrap()).unwrap();
    let nodes: HashMap<String, bool> = fleet["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["alive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(nodes.get("node-a"), Some(&true), "{fleet}");
    assert_eq!(nodes.get("node-b"), Some(&true), "{fleet}");
    assert_eq!(nodes.get("node-c"), Some(&false), "{fleet}");
    let page = get(addr_a, "/").await.text().await.unwrap();
    assert!(
        page.contains("<h2>Fleet</h2>") && page.contains("node-c"),
        "status page lacks the fleet"
    );

    for node in [a, b] {
        node.signal("TERM");
        assert!(node.wait().success());
    }
}

/// A TCP relay to the database that the test can cut and restore: a real
/// outage between a node and PostgreSQL, without touching the server that
/// other tests share.
struct Relay {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = tokio::sync::watch::Sender::new(true);
        let watch = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut down = watch.subscribe();
                if !*down.borrow() {
                    continue; // dropped: connection refused, in effect
                }
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !up) => {}
                    }
                });
            }
        });
        Relay { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// Losing the database is an outage, not a crash: the node keeps serving
/// the last documents, `/healthz` fails and `/readyz` says why, the outage
/// is logged once, and the node recovers by itself when the database is
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_serves_last_documents_and_recovers() {
    let Some(db) = pg_database("database_outage_serves_last_documents_and_recovers").await else {
        return;
    };
    let mut db_url = url::Url::parse(&db).unwrap();
    let upstream: std::net::SocketAddr = format!("{}:{}", db_url.host_str().unwrap(), db_url.port().unwrap())
        .parse()
        .unwrap();
    let relay = Relay::start(upstream).await;
    db_url.set_port(Some(relay.addr.port())).unwrap();

    let farm = FeedServer::start().await;
    for i in 0..3 {
        farm.set(
            &format!("/feed/{i}.xml"),
            Route::feed(farm_feed(i, 2), "application/rss+xml"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n\
         [storage]\nbackend = \"postgres\"\nurl = \"{db_url}\"\npool_timeout = \"1s\"\nconnect_timeout = \"1s\"\n\
         retention = \"36500d\"\n\n\
         [poll]\ninterval = \"1m\"\nfirst_poll_spread = \"0s\"\nallow_private_networks = true\n\n\
         [[output]]\nname = \"politics\"\ntags = [\"politics\"]\n\n"
    );
    for i in 0..3 {
        text.push_str(&format!(
            "[[feed]]\nurl = \"{}\"\nname = \"مصدر {i}\"\ntags = [\"politics\"]\n\n",
            farm.url(&format!("/feed/{i}.xml"))
        ));
    }
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, text).unwrap();
    let node = Binary::run(&config);
    let addr = node.wait_listening();
    // Three feeds of two own items each, and their one shared story.
    wait_rendered(&node, 7);
    let before = get(addr, "/politics.rss").await;
    let etag = before.headers().get("etag").cloned();
    let before = before.bytes().await.unwrap();
    assert_eq!(get(addr, "/healthz").await.status(), 200);

    relay.set(false);
    node.wait_for_line("Database unreachable");
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status(), 503);
    assert!(health.text().await.unwrap().contains("database unreachable"));
    let ready = get(addr, "/readyz").await;
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("database unreachable"));
    let during = get(addr, "/politics.rss").await;
    assert_eq!(during.status(), 200);
    assert_eq!(during.headers().get("etag").cloned(), etag);
    assert!(
        during.bytes().await.unwrap() == before,
        "the last document is served during the outage"
    );

    relay.set(true);
    node.wait_for_line("Database reachable again");
    assert_eq!(get(addr, "/healthz").await.status(), 200);
    let log = node.log.lock().unwrap().clone();
    let outages = log.iter().filter(|l| l.contains("Database unreachable")).count();
    assert_eq!(outages, 1, "logged once:\n{}", log.join("\n"));
    node.signal("TERM");
    assert!(node.wait().success());
}
