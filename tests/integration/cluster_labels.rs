//! The real labelled clustering set, read the one way the test
//! (`cluster_real`) and the fitting example (`examples/cluster_fit.rs`,
//! which includes this file by path) both need:
//! `tests/fixtures/clusters/real_labels.tsv` over the snapshots in
//! `../shared/corpus/realworld`, parsed with feedwire's own parser.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use feedwire::cluster::Outlets;
use feedwire::item::Item;
use feedwire::parse::{parse_feed, FeedRef, Limits};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/realworld")
}

/// One labelled item.
pub struct Label {
    pub file: String,
    pub link: String,
    /// `-` for an item that is the only report of its story.
    pub story: String,
    pub test_half: bool,
}

pub fn labels() -> Vec<Label> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clusters/real_labels.tsv");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            assert!(f[3] == "tuning" || f[3] == "test", "{l}");
            Label {
                file: f[0].into(),
                link: f[1].into(),
                story: f[2].into(),
                test_half: f[3] == "test",
            }
        })
        .collect()
}

/// Capture time of every corpus file (MANIFEST.tsv), the "now" items
/// without a date get.
pub fn capture_times() -> HashMap<String, chrono::DateTime<chrono::Utc>> {
    let text = std::fs::read_to_string(root().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let t = chrono::DateTime::parse_from_rfc3339(f.get(4)?).ok()?;
            Some((f[0].to_owned(), t.with_timezone(&chrono::Utc)))
        })
        .collect()
}

/// The feed URL a corpus file stands for in these tests.
pub fn feed_url(file: &str) -> String {
    format!("https://corpus.invalid/{file}")
}

/// Reads corpus files as the poller would: every item once (a link carried
/// by two feeds is one item with two sources), and the outlet of each feed
/// from its site link.
pub fn read_files<'a>(files: impl IntoIterator<Item = &'a str>) -> (Vec<Item>, Outlets) {
    let times = capture_times();
    let mut outlets = Outlets::new();
    let mut items: Vec<Item> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for file in files {
        let bytes = std::fs::read(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let url = url::Url::parse(&feed_url(file)).unwrap();
        let parsed = parse_feed(
            FeedRef {
                url: &url,
                name: file,
            },
            &bytes,
            None,
            times[file],
            Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        if let Some(site) = &parsed.site_url {
            outlets.insert_site(url.as_str(), site);
        }
        for item in parsed.items {
            match index.get(item.key.as_str()) {
                Some(&i) => items[i].sources.extend(item.sources),
                None => {
                    index.insert(item.key.as_str().to_owned(), items.len());
                    items.push(item);
                }
            }
        }
    }
    (items, outlets)
}

/// The labelled items in label order, with the feeds' outlets: every
/// labelled link must be read (a label the parser no longer finds fails).
pub fn load() -> (Vec<Label>, Vec<Item>, Outlets) {
    assert!(
        root().is_dir(),
        "the real-world corpus is missing: {}",
        root().display()
    );
    let mut labels = labels();
    let mut files: Vec<&str> = labels.iter().map(|l| l.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    let (all, outlets) = read_files(files.iter().copied());
    let mut by_link: HashMap<String, Item> = all
        .into_iter()
        .filter_map(|it| Some((it.link.clone()?, it)))
        .collect();
    // Labels were taken when a link escaped twice in the feed
    // (`&amp;amp;`) kept its `&amp;`; parse now reads it as `&`.
    for l in &mut labels {
        if !by_link.contains_key(&l.link) {
            l.link = l.link.replace("&amp;", "&");
        }
    }
    let missing: Vec<&str> = labels
        .iter()
        .filter(|l| !by_link.contains_key(&l.link))
        .map(|l| l.link.as_str())
        .collect();
    assert!(missing.is_empty(), "labelled items not read: {missing:?}");
    let items = labels
        .iter()
        .map(|l| by_link.remove(&l.link).expect("one label per link"))
        .collect();
    (labels, items, outlets)
}
