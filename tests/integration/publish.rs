//! What subscribers get: selection rules, formats checked by two parsers,
//! encodings, file output, WebSub pings, OPML.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use feedwire::app::{poll_once, render_all, Daemon};
use feedwire::store::Store;
use reqwest::header;

use crate::support::*;

/// A test config with extra keys in its `[[output]]` table.
fn config_with_output_keys(dir: &Path, feeds: &[FeedEntry<'_>], keys: &str) -> PathBuf {
    let path = write_config(dir, feeds);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("max_items = 50\n", &format!("max_items = 50\n{keys}\n"), 1);
    std::fs::write(&path, text).unwrap();
    path
}

async fn titles_with_rules(keys: &str) -> Vec<String> {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&config_with_output_keys(
        dir.path(),
        &serve_all_fixtures(&server),
        keys,
    ));
    poll_once(&config).await.unwrap();
    let store = Store::open(&config.storage.path).unwrap();
    let docs = render_all(&config, &store).unwrap();
    entries_of(&docs["politics.rss"].body).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_rules_in_arabic_and_english() {
    // "الانتخابات" in the title matches the bare keyword "انتخابات"; "election"
    // matches the English title; the rest is left out.
    let titles = titles_with_rules(r#"keywords = ["انتخابات", "election"]"#).await;
    assert_eq!(
        titles,
        [
            "Parliament passes election law",
            "البرلمان يصوّت على قانون الانتخابات الجديد"
        ]
    );

    // Category "السياسة" matches the item category "سياسة"; exclude wins.
    let titles = titles_with_rules("categories = [\"السياسة\"]\nexclude_keywords = [\"البرلمان\"]").await;
    assert!(titles.is_empty(), "{titles:?}");
    let titles = titles_with_rules("categories = [\"السياسة\"]").await;
    assert_eq!(titles, ["البرلمان يصوّت على قانون الانتخابات الجديد"]);

    // Languages: the Atom feed says xml:lang="en", the Al Jazeera feed says ar;
    // the RDF and windows-1256 feeds say nothing and take the output's "ar".
    let titles = titles_with_rules(r#"languages = ["en"]"#).await;
    // The shared story takes the language of whichever feed stored it first.
    let english = [
        "Parliament passes election law",
        "Arab League summit opens",
        "Strike closes ports",
    ];
    assert!(titles.iter().all(|t| english.contains(&t.as_str())), "{titles:?}");
    assert!(titles.contains(&english[0].to_owned()) && titles.contains(&english[2].to_owned()));
}

/// Parses a document with Python's feedparser; `None` when feedparser is not
/// installed (CI installs it and sets FEEDWIRE_REQUIRE_FEEDPARSER=1).
pub fn feedparser(doc: &[u8], content_type: &str) -> Option<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, sys, feedparser
d = feedparser.parse(sys.stdin.buffer.read(), response_headers={"content-type": sys.argv[1]})
print(json.dumps({
    "bozo": bool(d.bozo),
    "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title"),
    "titles": [e.get("title") for e in d.entries],
    "links": [e.get("link") for e in d.entries],
    "ids": [e.get("id") for e in d.entries],
}))
"#;
    let available = Command::new("python3")
        .args(["-c", "import feedparser"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("FEEDWIRE_REQUIRE_FEEDPARSER").is_none(),
            "FEEDWIRE_REQUIRE_FEEDPARSER is set but python3 cannot import feedparser"
        );
        eprintln!("feedparser not installed (pip install feedparser): the cross-check is skipped");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, content_type])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(doc).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The distinct ids Python's feedparser reads from an RSS document (what
/// feed readers key items on); `None` as for [`feedparser`].
fn feedparser_distinct_ids(rss: &[u8]) -> Option<std::collections::BTreeSet<String>> {
    let fp = feedparser(rss, "application/rss+xml")?;
    let ids: Vec<Option<String>> = serde_json::from_value(fp["ids"].clone()).unwrap();
    Some(ids.into_iter().flatten().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_agree_under_feed_rs_and_feedparser() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&config_with_output_keys(
        dir.path(),
        &serve_all_fixtures(&server),
        "hubs = [\"https://hub.example/\"]",
    ));
    poll_once(&config).await.unwrap();
    let store = Store::open(&config.storage.path).unwrap();
    let docs = render_all(&config, &store).unwrap();
    let (ids, titles) = entries_of(&docs["politics.rss"].body);
    assert_eq!(titles.len(), 8);
    for name in ["politics.rss", "politics.atom", "politics.json"] {
        let doc = &docs[name];
        let (rs_ids, rs_titles) = entries_of(&doc.body);
        assert_eq!(
            rs_titles, titles,
            "{name}: same items in the same order in every format"
        );
        assert_eq!(rs_ids, ids, "{name}: same ids in every format");
        // feedparser (6.0.x, the current release) does not read JSON Feed.
        let fp = if name.ends_with(".json") {
            None
        } else {
            feedparser(&doc.body, doc.content_type)
        };
        if let Some(fp) = fp {
            assert_eq!(fp["bozo"], false, "{name}: {}", fp["bozo_exception"]);
            assert_eq!(fp["title"], "سياسة", "{name}");
            let fp_titles: Vec<String> = serde_json::from_value(fp["titles"].clone()).unwrap();
            assert_eq!(
                fp_titles, titles,
                "{name}: feedparser sees the same titles in the same order"
            );
            let fp_ids: Vec<String> = serde_json::from_value(fp["ids"].clone()).unwrap();
            assert_eq!(fp_ids, ids, "{name}: feedparser sees the same ids");
        }
    }
    // The JSON Feed is valid JSON Feed 1.1 in its required parts.
    let json: serde_json::Value = serde_json::from_slice(&docs["politics.json"].body).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "http://feeds.test/politics.json");
    assert!(json["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["id"].is_string()));
    // Atom: every entry carries the item's language.
    let atom = std::str::from_utf8(&docs["politics.atom"].body).unwrap();
    assert!(atom.contains(r#"<title xml:lang="ar">البرلمان"#), "{atom}");
    assert!(atom.contains(r#"<title xml:lang="en">Parliament"#), "{atom}");
    assert!(
        atom.contains(r#"<link href="https://hub.example/" rel="hub"/>"#),
        "{atom}"
    );
}

async fn read_brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_websub_opml_and_brotli_from_the_daemon() {
    let Hub {
        url: hub,
        pings,
        received: mut ping_rx,
    } = Hub::start().await;

    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&config_with_output_keys(
        dir.path(),
        &serve_all_fixtures(&server),
        &format!("file = \"public/politics\"\nhubs = [\"{hub}\"]"),
    ));
    let daemon = Daemon::start(config).await.unwrap();

    // One ping per format after the first render with new items.
    for _ in 0..3 {
        tokio::time::timeout(WAIT, ping_rx.recv())
            .await
            .expect("hub pinged")
            .unwrap();
    }
    let mut bodies = pings.lock().unwrap().clone();
    bodies.sort();
    assert_eq!(
        bodies,
        ["atom", "json", "rss"]
            .map(|ext| format!("hub.mode=publish&hub.url=http%3A%2F%2Ffeeds.test%2Fpolitics.{ext}"))
    );

    // Files were written whole (no temporary left) and parse.
    let published = daemon.published();
    let mut renders = published.subscribe();
    let public = dir.path().join("public");
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| {
            std::fs::read(public.join("politics.atom"))
                .ok()
                .is_some_and(|b| feed_rs::parser::parse(&b[..]).is_ok_and(|f| f.entries.len() == 8))
        }),
    )
    .await
    .expect("files with every item")
    .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&public)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["politics.atom", "politics.json", "politics.rss"]);

    // Brotli and CORS on the served documents; OPML of the sources.
    let client = http_client();
    let base = format!("http://{}", daemon.addr);
    let plain = client.get(format!("{base}/politics.rss")).send().await.unwrap();
    assert_eq!(plain.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let plain_etag = plain.headers()[header::ETAG].clone();
    let plain = plain.bytes().await.unwrap();
    let br = client
        .get(format!("{base}/politics.rss"))
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_ne!(br.headers()[header::ETAG], plain_etag);
    let br_body = br.bytes().await.unwrap();
    assert!(br_body.len() < plain.len());
    assert_eq!(read_brotli(&br_body).await, plain);

    let opml = client.get(format!("{base}/feeds.opml")).send().await.unwrap();
    assert!(opml.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/x-opml"));
    // The site links are the feeds' states: a feed whose items were
    // rendered may have its site link rendered by the next render (the one
    // its new site link asks for).
    let site = "htmlUrl=\"https://www.aljazeera.net/news/politics/\"";
    let mut opml = opml.text().await.unwrap();
    tokio::time::timeout(WAIT, async {
        while !opml.contains(site) {
            renders.changed().await.unwrap();
            opml = get_text(&format!("{base}/feeds.opml")).await;
        }
    })
    .await
    .expect("an OPML with the site links");
    let feeds = feedwire::opml::parse(&opml).unwrap();
    assert_eq!(feeds.len(), 5);
    assert!(opml.contains("text=\"الجزيرة نت\""), "{opml}");
    assert!(
        opml.contains("htmlUrl=\"https://www.aljazeera.net/news/politics/\""),
        "{opml}"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_and_opml_commands() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut feeds = serve_all_fixtures(&server);
    feeds.pop(); // the broken one
    let config_path = write_config(dir.path(), &feeds);
    let config = load_config(&config_path);
    poll_once(&config).await.unwrap();

    // feedwire render --out DIR
    let out_dir = dir.path().join("out");
    let out = Binary::command()
        .args(["render", "--config"])
        .arg(&config_path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for ext in ["rss", "atom", "json"] {
        let bytes = std::fs::read(out_dir.join(format!("politics.{ext}"))).unwrap();
        assert_eq!(entries_of(&bytes).1.len(), 8, "{ext}");
    }

    // feedwire import-opml keeps every comment and line of the config.
    let commented = format!(
        "# feeds for the politics wire\n{}\n# end of file: keep me\n",
        std::fs::read_to_string(&config_path).unwrap()
    );
    std::fs::write(&config_path, &commented).unwrap();
    let opml_path = dir.path().join("import.opml");
    std::fs::write(
        &opml_path,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>قائمة</title></head><body>
<outline text="عربي">
  <outline type="rss" text="سكاي نيوز عربية" xmlUrl="https://www.skynewsarabia.com/rss" category="politics"/>
  <outline type="rss" text="Duplicate of Al Jazeera" xmlUrl="{}?utm_source=opml"/>
</outline>
</body></opml>"#,
            server.url("/aj.xml")
        ),
    )
    .unwrap();
    let out = Binary::cli(&["import-opml", "--config"], &[&config_path, &opml_path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.contains("1 feeds added, 1 already present"), "{stdout}");
    let after = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        after.starts_with(&commented),
        "the old text is kept byte for byte"
    );
    assert!(after.contains("سكاي نيوز عربية"));
    let config = load_config(&config_path);
    let added = config.feeds.iter().find(|f| f.name == "سكاي نيوز عربية").unwrap();
    assert_eq!(added.tags, ["عربي", "politics"]);

    // feedwire export-opml lists them all.
    let out = Binary::cli(&["export-opml", "--config"], &[&config_path]);
    assert_eq!(out.status.code(), Some(0));
    let exported = feedwire::opml::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(exported.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_render_keeps_the_served_documents_and_their_compressed_copies() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&write_config(dir.path(), &serve_all_fixtures(&server)));
    poll_once(&config).await.unwrap();
    let store = Store::open(&config.storage.path).unwrap();
    let published = feedwire::server::Published::default();
    let first = feedwire::render::render_outputs(&config, &store).unwrap();
    published.publish(feedwire::render::publishable(&config, &store, &first));
    // A subscriber asked for the brotli copy of the RSS (Arabic items in it).
    let rss = published.get("politics.rss").unwrap();
    assert!(std::str::from_utf8(&rss.body).unwrap().contains("البرلمان"));
    assert_eq!(read_brotli(&rss.brotli()).await, rss.body);

    // Nothing changed in the store: every document is the one served, and
    // the brotli copy made for the first is not made again.
    let again = feedwire::render::render_outputs_over(&config, &store, |n| published.get(n)).unwrap();
    for (name, doc) in again.iter().flat_map(|o| &o.docs) {
        let served = published.get(name).unwrap();
        assert!(Arc::ptr_eq(doc, &served), "{name} kept");
    }
    assert_eq!(again[0].docs[0].1.brotli().as_ptr(), rss.brotli().as_ptr());

    // A change in what the output carries: new documents, compressed anew.
    let mut fewer = config.clone();
    fewer.outputs[0].max_items = 2;
    let changed = feedwire::render::render_outputs_over(&fewer, &store, |n| published.get(n)).unwrap();
    for (name, doc) in changed.iter().flat_map(|o| &o.docs) {
        let served = published.get(name).unwrap();
        assert!(!Arc::ptr_eq(doc, &served), "{name} rendered anew");
        assert_ne!(doc.etag, served.etag, "{name}");
    }
    let rss = &changed[0].docs[0].1;
    let mut gunzipped = Vec::new();
    flate2::read::GzDecoder::new(&rss.gzip()[..])
        .read_to_end(&mut gunzipped)
        .unwrap();
    assert_eq!(gunzipped, rss.body);
}

/// A document served without validators, so that every poll reads it.
fn fresh(body: Vec<u8>) -> Route {
    Route::feed(body, "application/rss+xml").no_etag()
}

/// A blog's document: a linked post, and (`sponsor`) a sponsor's post
/// to the same page a day later.
fn linked_list(sponsor: bool) -> Vec<u8> {
    let mut items = String::new();
    if sponsor {
        items.push_str(
            "<item><title>[راعٍ] تطبيق الخرائط الجديد</title><link>https://maps.example/app</link>\
             <guid isPermaLink=\"false\">s-2</guid><pubDate>Fri, 21 Nov 2025 09:00:00 GMT</pubDate></item>",
        );
    }
    items.push_str(
        "<item><title>تطبيق خرائط يعرض الحدود الجديدة</title><link>https://maps.example/app</link>\
         <guid isPermaLink=\"false\">l-1</guid><pubDate>Thu, 20 Nov 2025 09:00:00 GMT</pubDate></item>",
    );
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>روابط</title>{items}</channel></rss>")
        .into_bytes()
}

/// A ticker's document: one item, linking to the site's root.
fn ticker(guid: &str, title: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>شريط</title>\
         <link>https://shareet.example/</link><item><title>{title}</title><link>https://shareet.example/</link>\
         <guid isPermaLink=\"false\">{guid}</guid><pubDate>Thu, 20 Nov 2025 13:00:00 GMT</pubDate></item></channel></rss>"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_share_a_link_each_reach_subscribers() {
    // Three shapes of real feeds whose entries share one link: a section page
    // for every item (windows-1256), a day's page with an anchor per post,
    // and a ticker pointing at the site's root one item at a time. Each
    // entry is an item of its own, with an id of its own in the output.
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let feeds = [
        FeedEntry {
            name: "أخبار عاجلة",
            url: server.route("/ajel.xml", fresh(fixture("shared_link_section_1256.xml"))),
            tags: &["politics"],
        },
        FeedEntry {
            name: "مدونة",
            url: server.route("/day.xml", fresh(fixture("shared_link_day_page.xml"))),
            tags: &["politics"],
        },
        FeedEntry {
            name: "شريط",
            url: server.route("/ticker.xml", fresh(ticker("t-1", "الرئيس يستقبل وفداً برلمانياً"))),
            tags: &["politics"],
        },
        FeedEntry {
            name: "روابط",
            url: server.route("/linked.xml", fresh(linked_list(false))),
            tags: &["politics"],
        },
    ];
    let config = load_config(&write_config(dir.path(), &feeds));
    let first = poll_once(&config).await.unwrap();
    assert_eq!(first.totals.items_new, 8, "{:?}", first.totals);

    // The ticker's next item, alone in its document under the same link.
    server.set("/ticker.xml", fresh(ticker("t-2", "الحكومة تعلن خطة لدعم الأجور")));
    // The linked post's page gets a sponsor's post: the post stored under
    // the link while it was its own stays that item, not new again.
    server.set("/linked.xml", fresh(linked_list(true)));
    let second = poll_once(&config).await.unwrap();
    assert_eq!(second.totals.items_new, 2, "{:?}", second.totals);
    // Seen once, never new again: every document is read again (changed
    // by a comment, so that it is not taken as the same bytes).
    let again = |mut body: Vec<u8>| {
        body.extend_from_slice(b"\n<!-- again -->\n");
        fresh(body)
    };
    server.set("/ajel.xml", again(fixture("shared_link_section_1256.xml")));
    server.set("/day.xml", again(fixture("shared_link_day_page.xml")));
    server.set("/ticker.xml", again(ticker("t-2", "الحكومة تعلن خطة لدعم الأجور")));
    server.set("/linked.xml", again(linked_list(true)));
    let third = poll_once(&config).await.unwrap();
    assert_eq!(third.totals.items_new, 0, "{:?}", third.totals);
    assert_eq!(third.totals.not_modified, 0, "{:?}", third.totals);

    let store = Store::open(&config.storage.path).unwrap();
    let docs = render_all(&config, &store).unwrap();
    let rss = &docs["politics.rss"].body;
    let (ids, titles) = entries_of(rss);
    assert_eq!(ids.len(), 10, "{titles:?}");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 10, "{ids:?}");
    for title in [
        "عاجل: مجلس النواب يقر قانون الموازنة العامة",
        "عاجل: استئناف المفاوضات في الدوحة غداً",
        "الرئيس يستقبل وفداً برلمانياً",
        "الحكومة تعلن خطة لدعم الأجور",
        "تطبيق خرائط يعرض الحدود الجديدة",
        "[راعٍ] تطبيق الخرائط الجديد",
    ] {
        assert!(
            titles.iter().any(|t| t == title),
            "{title} missing from {titles:?}"
        );
    }
    let text = String::from_utf8_lossy(rss);
    // The day page's posts keep their anchors: the link leads to the post.
    for anchor in ["2025/11/20.html#p1", "2025/11/20.html#p2", "2025/11/19.html#p1"] {
        assert!(
            text.contains(&format!("<link>https://mudawwana.example/{anchor}</link>")),
            "{anchor}"
        );
    }
    // The section's items keep the link their publisher gave, and are told
    // apart by ids that are not links.
    assert_eq!(
        text.matches("<link>https://akhbar.example/ajel</link>").count(),
        3
    );
    assert_eq!(
        text.matches("isPermaLink=\"false\">urn:feedwire:entry").count(),
        6
    );
    // The linked post keeps its link as its id.
    assert!(text.contains("https://maps.example/app</guid>"), "{text}");

    // Feed readers key on the id too: Python's feedparser reads ten.
    if let Some(ids) = feedparser_distinct_ids(rss) {
        assert_eq!(ids.len(), 10, "{ids:?}");
    }
}

/// A section page's document: every item links to the section's page,
/// which is neither the site's root nor the channel's link. `dated`: each
/// item dated by its number; else undated (dated at first sight).
fn section(items: &[(&str, &str)], dated: bool, windows_1256: bool) -> Vec<u8> {
    let site = match windows_1256 {
        true => "akhbar.example",
        false => "shareet.example",
    };
    let items: String = items
        .iter()
        .map(|(guid, title)| {
            let date = match dated {
                true => format!(
                    "<pubDate>Thu, 20 Nov 2025 {:02}:00:00 GMT</pubDate>",
                    guid.trim_start_matches(|c: char| !c.is_ascii_digit())
                        .parse::<u32>()
                        .unwrap()
                ),
                false => String::new(),
            };
            format!(
                "<item><title>{title}</title><link>https://{site}/siyasa/</link>\
                 <guid isPermaLink=\"false\">{guid}</guid>{date}</item>"
            )
        })
        .collect();
    let charset = if windows_1256 { "windows-1256" } else { "utf-8" };
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"{charset}\"?><rss version=\"2.0\"><channel><title>أخبار</title>\
         <link>https://{site}/</link><language>ar</language>{items}</channel></rss>"
    );
    if !windows_1256 {
        return doc.into_bytes();
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&doc);
    assert!(!unmappable);
    bytes.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_a_feed_has_shared_stays_shared_across_polls_and_restarts() {
    // Two feeds whose items link to one section page, polled five times;
    // each `poll_once` opens the store and closes it, so what a feed
    // remembers of its shared links crosses a restart.
    // - "قسم" (windows-1256, dated): A alone, then B beside A, then C
    //   alone, D alone, A alone. Before, C and D took the plain link A
    //   holds: skipped as known, never stored.
    // - "شريط" (UTF-8, undated): U alone, then V beside U, U alone, W
    //   alone, all three. Before, U was keyed anew beside V (its date is
    //   its first sight: dates cannot tell it) and stored twice when the
    //   two polls fell in different seconds (the next test pins that on an
    //   injected clock), and W was skipped as known.
    const A: (&str, &str) = ("q-9", "البرلمان يقر قانون الموازنة العامة");
    const B: (&str, &str) = ("q-10", "وزير الخارجية يصل إلى عمّان");
    const C: (&str, &str) = ("q-11", "استئناف المفاوضات في الدوحة غداً");
    const D: (&str, &str) = ("q-12", "الحكومة تعلن خطة لدعم الأجور");
    const U: (&str, &str) = ("u-1", "الرئيس يستقبل وفداً برلمانياً");
    const V: (&str, &str) = ("u-2", "انطلاق الحوار الوطني");
    const W: (&str, &str) = ("u-3", "افتتاح الدورة البرلمانية الجديدة");
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let qism = |items: &[(&str, &str)]| fresh(section(items, true, true));
    let shareet = |items: &[(&str, &str)]| fresh(section(items, false, false));
    let feeds = [
        FeedEntry {
            name: "قسم",
            url: server.route("/qism.xml", qism(&[A])),
            tags: &["politics"],
        },
        FeedEntry {
            name: "شريط",
            url: server.route("/shareet.xml", shareet(&[U])),
            tags: &["politics"],
        },
    ];
    let config = load_config(&write_config(dir.path(), &feeds));
    // Each poll: the two documents' items, and how many are new.
    type Items = &'static [(&'static str, &'static str)];
    let polls: [(Items, Items, usize); 5] = [
        (&[A], &[U], 2),
        (&[B, A], &[V, U], 2),
        (&[C], &[U], 1),
        (&[D], &[W], 2),
        (&[A], &[V, U, W], 0),
    ];
    for (n, (q, s, wanted)) in polls.iter().enumerate() {
        server.set("/qism.xml", qism(q));
        server.set("/shareet.xml", shareet(s));
        let report = poll_once(&config).await.unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(
            report.totals.items_new,
            *wanted,
            "poll {}: {:?}",
            n + 1,
            report.totals
        );
        if n == 1 {
            // Both feeds remember the section page, and the entry holding it.
            let store = Store::open(&config.storage.path).unwrap();
            for (feed, holder, site) in [
                (feeds[0].url.as_str(), A.0, "akhbar"),
                (feeds[1].url.as_str(), U.0, "shareet"),
            ] {
                let state = store.feed_state(feed).unwrap().unwrap();
                let links = state.shared_links.links();
                assert_eq!(links.len(), 1, "{feed}: {links:?}");
                assert_eq!(links[0].link, format!("//{site}.example/siyasa/"));
                assert_eq!(links[0].holder.as_deref(), Some(holder), "{feed}");
            }
        }
    }

    let store = Store::open(&config.storage.path).unwrap();
    assert_eq!(store.item_count(), 7);
    let docs = render_all(&config, &store).unwrap();
    let rss = &docs["politics.rss"].body;
    let (ids, titles) = entries_of(rss);
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (7, 7), "{titles:?}");
    for (_, title) in [A, B, C, D, U, V, W] {
        assert_eq!(
            titles.iter().filter(|t| *t == title).count(),
            1,
            "{title} in {titles:?}"
        );
    }
    // The items keep the section's link, told apart by their ids.
    let text = String::from_utf8_lossy(rss);
    assert_eq!(
        text.matches("<link>https://akhbar.example/siyasa/</link>")
            .count(),
        4
    );
    assert_eq!(
        text.matches("<link>https://shareet.example/siyasa/</link>")
            .count(),
        3
    );
    if let Some(ids) = feedparser_distinct_ids(rss) {
        assert_eq!(ids.len(), 7, "{ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undated_entry_holding_a_link_is_not_new_again_when_the_link_starts_being_shared() {
    // On an injected clock, so that the undated entry's date (its first
    // sight) and the next poll's time differ as they do in a daemon (in
    // `poll_once` runs a second apart they may not): dates cannot tell
    // which entry the store holds under the link, its stored record can.
    // Windows-1256, and the store is opened again (a restart) midway.
    const U: (&str, &str) = ("u-1", "الرئيس يستقبل وفداً برلمانياً");
    const V: (&str, &str) = ("u-2", "انطلاق الحوار الوطني");
    const W: (&str, &str) = ("u-3", "افتتاح الدورة البرلمانية الجديدة");
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = |items: &[(&str, &str)]| fresh(section(items, false, true));
    let feeds = [FeedEntry {
        name: "قسم",
        url: server.route("/qism.xml", doc(&[U])),
        tags: &["politics"],
    }];
    let config = load_config(&write_config(dir.path(), &feeds));
    let feed = &config.feeds[0];
    let t0 = chrono::Utc::now() - chrono::Duration::days(1);
    let clock = std::sync::Arc::new(feedwire::clock::ManualClock::new(t0));
    let new_in = |report: feedwire::poller::FeedReport| match report.outcome {
        feedwire::poller::Outcome::Updated { ingest, .. } => ingest.new,
        other => panic!("{other:?}"),
    };
    let context = |store: &Store| {
        feedwire::poller::PollContext::new(
            store.clone(),
            feedwire::fetch::Fetcher::new(&config.poll).unwrap(),
            clock.clone(),
            &config,
        )
    };
    let store = Store::open(&config.storage.path).unwrap();
    let ctx = context(&store);
    use feedwire::poller::poll_feed;
    let interval = config.interval_of(feed);
    assert_eq!(new_in(poll_feed(&ctx, feed, interval).await), 1);
    clock.advance(std::time::Duration::from_secs(3600));
    server.set("/qism.xml", doc(&[V, U]));
    assert_eq!(
        new_in(poll_feed(&ctx, feed, interval).await),
        1,
        "U is not new twice"
    );
    drop(ctx);
    store.flush().unwrap();
    drop(store);

    let store = Store::open(&config.storage.path).unwrap();
    let ctx = context(&store);
    for (items, new) in [(&[U][..], 0), (&[W], 1), (&[V, U, W], 0)] {
        clock.advance(std::time::Duration::from_secs(3600));
        server.set("/qism.xml", doc(items));
        assert_eq!(new_in(poll_feed(&ctx, feed, interval).await), new, "{items:?}");
    }
    assert_eq!(store.item_count(), 3);
    let docs = render_all(&config, &store).unwrap();
    let (ids, titles) = entries_of(&docs["politics.rss"].body);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 3);
    for (_, title) in [U, V, W] {
        assert_eq!(
            titles.iter().filter(|t| *t == title).count(),
            1,
            "{title} in {titles:?}"
        );
    }
}
