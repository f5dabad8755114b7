//! Cost of full-text extraction: runs `feedwire::extract::extract` over every
//! article page of the shared corpus (`../shared/corpus/articles`, read in
//! place) and prints the time per article (median, p90, p99, max), the page
//! sizes, and the process's peak resident memory.
//!
//! ```sh
//! cargo run --release --example extract_bench -- [CORPUS_DIR] [--rounds N]
//! ```
//!
//! Each page is decompressed and read into memory first, so only extraction
//! (charset decoding, readability, debris removal, sanitising) is timed.
//! With `--rounds N` every page is extracted N times (the median of its
//! rounds counts), which steadies numbers on a busy machine. With `--dump
//! DIR` each page's published HTML (or its error) is written to
//! `DIR/<page path with / as _>`, so two builds' outputs can be compared
//! with `diff -r`.

use std::path::PathBuf;
use std::time::Instant;

use url::Url;

#[path = "support/corpus.rs"]
mod corpus;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 1usize;
    let mut dump: Option<PathBuf> = None;
    let mut dir = PathBuf::from("../shared/corpus/articles");
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--rounds" {
            rounds = args[i + 1].parse().expect("--rounds N");
            i += 2;
        } else if args[i] == "--dump" {
            dump = Some(PathBuf::from(&args[i + 1]));
            i += 2;
        } else {
            dir = PathBuf::from(&args[i]);
            i += 1;
        }
    }
    let mut files = Vec::new();
    corpus::article_pages(&dir, &mut files);
    files.sort();
    let pages: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|f| (f.clone(), corpus::read_page(&f)))
        .collect();
    assert!(!pages.is_empty(), "no pages under {}", dir.display());
    let rss_loaded = peak_rss_kib();
    let url = Url::parse("https://news.example/2025/11/article").unwrap();
    let mut ms = Vec::with_capacity(pages.len());
    let (mut ok, mut failed) = (0, 0);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).expect("dump dir");
    }
    for (path, body) in &pages {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = feedwire::extract::extract(body, Some("text/html"), &url, None, None);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if times.len() == 1 {
                if r.is_ok() {
                    ok += 1
                } else {
                    failed += 1
                }
                if let Some(d) = &dump {
                    let rel = path.strip_prefix(&dir).unwrap_or(path);
                    let name = rel.to_string_lossy().replace('/', "_");
                    let out = match &r {
                        Ok(a) => format!("{}\n{:?} {:?} {}\n{}\n", a.title, a.byline, a.lang, a.dir, a.html),
                        Err(e) => format!("error: {e}\n"),
                    };
                    std::fs::write(d.join(name), out).expect("dump write");
                }
            }
        }
        times.sort_by(f64::total_cmp);
        ms.push(times[times.len() / 2]);
    }
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let mut sizes: Vec<usize> = pages.iter().map(|(_, b)| b.len()).collect();
    sizes.sort();
    println!(
        "pages: {} ({ok} extracted, {failed} no article); size median {} KiB, max {} KiB",
        pages.len(),
        sizes[sizes.len() / 2] / 1024,
        sizes[sizes.len() - 1] / 1024
    );
    println!(
        "ms per article: median {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}; total {:.1} s",
        pct(&sorted, 0.5),
        pct(&sorted, 0.9),
        pct(&sorted, 0.99),
        sorted[sorted.len() - 1],
        ms.iter().sum::<f64>() / 1000.0
    );
    if let (Some(loaded), Some(peak)) = (rss_loaded, peak_rss_kib()) {
        println!(
            "peak RSS: {} MiB with every page loaded, {} MiB after extracting (extraction adds {} MiB at its worst page)",
            loaded / 1024,
            peak / 1024,
            peak.saturating_sub(loaded) / 1024
        );
    }
}
