//! Cost of story clustering: adds N synthetic items (Arabic and English
//! political headlines, some stories carried by several outlets) to one
//! `Clusterer` within its window and reports items/s, how the cost of one
//! add changes as the window fills, comparisons per item, and peak memory.
//!
//! `cargo run --release --example cluster_bench -- 100000` (words weighed
//! by their frequency among the items, as a render does), or
//! `... -- 100000 plain` (without).

use std::time::Instant;

use feedwire::cluster::{ClusterConfig, Clusterer, Idf};
use feedwire::item::{Item, ItemKey, Source};

const AR_WORDS: &[&str] = &[
    "الرئيس",
    "الحكومة",
    "البرلمان",
    "وزير",
    "الخارجية",
    "الدفاع",
    "مجلس",
    "الأمن",
    "الانتخابات",
    "قانون",
    "اتفاق",
    "مفاوضات",
    "وقف",
    "إطلاق",
    "النار",
    "زيارة",
    "قمة",
    "العربية",
    "المعارضة",
    "احتجاجات",
    "العاصمة",
    "الجيش",
    "الاقتصاد",
    "الميزانية",
    "العقوبات",
    "السفير",
    "الأمم",
    "المتحدة",
    "اللاجئين",
    "الحدود",
];
const EN_WORDS: &[&str] = &[
    "president",
    "government",
    "parliament",
    "minister",
    "foreign",
    "defence",
    "council",
    "security",
    "election",
    "law",
    "deal",
    "talks",
    "ceasefire",
    "visit",
    "summit",
    "opposition",
    "protests",
    "capital",
    "army",
    "economy",
    "budget",
    "sanctions",
    "ambassador",
    "united",
    "nations",
    "refugees",
    "border",
    "vote",
    "strike",
];
const PLACES: &[&str] = &[
    "القاهرة",
    "بغداد",
    "دمشق",
    "الرباط",
    "تونس",
    "الرياض",
    "عمّان",
    "بيروت",
    "الدوحة",
    "الجزائر",
];
const OUTLETS: usize = 40;

/// A small deterministic generator (no rand dependency for a bench).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() as usize) % words.len()]
    }
}

/// A word of the long tail: news vocabulary is mostly rare words (names,
/// places, numbers); a few common political words recur everywhere.
fn word(rng: &mut Lcg, arabic: bool) -> String {
    if rng.next() % 4 == 0 {
        return rng.pick(if arabic { AR_WORDS } else { EN_WORDS }).to_owned();
    }
    let letters: Vec<char> = if arabic {
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي".chars().collect()
    } else {
        "abcdefghijklmnopqrstuvwxyz".chars().collect()
    };
    // About 50,000 distinct words: 4-letter words from a seeded index.
    let mut n = rng.next() % 50_000;
    (0..4)
        .map(|_| {
            let c = letters[(n % letters.len() as u64) as usize];
            n /= letters.len() as u64;
            c
        })
        .collect()
}

fn story(rng: &mut Lcg, arabic: bool) -> (String, String) {
    let mut title: Vec<String> = (0..8).map(|_| word(rng, arabic)).collect();
    title.push(rng.pick(PLACES).to_owned());
    let summary: Vec<String> = (0..25).map(|_| word(rng, arabic)).collect();
    (title.join(" "), summary.join(" "))
}

fn item(n: usize, outlet: usize, title: &str, summary: &str, arabic: bool, date: i64) -> Item {
    let link = format!("https://outlet{outlet}.example/news/{n}");
    let url = url::Url::parse(&link).unwrap();
    Item {
        key: ItemKey::from_link(&url),
        link: Some(link.clone()),
        title: title.to_owned(),
        summary: Some(summary.to_owned()),
        content: None,
        authors: vec![],
        categories: vec![],
        published: Some(date),
        updated: None,
        first_seen: date,
        date,
        language: Some(if arabic { "ar" } else { "en" }.into()),
        enclosure: None,
        sources: vec![Source {
            feed_url: format!("https://outlet{outlet}.example/rss"),
            feed_name: format!("Outlet {outlet}"),
            link: Some(link),
        }],
        fingerprint: None,
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut rng = Lcg(42);
    // Stories of 1 to 4 reports from different outlets, dates spread over
    // 40 hours so that everything stays within the 48-hour window.
    let mut items = Vec::with_capacity(n);
    let start = 1_764_000_000i64;
    while items.len() < n {
        let arabic = rng.next() % 3 != 0;
        let (title, summary) = story(&mut rng, arabic);
        let reports = 1 + (rng.next() % 4) as usize;
        let first_outlet = (rng.next() as usize) % OUTLETS;
        let date = start + (items.len() as i64 * 40 * 3600) / n as i64;
        for r in 0..reports.min(n - items.len()) {
            let i = items.len();
            items.push(item(
                i,
                (first_outlet + r) % OUTLETS,
                &title,
                &summary,
                arabic,
                date + r as i64 * 60,
            ));
        }
    }
    let rss_before = peak_rss_kib();
    // As a render does (`cluster::group`): the words' frequencies among the
    // items first, then the adds with words weighed by them. `plain` adds
    // without frequencies, for comparison under the same load.
    let plain = std::env::args().nth(2).as_deref() == Some("plain");
    let t = Instant::now();
    let idf = (!plain).then(|| Idf::from_items(&items));
    if !plain {
        println!(
            "word frequencies of {n} items in {:.2} s ({:.1} µs/item)",
            t.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    let mut clusterer = Clusterer::new(ClusterConfig::default());
    if let Some(idf) = idf {
        clusterer = clusterer.with_idf(idf);
    }
    let mut slices = Vec::new();
    let slice = (n / 10).max(1);
    let t = Instant::now();
    let mut last = Instant::now();
    let mut last_comparisons = 0;
    for (i, it) in items.iter().enumerate() {
        clusterer.add(it);
        if (i + 1) % slice == 0 {
            let comparisons = clusterer.stats().comparisons;
            slices.push((i + 1, last.elapsed(), comparisons - last_comparisons));
            last = Instant::now();
            last_comparisons = comparisons;
        }
    }
    let took = t.elapsed();
    let stats = clusterer.stats();
    println!(
        "clustered {n} items in {:.2} s: {:.0} items/s, {:.1} µs/item, {:.1} comparisons/item, {} clusters",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64,
        stats.comparisons as f64 / n as f64,
        stats.clusters
    );
    println!("cost of an add as the window fills (items already indexed → µs/item, comparisons/item):");
    for (upto, d, c) in &slices {
        println!(
            "  {:>7} … {:>7}: {:>7.1} µs/item  {:>6.1} comparisons/item",
            upto - slice,
            upto,
            d.as_secs_f64() * 1e6 / slice as f64,
            *c as f64 / slice as f64
        );
    }
    println!(
        "peak RSS: {} MiB (items alone, before clustering: {} MiB)",
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
}
