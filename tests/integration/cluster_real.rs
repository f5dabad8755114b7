//! Story clustering on real feeds: the labelled set in
//! `tests/fixtures/clusters/real_labels.tsv` (see the README there) over the
//! real-world snapshots in `../shared/corpus/realworld`, read with our own
//! parser; and the rule that one outlet's feeds never merge two articles.

use std::collections::BTreeMap;

use feedwire::cluster::{similarity_in, ClusterConfig, Clusterer, Idf, Outlets, DEFAULT_THRESHOLD};
use feedwire::item::Item;

use crate::cluster_labels::{self, feed_url, read_files, Label};

#[derive(Default, Debug)]
struct Score {
    right: u32,
    wrong: u32,
    missed: u32,
    /// Pairs of outlets telling one story (each pair once, however many
    /// reports of the story either outlet has), and how many of them have
    /// a report of each in one cluster.
    outlet_pairs: u32,
    outlet_pairs_joined: u32,
}

impl Score {
    fn precision(&self) -> f64 {
        f64::from(self.right) / f64::from((self.right + self.wrong).max(1))
    }
    fn recall(&self) -> f64 {
        f64::from(self.right) / f64::from((self.right + self.missed).max(1))
    }
    /// Recall over pairs of outlets rather than pairs of reports. One
    /// outlet's reports never merge, so when an outlet has two reports of a
    /// story (a copy of one article in two snapshots, a video and a report)
    /// only one can join the others: its second report's pairs count as
    /// missed in [`Score::recall`] whatever the clustering does. Here a
    /// story's two outlets count once, joined when any report of one is in
    /// a cluster with any report of the other.
    fn outlet_recall(&self) -> f64 {
        f64::from(self.outlet_pairs_joined) / f64::from(self.outlet_pairs.max(1))
    }
}

/// The labelled set read from the corpus, with the feeds' outlets.
struct RealSet {
    labels: Vec<Label>,
    items: Vec<Item>,
    outlets: Outlets,
    files: usize,
}

impl RealSet {
    fn load() -> RealSet {
        let (labels, items, outlets) = cluster_labels::load();
        let mut files: Vec<&str> = labels.iter().map(|l| l.file.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        RealSet {
            files: files.len(),
            labels,
            items,
            outlets,
        }
    }

    /// Pair scores of the tuning and test halves at a threshold, and the
    /// pairs judged wrongly.
    fn score(&self, threshold: f64) -> (Score, Score, Vec<String>, u64) {
        let cfg = ClusterConfig {
            threshold,
            ..ClusterConfig::default()
        };
        // As a render does: words weighed by their rarity among the items.
        let idf = Idf::from_items(&self.items);
        let mut clusterer = Clusterer::with_outlets(cfg.clone(), self.outlets.clone()).with_idf(idf.clone());
        for it in &self.items {
            clusterer.add(it);
        }
        let cluster: Vec<_> = self
            .items
            .iter()
            .map(|it| clusterer.cluster_of(&it.key).expect("indexed").id)
            .collect();
        let outlet: Vec<String> = self.items.iter().map(|it| self.outlets.of(it).unwrap()).collect();
        let (mut tuning, mut test) = (Score::default(), Score::default());
        let mut report = Vec::new();
        for i in 0..self.items.len() {
            for j in i + 1..self.items.len() {
                let (la, lb) = (&self.labels[i], &self.labels[j]);
                let merged = cluster[i] == cluster[j];
                let same_outlet = outlet[i] == outlet[j];
                if merged {
                    assert!(!same_outlet, "one outlet merged: {} / {}", la.link, lb.link);
                }
                // Two items of one outlet are never merged by design, so
                // they are no pair to find.
                let gold = la.story != "-" && la.story == lb.story && !same_outlet;
                // A wrong merge counts against each half it touches.
                for (half, score) in [(false, &mut tuning), (true, &mut test)] {
                    if la.test_half != half && lb.test_half != half {
                        continue;
                    }
                    match (gold, merged) {
                        (true, true) => score.right += 1,
                        (false, true) => score.wrong += 1,
                        (true, false) => score.missed += 1,
                        (false, false) => {}
                    }
                }
                if gold != merged {
                    let (a, b) = (&self.items[i], &self.items[j]);
                    report.push(format!(
                        "{} [{}] {:?} / [{}] {:?} (similarity {:?})",
                        if merged { "WRONG MERGE" } else { "missed" },
                        la.story,
                        a.title,
                        lb.story,
                        b.title,
                        similarity_in(a, b, cfg.window, &self.outlets, Some(&idf)),
                    ));
                }
            }
        }
        // Outlet pairs of each story: (story, outlet, outlet) → joined.
        let mut outlet_pairs: BTreeMap<(&str, &str, &str), (bool, bool)> = BTreeMap::new();
        for i in 0..self.items.len() {
            for j in 0..self.items.len() {
                let (la, lb) = (&self.labels[i], &self.labels[j]);
                if la.story == "-" || la.story != lb.story || outlet[i] >= outlet[j] {
                    continue;
                }
                let e = outlet_pairs
                    .entry((&la.story, &outlet[i], &outlet[j]))
                    .or_insert((la.test_half, false));
                e.1 |= cluster[i] == cluster[j];
            }
        }
        for (test_half, joined) in outlet_pairs.into_values() {
            let score = if test_half { &mut test } else { &mut tuning };
            score.outlet_pairs += 1;
            score.outlet_pairs_joined += u32::from(joined);
        }
        report.sort();
        (tuning, test, report, clusterer.stats().comparisons)
    }
}

/// Issue 15's bar on the real test half: pair precision ≥ 0.98 with recall
/// ≥ 0.8. NOT MET (threshold 0.42, 3,159 items, 75 multi-outlet stories:
/// precision 1.000, recall 0.470 on the test half; 1.000 and 0.500 on the
/// tuning half, with the anchored pair-model edge of the fourth session;
/// 0.394 and 0.346 before it). Precision holds; recall does not: two outlets' headlines
/// for one event share few words (weighted Dice 0.30 to 0.40 for most
/// missed pairs) and as many same-subject follow-ups share as many, so no
/// word-overlap threshold separates them. A logistic pair model over
/// eleven features, fit on the tuning half (`examples/cluster_fit.rs`),
/// reached 1.000 / 0.449 there but only 0.971 / 0.500 (pair level) on the
/// test half and lost the written set's precision; see BENCHMARKS.md,
/// "Run 5 (third session): clustering". The fourth session let that model
/// join a pair only when both headlines share a rare word (an anchor):
/// see "Run 6 (fourth session): clustering" for the pairs still missed.
/// The fifth session's English event-word classes (blast / explosion,
/// protest / march, weighs / considers) raised recall to 0.525 (tuning)
/// and 0.471 (test; 79 stories) at precision 1.000; a cluster-level join and reading
/// "U.S." as a word were tried and dropped for wrong merges (BENCHMARKS.md,
/// "Run 7 (fifth session): clustering"). The seventh session's summary
/// agreement (headlines tied by a fairly rare word, summaries sharing a
/// third of their rare words) raised it to 0.588 (tuning) and 0.544
/// (test) at precision 1.000 (BENCHMARKS.md, "Run 9 (seventh session):
/// clustering summaries").
/// The seventh session's word forms
/// ("Razzies" / "Razzie", "ISIS" / "Islamic State") alone raised the
/// tuning half to 0.550, the test half stayed at 0.471 (BENCHMARKS.md, "Run 9 (seventh
/// session): clustering words").
/// The test is ignored in the
/// default run rather than deleted or loosened: run it with
/// `cargo test --test integration cluster_real -- --include-ignored --nocapture`
/// to see both halves' numbers and every wrong or missed pair.
#[test]
#[ignore = "issue 15 bar not met: real test half precision 1.000, recall 0.588 (needs 0.98 / 0.8)"]
fn real_feeds_precision_and_recall() {
    let set = RealSet::load();
    let mut stories: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (l, it) in set.labels.iter().zip(&set.items) {
        if l.story != "-" {
            stories
                .entry(&l.story)
                .or_default()
                .push(set.outlets.of(it).unwrap());
        }
    }
    let multi = stories
        .values()
        .filter(|o| {
            let mut o = (*o).clone();
            o.sort();
            o.dedup();
            o.len() > 1
        })
        .count();
    let singletons = set.labels.iter().filter(|l| l.story == "-").count();

    let (tuning, test, report, comparisons) = set.score(DEFAULT_THRESHOLD);
    for line in &report {
        println!("{line}");
    }
    print_halves(&tuning, &test);
    println!(
        "real set: {} items from {} files, {} stories told by several outlets, {} singletons; \
         threshold {DEFAULT_THRESHOLD}; {comparisons} comparisons",
        set.items.len(),
        set.files,
        multi,
        singletons,
    );
    assert!(set.items.len() >= 400, "{} items", set.items.len());
    assert!(
        test.precision() >= 0.98,
        "test half precision {:.3}",
        test.precision()
    );
    assert!(test.recall() >= 0.8, "test half recall {:.3}", test.recall());
}

/// The real set as labelled: its size, and that clustering it never puts
/// two items of one outlet together (asserted inside `score`); prints both
/// halves' numbers in the default run, pair recall and outlet-pair recall
/// (see [`Score::outlet_recall`] and the fixtures README, "Scoring"). Until the bar above is met, this
/// guards what is reached: precision at the bar (≥ 0.98) on both halves,
/// and recall not below 0.71 on the tuning half and 0.58 on the test half
/// (1.000 / 0.713 tuning and 1.000 / 0.588 test with the tenth session's
/// closer tier of rare-word agreement, items within 3 hours; the ceiling
/// the outlet and window rules leave is 0.838 and 0.912, `cluster_fit`'s
/// "reachable pairs"; 1.000 / 0.700 and 1.000 / 0.588 on the set of 79
/// stories with the ninth session's rare-word agreement; 0.662 and 0.574 with the
/// eighth session's join rule and word forms; 0.613 and 0.574 with the seventh
/// session's wide anchor keys; 0.600 and 0.544 with its summary agreement
/// and word forms before them; 0.525 and 0.471 before those, 0.487 and
/// 0.456 before the fifth session's event-word classes).
#[test]
fn real_set_is_read_and_scored() {
    let set = RealSet::load();
    assert!(set.items.len() >= 400, "{} items", set.items.len());
    // Items are built as the poller builds them: one item per key (a link
    // two feeds carry is one item with two sources), so no scored pair is
    // two copies of one article that the product would have folded.
    let mut keys: Vec<&str> = set.items.iter().map(|it| it.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), set.items.len(), "two labelled items share a key");
    let (tuning, test, report, _) = set.score(DEFAULT_THRESHOLD);
    print_halves(&tuning, &test);
    for line in report.iter().filter(|l| l.starts_with("WRONG")) {
        println!("{line}");
    }
    // Every labelled story is scored somewhere: no half is empty.
    assert!(tuning.right + tuning.missed > 0 && test.right + test.missed > 0);
    for (name, half, recall) in [("tuning", &tuning, 0.71), ("test", &test, 0.58)] {
        assert!(
            half.precision() >= 0.98,
            "{name} half precision {:.3}",
            half.precision()
        );
        assert!(half.recall() >= recall, "{name} half recall {:.3}", half.recall());
    }
}

/// Threshold sweep on the real set, for tuning:
/// `cargo test --test integration cluster_real::sweep -- --ignored --nocapture`.
#[test]
#[ignore]
fn sweep() {
    let set = RealSet::load();
    for threshold in [0.25, 0.3, 0.33, 0.36, 0.38, 0.4, 0.42, 0.44, 0.46, 0.5, 0.55] {
        let (tuning, test, _, _) = set.score(threshold);
        println!(
            "threshold {threshold:.2}: tuning P {:.3} R {:.3} ({} wrong) | test P {:.3} R {:.3} ({} wrong)",
            tuning.precision(),
            tuning.recall(),
            tuning.wrong,
            test.precision(),
            test.recall(),
            test.wrong
        );
    }
}

/// Pairs of items put in one cluster at a threshold, with words weighed by
/// their rarity among the items (as a render does) or not.
fn merged_pairs(items: &[Item], outlets: &Outlets, threshold: f64, idf: bool) -> Vec<(usize, usize)> {
    let cfg = ClusterConfig {
        threshold,
        ..ClusterConfig::default()
    };
    let mut clusterer = Clusterer::with_outlets(cfg, outlets.clone());
    if idf {
        clusterer = clusterer.with_idf(Idf::from_items(items));
    }
    for it in items {
        clusterer.add(it);
    }
    let ids: Vec<_> = items
        .iter()
        .map(|it| clusterer.cluster_of(&it.key).expect("indexed").id)
        .collect();
    let mut pairs = Vec::new();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            if ids[i] == ids[j] {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// Two real feeds of one outlet, read the way the daemon reads them.
const ONE_OUTLET: [[&str; 2]; 2] = [
    // The Wall Street Journal's economy and world feeds of 2026-02-21 (as
    // an archiver re-served them: the item links point to archive.is, the
    // site link to wsj.com), the day after the Supreme Court struck down
    // the tariffs.
    [
        "orx365-rss-arch/wsj_econ.8d4a05af.xml",
        "orx365-rss-arch/wsj_world.8d4a05af.xml",
    ],
    // CNN's world feed and CNN's feed as newsisfree carried it in 2008: both
    // give www.cnn.com as their site.
    [
        "AyushYadav-news_twitter_analysis/cnn.xml",
        "AyushYadav-news_twitter_analysis/newsisfree.xml",
    ],
];

/// A threshold well below the default.
const LOOSE: f64 = 0.3;

#[test]
fn two_feeds_of_one_outlet_never_merge() {
    for files in ONE_OUTLET {
        let (items, outlets) = read_files(files);
        // What a feed-per-outlet rule did: similar articles of the two feeds
        // end up in one story.
        let mut per_feed = Outlets::new();
        for f in files {
            per_feed.insert(&feed_url(f), f);
        }
        // A loose threshold and plain word weights, so that the two feeds'
        // look-alike articles merge under that rule: the site rule must
        // hold whatever the weights and the threshold.
        let hazard = merged_pairs(&items, &per_feed, LOOSE, false);
        for &(i, j) in &hazard {
            println!(
                "one feed per outlet merges {:?} / {:?}",
                items[i].title, items[j].title
            );
        }
        assert!(!hazard.is_empty(), "{files:?}: nothing to protect against");
        // The outlet is the site: one outlet for both feeds, nothing merged.
        let domains: Vec<String> = items.iter().map(|it| outlets.of(it).unwrap()).collect();
        let mut distinct = domains.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 1, "{files:?}: {distinct:?}");
        for idf in [false, true] {
            let merged = merged_pairs(&items, &outlets, LOOSE, idf);
            assert!(merged.is_empty(), "{files:?}: merged {merged:?}");
        }
    }
}

/// Prints both halves' pair scores, one line each.
fn print_halves(tuning: &Score, test: &Score) {
    for (name, s) in [("tuning", tuning), ("test", test)] {
        println!(
            "real {name} half: pair precision {:.3}, recall {:.3} ({} right, {} wrong, {} missed); \
             outlet-pair recall {:.3} ({} of {})",
            s.precision(),
            s.recall(),
            s.right,
            s.wrong,
            s.missed,
            s.outlet_recall(),
            s.outlet_pairs_joined,
            s.outlet_pairs
        );
    }
}
