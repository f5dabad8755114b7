//! Story clustering in the outputs: one entry per story across outlets, with
//! a stable id while it grows and an updated time that moves when an outlet
//! joins.

use std::path::Path;
use std::sync::Arc;

use chrono::TimeZone;
use feedwire::app::render_all;
use feedwire::clock::ManualClock;
use feedwire::config::Config;
use feedwire::fetch::Fetcher;
use feedwire::poller::{poll_feed, Outcome, PollContext};
use feedwire::store::Store;

use crate::support::*;

const AMNESTY_AJ: &str = "البرلمان العراقي يقر تعديل قانون العفو العام بعد جلسة صاخبة";
const AMNESTY_SKY: &str = "العراق.. مجلس النواب يصوت على 3 قوانين جدلية بينها العفو العام";
const AJ_LINK: &str = "https://www.aljazeera.net/news/2025/1/21/iraq-amnesty";
const SKY_LINK: &str = "https://www.skynewsarabia.com/middle-east/iraq-amnesty-law";

fn cluster_config(dir: &Path, server: &FeedServer) -> Config {
    let path = write_config(
        dir,
        &[
            FeedEntry {
                name: "الجزيرة",
                url: server.serve_fixture("/aj.xml", "cluster_aj.xml", "application/rss+xml"),
                tags: &["politics"],
            },
            FeedEntry {
                name: "سكاي نيوز عربية",
                url: server.serve_fixture("/sky.xml", "cluster_sky.xml", "application/rss+xml"),
                tags: &["politics"],
            },
        ],
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("max_items = 50\n", "max_items = 50\ncluster = true\n", 1),
    )
    .unwrap();
    load_config(&path)
}

async fn poll(ctx: &PollContext, config: &Config, index: usize) {
    let feed = &config.feeds[index];
    let r = poll_feed(ctx, feed, config.interval_of(feed)).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_entry_per_story_stable_while_it_grows() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cluster_config(dir.path(), &server);
    let t0 = chrono::Utc.with_ymd_and_hms(2025, 2, 1, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let store = Store::open(&config.storage.path).unwrap();
    let ctx = PollContext::new(
        store.clone(),
        Fetcher::new(&config.poll).unwrap(),
        clock.clone(),
        &config,
    );

    // One outlet: the story is a plain entry.
    poll(&ctx, &config, 0).await;
    let before = render_all(&config, &store).unwrap();
    let atom = feed_rs::parser::parse(&before["politics.atom"].body[..]).unwrap();
    let lead = atom
        .entries
        .iter()
        .find(|e| e.title.as_ref().unwrap().content == AMNESTY_AJ)
        .unwrap();
    let (lead_id, lead_updated) = (lead.id.clone(), lead.updated.unwrap());
    assert_eq!(lead_id, AJ_LINK);

    // A second outlet reports it an hour later: still one entry, same id,
    // updated moved to when the outlet joined, the other report named.
    clock.advance(std::time::Duration::from_secs(3600));
    poll(&ctx, &config, 1).await;
    let after = render_all(&config, &store).unwrap();
    for name in ["politics.rss", "politics.atom", "politics.json"] {
        let feed = feed_rs::parser::parse(&after[name].body[..]).unwrap();
        let titles: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.clone().unwrap().content)
            .collect();
        assert_eq!(titles.len(), 2, "{name}: {titles:?}");
        assert!(
            !titles.contains(&AMNESTY_SKY.to_owned()),
            "{name}: the second report is merged"
        );
        let entry = feed
            .entries
            .iter()
            .find(|e| e.title.as_ref().unwrap().content == AMNESTY_AJ)
            .unwrap();
        assert_eq!(
            entry.id, lead_id,
            "{name}: the id is stable while the story grows"
        );
    }
    let atom = feed_rs::parser::parse(&after["politics.atom"].body[..]).unwrap();
    let entry = atom.entries.iter().find(|e| e.id == lead_id).unwrap();
    assert!(
        entry.updated.unwrap() > lead_updated,
        "updated moves when an outlet joins"
    );
    assert_eq!(entry.updated.unwrap(), t0 + chrono::Duration::seconds(3600));
    assert!(
        entry
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("related") && l.href == SKY_LINK),
        "{:?}",
        entry.links
    );
    let content = entry.content.as_ref().unwrap().body.clone().unwrap();
    assert!(
        content.contains(&format!(
            "سكاي نيوز عربية: <a href=\"{SKY_LINK}\">{AMNESTY_SKY}</a>"
        )),
        "{content}"
    );
    let rss = std::str::from_utf8(&after["politics.rss"].body).unwrap();
    assert!(
        rss.contains(&format!(
            "link=\"{SKY_LINK}\" outlet=\"سكاي نيوز عربية\">{AMNESTY_SKY}</feedwire:related>"
        )),
        "{rss}"
    );
    let json: serde_json::Value = serde_json::from_slice(&after["politics.json"].body).unwrap();
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == AJ_LINK)
        .unwrap();
    assert_eq!(item["_feedwire"]["related"][0]["title"], AMNESTY_SKY);

    // The operator's view of the clusters.
    let listing: serde_json::Value = serde_json::from_slice(&after["politics/clusters.json"].body).unwrap();
    let clusters = listing["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{listing:#}");
    assert_eq!(clusters[0]["entry_id"], AJ_LINK);
    assert_eq!(clusters[0]["members"].as_array().unwrap().len(), 2);
    assert!(clusters[0]["members"][1]["score"].as_f64().unwrap() > 0.0);

    // A restart recomputes the same clusters from the store: same bytes.
    drop(ctx);
    drop(store);
    let store = Store::open(&config.storage.path).unwrap();
    let again = render_all(&config, &store).unwrap();
    assert_eq!(again["politics.atom"].etag, after["politics.atom"].etag);
    assert_eq!(
        again["politics/clusters.json"].body,
        after["politics/clusters.json"].body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustered_outputs_pass_feedparser_and_are_served() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cluster_config(dir.path(), &server);
    let daemon = feedwire::app::Daemon::start(config).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| {
            published.get("politics/clusters.json").is_some_and(|d| {
                serde_json::from_slice::<serde_json::Value>(&d.body).unwrap()["clusters"]
                    .as_array()
                    .is_some_and(|c| c.len() == 1)
            })
        }),
    )
    .await
    .expect("the story is clustered")
    .unwrap();
    let client = http_client();
    let r = client
        .get(format!("http://{}/politics/clusters.json", daemon.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("http://{}/metrics", daemon.addr))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("feedwire_output_clusters{output=\"politics\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("feedwire_output_clustered_items{output=\"politics\"} 1"),
        "{text}"
    );
    for name in ["politics.rss", "politics.atom"] {
        let doc = published.get(name).unwrap();
        if let Some(fp) = crate::publish::feedparser(&doc.body, doc.content_type) {
            assert_eq!(fp["bozo"], false, "{name}: {}", fp["bozo_exception"]);
            assert_eq!(fp["titles"].as_array().unwrap().len(), 2, "{name}");
        }
    }
    daemon.shutdown().await.unwrap();
}

/// Two feeds that give one site are one outlet: the same two reports are
/// not merged when both feeds say they are example.org, nor when the
/// configuration names them one outlet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_of_one_site_are_one_outlet() {
    for one_outlet in ["site", "key"] {
        let server = FeedServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let same_site = |name: &str| {
            let text = String::from_utf8(fixture(name)).unwrap();
            let text = text
                .replace(
                    "<link>https://www.aljazeera.net/</link>",
                    "<link>https://news.example.org/</link>",
                )
                .replace(
                    "<link>https://www.skynewsarabia.com/</link>",
                    "<link>https://www.example.org/</link>",
                );
            if one_outlet == "site" {
                text.into_bytes()
            } else {
                fixture(name)
            }
        };
        let aj = server.route(
            "/aj.xml",
            Route::feed(same_site("cluster_aj.xml"), "application/rss+xml"),
        );
        let sky = server.route(
            "/sky.xml",
            Route::feed(same_site("cluster_sky.xml"), "application/rss+xml"),
        );
        let path = write_config(
            dir.path(),
            &[
                FeedEntry {
                    name: "الجزيرة",
                    url: aj,
                    tags: &["politics"],
                },
                FeedEntry {
                    name: "سكاي نيوز عربية",
                    url: sky,
                    tags: &["politics"],
                },
            ],
        );
        let mut text = std::fs::read_to_string(&path).unwrap().replacen(
            "max_items = 50\n",
            "max_items = 50\ncluster = true\n",
            1,
        );
        if one_outlet == "key" {
            text = text
                .lines()
                .map(|l| {
                    if l.starts_with("url = ") {
                        format!("{l}\noutlet = \"Gulf Media\"\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        }
        std::fs::write(&path, text).unwrap();
        let config = load_config(&path);
        let t0 = chrono::Utc.with_ymd_and_hms(2025, 2, 1, 8, 0, 0).unwrap();
        let store = Store::open(&config.storage.path).unwrap();
        let ctx = PollContext::new(
            store.clone(),
            Fetcher::new(&config.poll).unwrap(),
            Arc::new(ManualClock::new(t0)),
            &config,
        );
        poll(&ctx, &config, 0).await;
        poll(&ctx, &config, 1).await;
        let out = render_all(&config, &store).unwrap();
        let listing: serde_json::Value = serde_json::from_slice(&out["politics/clusters.json"].body).unwrap();
        assert_eq!(
            listing["clusters"].as_array().unwrap().len(),
            0,
            "{one_outlet}: {listing:#}"
        );
        let atom = feed_rs::parser::parse(&out["politics.atom"].body[..]).unwrap();
        assert_eq!(atom.entries.len(), 3, "{one_outlet}: both reports are shown");
    }
}
