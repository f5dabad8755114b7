//! Output names in Arabic: what subscribers, operators and hubs see of an
//! output named `أخبار-مصر`, served by the daemon on 127.0.0.1 from the
//! Al Jazeera (UTF-8) and Youm7 (windows-1256) fixtures, and that ASCII
//! names keep their URLs.

use std::io::{Read, Write};
use std::path::Path;

use feedwire::app::{poll_once, Daemon};
use reqwest::header;
use reqwest::StatusCode;

use crate::support::*;

/// The name as operators mean it (NFC: U+0623 ARABIC LETTER ALEF WITH
/// HAMZA ABOVE first).
const NAME: &str = "\u{0623}خبار-مصر";
/// The same name in NFD (alef, then U+0654 HAMZA ABOVE), as some editors
/// and macOS file names write it.
const NAME_NFD: &str = "\u{0627}\u{0654}خبار-مصر";
/// NAME percent-encoded, as browsers and feed readers request it.
const ENCODED: &str = "%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1-%D9%85%D8%B5%D8%B1";
/// NAME_NFD percent-encoded.
const ENCODED_NFD: &str = "%D8%A7%D9%94%D8%AE%D8%A8%D8%A7%D8%B1-%D9%85%D8%B5%D8%B1";

/// The fixtures' config (output `politics`) with more `[[output]]` tables.
fn config_with_outputs(dir: &Path, server: &FeedServer, outputs: &str) -> std::path::PathBuf {
    let mut feeds = serve_all_fixtures(server);
    feeds.pop(); // the broken one
    let path = write_config(dir, &feeds);
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, feeds) = text.split_at(text.find("[[feed]]").unwrap());
    std::fs::write(&path, format!("{head}{outputs}\n{feeds}")).unwrap();
    path
}

/// The Arabic output, its name written in NFD: it selects the two Arabic
/// feeds (one UTF-8, one windows-1256).
fn arabic_output(extra: &str) -> String {
    format!("[[output]]\nname = \"{NAME_NFD}\"\ntitle = \"أخبار مصر\"\nlanguage = \"ar\"\ntags = [\"ar\"]\n{extra}\n")
}

/// Starts the daemon and waits until both outputs carry every item.
async fn start(config: feedwire::config::Config) -> Daemon {
    let daemon = Daemon::start(config).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    let complete = |_: &u64| {
        published
            .get("politics.atom")
            .is_some_and(|doc| entries_of(&doc.body).0.len() == 8)
            && published
                .get(&format!("{NAME}.atom"))
                .is_some_and(|doc| entries_of(&doc.body).0.len() == 5)
    };
    tokio::time::timeout(WAIT, renders.wait_for(complete))
        .await
        .expect("outputs with every item within the bound")
        .unwrap();
    daemon
}

/// `GET path` written by hand, so the path goes out as raw UTF-8 bytes
/// (reqwest would percent-encode it): status line and body.
fn raw_get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: feeds.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head.lines().next().unwrap().to_owned();
    let mut body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = unchunk(&body);
    }
    (status, body)
}

fn unchunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let eol = chunked.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&chunked[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunked[eol + 2..eol + 2 + size]);
        chunked = &chunked[eol + 2 + size + 2..];
    }
}

/// The `href` of the first `<{tag} ... rel="self" .../>` in an XML document.
fn self_href(xml: &str, tag: &str) -> String {
    let at = xml
        .match_indices(&format!("<{tag} "))
        .map(|(i, _)| &xml[i..i + xml[i..].find('>').unwrap()])
        .find(|element| element.contains("rel=\"self\""))
        .unwrap_or_else(|| panic!("no self <{tag}> in {xml}"));
    let href = &at[at.find("href=\"").unwrap() + 6..];
    href[..href.find('"').unwrap()].to_owned()
}

/// A self link: the percent-encoded URL, which parses as a URL whose path
/// decodes to the name in NFC.
fn assert_self_link(link: &str, ext: &str) {
    assert_eq!(link, format!("http://feeds.test/{ENCODED}.{ext}"));
    let url = url::Url::parse(link).unwrap();
    assert_eq!(url.as_str(), link, "already in its parsed form");
    let path = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .unwrap();
    assert_eq!(path, format!("/{NAME}.{ext}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arabic_output_is_served_at_its_percent_encoded_paths() {
    let Hub {
        url: hub,
        pings,
        received: mut ping_rx,
    } = Hub::start().await;

    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let outputs = arabic_output(&format!(
        "hubs = [\"{hub}\"]\nfile = \"public/{NAME}\"\ncluster = true"
    ));
    let config = load_config(&config_with_outputs(dir.path(), &server, &outputs));
    assert_eq!(config.outputs[1].name, NAME, "read in NFC");
    let daemon = start(config).await;
    let client = http_client();
    let base = format!("http://{}", daemon.addr);

    // Every format at the encoded path, the NFD spelling's encoding,
    // lower-case escapes and the raw UTF-8 path: one document.
    for (ext, ctype) in [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ] {
        let resp = client
            .get(format!("{base}/{ENCODED}.{ext}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{ext}");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], ctype);
        let etag = resp.headers()[header::ETAG].clone();
        let body = resp.bytes().await.unwrap();
        for path in [
            format!("/{ENCODED_NFD}.{ext}"),
            format!("/{}.{ext}", ENCODED.to_lowercase()),
        ] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::ETAG], etag, "{path}");
            assert_eq!(r.bytes().await.unwrap(), body, "{path}");
        }
        for name in [NAME, NAME_NFD] {
            let (status, raw) = raw_get(daemon.addr, &format!("/{name}.{ext}"));
            assert!(status.ends_with("200 OK"), "{status}");
            assert_eq!(raw, body);
        }

        // Conditional GET at another spelling: 304, for gzip too.
        let r = client
            .get(format!("{base}/{ENCODED_NFD}.{ext}"))
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{ext}");
        let gz = client
            .get(format!("{base}/{ENCODED}.{ext}"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let gz_etag = gz.headers()[header::ETAG].clone();
        let r = client
            .get(format!("{base}/{NAME}.{ext}"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, gz_etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{ext} gzip");

        // Its self link is the percent-encoded URL.
        let text = std::str::from_utf8(&body).unwrap();
        match ext {
            "rss" => assert_self_link(&self_href(text, "atom:link"), ext),
            "atom" => {
                assert_self_link(&self_href(text, "link"), ext);
                let feed = feed_rs::parser::parse(&body[..]).unwrap();
                assert_self_link(&feed.id, ext);
            }
            _ => {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_self_link(json["feed_url"].as_str().unwrap(), ext);
            }
        }
    }

    // Items of both Arabic feeds, one of them windows-1256, in the output.
    let (_, titles) = entries_of(&daemon.published().get(&format!("{NAME}.rss")).unwrap().body);
    assert!(
        titles
            .iter()
            .any(|t| t == "البرلمان يصوّت على قانون الانتخابات الجديد"),
        "{titles:?}"
    );
    assert!(
        titles
            .iter()
            .any(|t| t == "الحكومة تعلن استقالتها بعد اجتماع طارئ"),
        "{titles:?}"
    );

    // Story clusters of the output at its encoded path.
    let r = client
        .get(format!("{base}/{ENCODED_NFD}/clusters.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let clusters: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(clusters["output"], NAME);

    // Paths that do not decode, or name another output: 404, never a panic.
    for missing in [
        "/%D8.rss".to_owned(),
        "/%FF%FE.atom".to_owned(),
        "/%ZZ.json".to_owned(),
        "/%C0%80.rss".to_owned(),
        "/%FF/clusters.json".to_owned(),
        format!("/{ENCODED}"),
        format!("/{ENCODED}.xml"),
        "/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1.rss".to_owned(),
    ] {
        let r = client.get(format!("{base}{missing}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    let (status, _) = raw_get(daemon.addr, "/أخبار.rss");
    assert!(status.ends_with("404 Not Found"), "{status}");

    // The status page shows the name as text and links it encoded.
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "<td dir=\"auto\">{NAME}</td><td dir=\"auto\">أخبار مصر</td><td>5</td>"
        )),
        "{page}"
    );
    for ext in ["rss", "atom", "json"] {
        let href = format!("<a href=\"/{ENCODED}.{ext}\">");
        assert!(page.contains(&href), "{href} in {page}");
    }

    // Metrics carry the name as the label value; the exposition stays valid.
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("feedwire_output_items{{output=\"{NAME}\"}} 5")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "feedwire_output_size_bytes{{output=\"{NAME}\",format=\"rss\"}}"
    )));

    // The hub is told the percent-encoded URLs (form-encoded once more).
    // Each render pings every topic, so the same one may come twice: wait
    // until all three have come.
    let topics = || {
        let mut topics: Vec<String> = pings
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                assert_eq!(form[0], ("hub.mode".into(), "publish".into()));
                assert_eq!(form[1].0, "hub.url");
                form[1].1.clone()
            })
            .collect();
        topics.sort();
        topics.dedup();
        topics
    };
    while topics().len() < 3 {
        tokio::time::timeout(WAIT, ping_rx.recv())
            .await
            .expect("hub pinged")
            .unwrap();
    }
    let topics = topics();
    assert_eq!(topics.len(), 3, "{topics:?}");
    for (topic, ext) in topics.iter().zip(["atom", "json", "rss"]) {
        assert_self_link(topic, ext);
    }

    // `file` with an Arabic prefix: Arabic file names, written whole.
    let public = dir.path().join("public");
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| {
            std::fs::read(public.join(format!("{NAME}.atom")))
                .ok()
                .is_some_and(|b| entries_of(&b).0.len() == 5)
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
    assert_eq!(names, ["atom", "json", "rss"].map(|ext| format!("{NAME}.{ext}")));
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ascii_output_names_are_served_as_before() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let names = ["World-News_2", "top10", "a", "-_-"];
    let outputs: String = names
        .iter()
        .map(|n| format!("[[output]]\nname = \"{n}\"\ntags = [\"politics\"]\ncluster = true\n\n"))
        .collect();
    let config = load_config(&config_with_outputs(dir.path(), &server, &outputs));
    let daemon = Daemon::start(config).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(
        WAIT,
        renders.wait_for(|_| {
            names.iter().chain(&["politics"]).all(|n| {
                published
                    .get(&format!("{n}.atom"))
                    .is_some_and(|doc| entries_of(&doc.body).0.len() == 8)
            })
        }),
    )
    .await
    .expect("outputs with every item within the bound")
    .unwrap();
    let client = http_client();
    let base = format!("http://{}", daemon.addr);
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in names.iter().chain(&["politics"]) {
        for ext in ["rss", "atom", "json"] {
            let r = client.get(format!("{base}/{name}.{ext}")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{name}.{ext}");
            let etag = r.headers()[header::ETAG].clone();
            let body = r.text().await.unwrap();
            // The self link is the URL as it always was: the name as written.
            let link = format!("http://feeds.test/{name}.{ext}");
            match ext {
                "rss" => assert_eq!(self_href(&body, "atom:link"), link),
                "atom" => assert_eq!(self_href(&body, "link"), link),
                _ => assert_eq!(
                    serde_json::from_str::<serde_json::Value>(&body).unwrap()["feed_url"],
                    link
                ),
            }
            let r = client
                .get(format!("{base}/{name}.{ext}"))
                .header(header::IF_NONE_MATCH, etag)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{name}.{ext}");
            assert!(
                page.contains(&format!("<a href=\"/{name}.{ext}\">")),
                "{name} on {page}"
            );
        }
    }
    for name in names {
        let r = client
            .get(format!("{base}/{name}/clusters.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}/clusters.json");
    }
    let r = client
        .get(format!("{base}/politics/clusters.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "politics does not cluster");
    // Names are case-sensitive, as before.
    let r = client.get(format!("{base}/Politics.rss")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_writes_arabic_file_names() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = config_with_outputs(dir.path(), &server, &arabic_output(""));
    poll_once(&load_config(&config_path)).await.unwrap();
    let out_dir = dir.path().join("out");
    let out = Binary::command()
        .args(["render", "--config"])
        .arg(&config_path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // The NFC name, whatever spelling the config used.
    let mut want: Vec<String> = ["rss", "atom", "json"]
        .iter()
        .flat_map(|ext| [format!("{NAME}.{ext}"), format!("politics.{ext}")])
        .collect();
    want.sort();
    assert_eq!(names, want);
    for ext in ["rss", "atom", "json"] {
        let bytes = std::fs::read(out_dir.join(format!("{NAME}.{ext}"))).unwrap();
        let (_, titles) = entries_of(&bytes);
        assert_eq!(titles.len(), 5, "{ext}");
        assert!(
            titles.iter().any(|t| t == "مظاهرات في العاصمة للمطالبة بالإصلاح"),
            "{titles:?}"
        );
        assert!(
            std::str::from_utf8(&bytes).unwrap().contains(ENCODED),
            "{ext} self link"
        );
    }
}

#[test]
fn check_refuses_bidi_controls_spaces_and_one_name_spelled_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    let text = format!(
        "[[output]]\nname = \"سياسة\u{200F}\"\n\n\
         [[output]]\nname = \"أخبار مصر\"\n\n\
         [[output]]\nname = \"{NAME}\"\n\n\
         [[output]]\nname = \"{NAME_NFD}\"\n\n\
         [[feed]]\nurl = \"https://www.youm7.com/rss\"\n"
    );
    std::fs::write(&path, text).unwrap();
    let out = Binary::cli(&["check", "--config"], &[&path]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let file = path.display();
    for line in [
        format!("{file}:2:8: output[0].name: output name must be letters, digits, '-' or '_' (it becomes a URL path): U+200F is an invisible bidi control"),
        format!("{file}:5:8: output[1].name: output name must be letters, digits, '-' or '_' (it becomes a URL path): whitespace (U+0020) is not allowed"),
        format!("{file}:11:8: output[3].name: duplicate output name \"{NAME}\" (spelled with other code points, which NFC makes one name)"),
    ] {
        assert!(stderr.lines().any(|l| l.starts_with(&line)), "{line}\nin:\n{stderr}");
    }
    assert!(stderr.contains("3 problems in"), "{stderr}");
}
