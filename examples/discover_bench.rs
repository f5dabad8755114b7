//! What feed autodiscovery reads and costs on real pages: runs
//! `feedwire::discover` over every page of the shared article corpus
//! (`../shared/corpus/articles`, read in place) and prints how much of each
//! page a feed poll reads (its head, or up to the first feed link after it),
//! how many pages name a feed and which the rule picks, and the CPU time of
//! reading the links from what is read against the whole page.
//!
//! ```sh
//! cargo run --release --example discover_bench -- [CORPUS_DIR] [--rounds N]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use feedwire::discover::{choose, feed_links, feed_type_at, head_end, is_page, sniff, Sniffed, SNIFF_LEN};
use url::Url;

#[path = "support/corpus.rs"]
mod corpus;

fn pct<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Median over `rounds` of the time of `f`, in microseconds.
fn time_us(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..rounds)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/corpus/articles");
    let mut rounds = 3;
    while let Some(a) = args.next() {
        if a == "--rounds" {
            rounds = args.next().and_then(|n| n.parse().ok()).expect("--rounds N");
        } else {
            dir = PathBuf::from(a);
        }
    }
    let mut paths = Vec::new();
    corpus::article_pages(&dir, &mut paths);
    paths.sort();
    let page_url = Url::parse("https://news.example/section/").unwrap();
    let (mut heads, mut wholes) = (Vec::new(), Vec::new());
    let (mut t_head, mut t_whole) = (Vec::new(), Vec::new());
    let (mut past_head, mut no_type) = (0, 0);
    // Bytes read and page sizes of the pages that name a feed.
    let (mut linked_read, mut linked_whole) = (Vec::new(), Vec::new());
    let (mut pages, mut no_end, mut with_links, mut with_comments, mut chose_comments, mut differ) =
        (0, 0, 0, 0, 0, 0);
    for path in &paths {
        let body = corpus::read_page(path);
        let sniffed = sniff(&body[..body.len().min(SNIFF_LEN)]).unwrap_or(Sniffed::Unknown);
        if !is_page(sniffed, Some("text/html")) {
            continue;
        }
        pages += 1;
        let end = head_end(&body, 0).unwrap_or_else(|| {
            no_end += 1;
            body.len()
        });
        // Where a feed poll stops reading (see `fetch`): the head's end when
        // the head names a feed type, else the end of the first tag after it
        // that names one, else the whole page.
        let end = match feed_type_at(&body, 0) {
            Some(at) if at <= end => end,
            Some(at) => {
                past_head += 1;
                body[at..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(body.len(), |c| at + c + 1)
            }
            None => {
                no_type += 1;
                body.len()
            }
        };
        let head = &body[..end];
        heads.push(head.len());
        wholes.push(body.len());
        let links = feed_links(&feedwire::extract::decode(head, Some("text/html")), &page_url);
        let from_whole = feed_links(&feedwire::extract::decode(&body, Some("text/html")), &page_url);
        if choose(&links) != choose(&from_whole) {
            differ += 1;
            if std::env::var_os("DISCOVER_SHOW").is_some() {
                let url = |l: Option<&feedwire::discover::FeedLink>| l.map(|l| l.url.to_string());
                println!(
                    "differs: {}: head {:?} (head ends at {end} of {}), whole {:?}",
                    path.display(),
                    url(choose(&links)),
                    body.len(),
                    url(choose(&from_whole))
                );
            }
        }
        if !links.is_empty() {
            with_links += 1;
            linked_read.push(head.len());
            linked_whole.push(body.len());
        }
        if links.iter().any(|l| l.is_comments()) {
            with_comments += 1;
        }
        if choose(&links).is_some_and(|l| l.is_comments()) {
            chose_comments += 1;
            if std::env::var_os("DISCOVER_SHOW").is_some() {
                println!("comments only: {}: {:?}", path.display(), links);
            }
        }
        t_head.push(time_us(rounds, || {
            let html = feedwire::extract::decode(head, Some("text/html"));
            std::hint::black_box(choose(&feed_links(&html, &page_url)).cloned());
        }));
        t_whole.push(time_us(rounds, || {
            let html = feedwire::extract::decode(&body, Some("text/html"));
            std::hint::black_box(choose(&feed_links(&html, &page_url)).cloned());
        }));
    }
    heads.sort_unstable();
    wholes.sort_unstable();
    t_head.sort_by(f64::total_cmp);
    t_whole.sort_by(f64::total_cmp);
    let sum = |v: &[usize]| v.iter().sum::<usize>();
    println!(
        "pages: {pages} of {} files; no </head> or <body> found: {no_end}; read past the head to a feed type: {past_head}; no feed type named, read whole: {no_type}",
        paths.len()
    );
    println!(
        "bytes read:  median {} p90 {} max {}; whole page: median {} p90 {} max {}; read is {:.1}% of all page bytes",
        pct(&heads, 0.5),
        pct(&heads, 0.9),
        heads.last().unwrap(),
        pct(&wholes, 0.5),
        pct(&wholes, 0.9),
        wholes.last().unwrap(),
        100.0 * sum(&heads) as f64 / sum(&wholes) as f64
    );
    linked_read.sort_unstable();
    linked_whole.sort_unstable();
    println!(
        "pages naming a feed: read median {} p90 {} max {} of pages of median {} p90 {} max {}; {:.1}% of their bytes",
        pct(&linked_read, 0.5),
        pct(&linked_read, 0.9),
        linked_read.last().unwrap(),
        pct(&linked_whole, 0.5),
        pct(&linked_whole, 0.9),
        linked_whole.last().unwrap(),
        100.0 * sum(&linked_read) as f64 / sum(&linked_whole) as f64
    );
    println!(
        "feed links: {with_links} pages name a feed; {with_comments} name a comments feed; the rule picks a comments feed on {chose_comments}; what is read and the whole page pick differently on {differ}"
    );
    println!(
        "links from what is read: median {:.0} µs p90 {:.0} µs max {:.0} µs; from the whole page: median {:.0} µs p90 {:.0} µs max {:.0} µs (median of {rounds} rounds per page)",
        pct(&t_head, 0.5),
        pct(&t_head, 0.9),
        t_head.last().unwrap(),
        pct(&t_whole, 0.5),
        pct(&t_whole, 0.9),
        t_whole.last().unwrap()
    );
}
