//! What the story outlets cost a clustering render at many feeds
//! (BENCHMARKS.md, Run 14 "story outlets per render"): a sled store with
//! `--feeds N` feed states (default 30,000; each with an Arabic name and a
//! site link, one in ten with an `outlet` key) and `--items I` items
//! (default 4,000, Arabic headlines, some stories told by several feeds),
//! one output with `cluster = true`. Then `--renders R` renders each way,
//! alternated: reading the site links for every render (`render_outputs`:
//! one walk of the feed states and the outlets built from it, as every
//! render did before), and with the site links kept (`render_outputs_with`,
//! what the daemon does while no poll saved a new site link). Prints this
//! thread's CPU and the wall time per render, and checks that both ways
//! give the same documents.
//!
//! ```sh
//! cargo build --release --example outlets_render
//! target/release/examples/outlets_render --feeds 30000 --renders 10
//! ```

use std::fmt::Write as _;
use std::time::Instant;

use feedwire::config::Config;
use feedwire::item::{Item, ItemKey, Source};
use feedwire::render::{render_outputs, render_outputs_with, FeedSites, RenderedOutput};
use feedwire::store::{FeedState, Store};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu;

fn feed_url(i: usize) -> String {
    format!("http://127.0.0.1:1/feeds/{i}.xml")
}

/// A made-up Arabic word, one of 28³: headlines of different stories
/// share few words, as real ones do (a small vocabulary makes every pair
/// a candidate and the clusterer most of the render).
fn word(k: usize) -> String {
    const LETTERS: [char; 28] = [
        'ا', 'ب', 'ت', 'ث', 'ج', 'ح', 'خ', 'د', 'ذ', 'ر', 'ز', 'س', 'ش', 'ص', 'ض', 'ط', 'ظ', 'ع', 'غ', 'ف',
        'ق', 'ك', 'ل', 'م', 'ن', 'ه', 'و', 'ي',
    ];
    let k = k.wrapping_mul(2_654_435_761) % (28 * 28 * 28);
    [LETTERS[k % 28], LETTERS[k / 28 % 28], LETTERS[k / 784]]
        .iter()
        .collect()
}

/// Item `n`, carried by feed `feed`: five of the newest 25 are two
/// outlets' wordings of one story (from tests/fixtures/cluster_*.xml), the
/// others a headline of their own.
fn item(feed: usize, n: usize, now: i64) -> Item {
    let link = format!("https://news.site{feed}.com/أخبار/{n}");
    let url = url::Url::parse(&link).expect("link");
    let (title, summary) = if n < 25 && n % 5 == 0 {
        // Two outlets' reports of one story (tests/fixtures/cluster_*.xml).
        if (n / 5) % 2 == 0 {
            (
                format!("البرلمان العراقي يقر تعديل قانون العفو العام بعد جلسة صاخبة {}", word(n)),
                Some("صوّت مجلس النواب العراقي، الثلاثاء، على تعديل قانون العفو العام إلى جانب قانوني الأحوال الشخصية وإعادة العقارات إلى أصحابها، في جلسة شهدت اعتراضات من نواب عدة.".to_owned()),
            )
        } else {
            (
                format!("العراق.. مجلس النواب يصوت على 3 قوانين جدلية بينها العفو العام {}", word(n)),
                Some("صوت البرلمان العراقي على ثلاثة قوانين مثيرة للجدل في سلة واحدة، هي تعديل قانون العفو العام وتعديل قانون الأحوال الشخصية وقانون إعادة العقارات، وسط انسحاب عدد من النواب.".to_owned()),
            )
        }
    } else {
        let w = |k: usize| word(n * 8 + k);
        (
            format!("{} {} {} {} {} {}", w(0), w(1), w(2), w(3), w(4), w(5)),
            None,
        )
    };
    Item {
        key: ItemKey::from_link(&url),
        link: Some(link.clone()),
        title,
        summary,
        content: None,
        authors: vec![],
        categories: vec![],
        published: Some(now - n as i64 * 60),
        updated: None,
        first_seen: now - n as i64 * 60,
        date: now - n as i64 * 60,
        language: Some("ar".into()),
        enclosure: None,
        sources: vec![Source {
            feed_url: feed_url(feed),
            feed_name: format!("مصدر {feed}"),
            link: Some(link),
        }],
        fingerprint: None,
    }
}

fn etags(outputs: &[RenderedOutput]) -> Vec<String> {
    outputs
        .iter()
        .flat_map(|o| o.docs.iter().chain(&o.extra).map(|(_, d)| d.etag.clone()))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let feeds: usize = get("--feeds").map_or(30_000, |v| v.parse().expect("--feeds N"));
    let items: usize = get("--items").map_or(4_000, |v| v.parse().expect("--items I"));
    let renders: usize = get("--renders").map_or(10, |v| v.parse().expect("--renders R"));
    let dir = tempfile::tempdir().expect("temp dir");

    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n\
         [storage]\npath = {:?}\n\n[poll]\ninterval = \"15m\"\n\n\
         [[output]]\nname = \"akhbar\"\ntags = [\"ar\"]\nmax_items = 50\ncluster = true\n\n",
        dir.path().join("store")
    );
    for i in 0..feeds {
        let _ = write!(
            text,
            "[[feed]]\nurl = {:?}\nname = \"مصدر {i}\"\ntags = [\"ar\"]\n",
            feed_url(i)
        );
        if i % 10 == 0 {
            let _ = writeln!(text, "outlet = \"منفذ {}\"", i / 20);
        }
        text.push('\n');
    }
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, text).expect("config");
    let config = Config::load(&path).expect("config loads");
    let store = Store::open(&config.storage.path).expect("store");
    for i in 0..feeds {
        let state = FeedState {
            etag: Some(format!("\"v{i}\"")),
            title: Some(format!("أخبار الموقع {i}")),
            site_url: Some(format!("https://www.site{}.com/ar/", i / 3)),
            ..FeedState::default()
        };
        store.put_feed_state(&feed_url(i), &state).expect("feed state");
    }
    let now = 1_764_410_000;
    let batch: Vec<Item> = (0..items).map(|n| item((n * 7) % feeds, n, now)).collect();
    for chunk in batch.chunks(500) {
        store.ingest(chunk).expect("ingest");
    }
    store.flush().expect("flush");

    let (t, c) = (Instant::now(), thread_cpu());
    let sites = FeedSites::read(&config, &store);
    println!(
        "{feeds} feeds ({} site links), {items} items: reading the site links and outlets once: {:.1} ms wall, {:.1} ms CPU",
        sites.len(),
        t.elapsed().as_secs_f64() * 1e3,
        (thread_cpu() - c) * 1e3
    );
    let (mut walk, mut kept) = (Vec::new(), Vec::new());
    let mut docs = (Vec::new(), Vec::new());
    for _ in 0..renders {
        let (t, c) = (Instant::now(), thread_cpu());
        let out = render_outputs(&config, &store).expect("render");
        walk.push((t.elapsed().as_secs_f64(), thread_cpu() - c));
        docs.0 = etags(&out);
        let (t, c) = (Instant::now(), thread_cpu());
        let out = render_outputs_with(&config, &store, &sites, |_| None).expect("render");
        kept.push((t.elapsed().as_secs_f64(), thread_cpu() - c));
        docs.1 = etags(&out);
        assert_eq!(out[0].clusters, 1, "the story is one cluster");
    }
    assert_eq!(docs.0, docs.1, "both ways render the same documents");
    for (name, runs) in [
        ("site links read every render", &walk),
        ("site links kept", &kept),
    ] {
        let mut wall: Vec<f64> = runs.iter().map(|r| r.0 * 1e3).collect();
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.1 * 1e3).collect();
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        println!(
            "{name}: render median {:.1} ms wall ({:.1}-{:.1}), {:.1} ms CPU ({:.1}-{:.1}), {renders} renders",
            wall[wall.len() / 2],
            wall[0],
            wall[wall.len() - 1],
            cpu[cpu.len() / 2],
            cpu[0],
            cpu[cpu.len() - 1]
        );
    }
}
