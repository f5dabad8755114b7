//! Fits the pair model of story clustering (`feedwire::cluster`) on the
//! TUNING half of the real labelled set, and prints the error analysis
//! behind it.
//!
//! The set is `tests/fixtures/clusters/real_labels.tsv` (see the README
//! there) over the snapshots in `../shared/corpus/realworld`, read with
//! feedwire's parser as `tests/integration/cluster_real.rs` reads it. Every
//! pair of items of different outlets within the window that passes the hard
//! rules (language, outlet, window, places) and shares a word is a sample;
//! same-story pairs are positive. A logistic regression (Newton's method,
//! L2 penalty [`L2`] on standardised features) is fit on the pairs whose
//! two items are both in the tuning half; the weights it prints, on the raw
//! features, are the constants `MODEL_BIAS` and `MODEL_WEIGHTS` in
//! `src/cluster/model.rs`. The fit is deterministic: same set, same weights.
//!
//! ```text
//! cargo run --release --example cluster_fit             # fit, tuning half only
//! cargo run --release --example cluster_fit -- analyse  # missed and near-miss pairs (tuning)
//! cargo run --release --example cluster_fit -- test     # also score the test half
//! cargo run --release --example cluster_fit -- sweep    # simulated clustering of edge rules (tuning + written)
//! SHOW="hybrid cov>=0.2 p>=0.9" cargo run --release --example cluster_fit -- sweep  # and one rule's wrong pairs
//! cargo run --release --example cluster_fit -- misses   # every tuning story with a missed pair, pair by pair (misses-test: test half)
//! cargo run --release --example cluster_fit -- near     # pairs just under the threshold (tuning + written) with their evidence
//! SHOW_WRONG=1 THRESHOLDS=0.42 cargo run --release --example cluster_fit -- test  # one threshold, with the wrong pairs
//! SHOW_UNCOMPARED=1 THRESHOLDS=0.42 cargo run --release --example cluster_fit -- test  # and the pairs above it never compared
//! JOIN_MIN_P=0.7 JOINRULES="avg,0,0;avgs,0,0.2,0" cargo run --release --example cluster_fit -- join  # simulated join rules (tuning + written)
//! REFIT=1 FIT_L2=3 FIT_DROP=title_grams cargo run --release --example cluster_fit -- join  # the same with the model refit
//! cargo run --release --example cluster_fit -- export > pairs.jsonl  # every pair, for scoring outside (see `export`)
//! ```
//!
//! Every mode first prints the *reachable pairs* of each half: how many
//! same-story pairs any clustering can merge at all under the rules no
//! similarity changes (a cluster holds one report per outlet, and no two
//! items further apart than the window or in two languages); the rest are
//! out of reach of any scoring (see `reachable`).
//!
//! `join` clusters the shipped similarity's edges as `Clusterer` does, under
//! join rules (how a cluster takes in another; `JOINRULES`, see
//! `JoinRule`), and prints what each gains or breaks (`SHOW_GAINED=1`,
//! `SHOW_WRONG=1`). `REFIT=1` makes it judge pairs with the model just fit
//! (penalty `FIT_L2`, features `FIT_DROP` left out) instead of the
//! shipped one. `misses` also counts the missed pairs whose clusters an
//! edge links (the join rule kept them apart) against the others.
//!
//! `sweep` clusters by average linkage as `Clusterer` does, but compares
//! every pair sharing a word (no MinHash candidates), for edge rules: the
//! shipped weighted Dice, the pair model alone, the Dice or the model at
//! the threshold, and the same only when both headlines share a rare word
//! (`anchored`, what `cluster::MODEL_MIN_PROBABILITY` ships).

// Matrix and feature loops read as the formulas they implement.
#![allow(clippy::needless_range_loop)]

use std::path::Path;

use feedwire::cluster::{
    model_score, Block, ClusterConfig, Clusterer, Idf, Outlets, PairTable, COMMENTARY_MIN_SIMILARITY,
    DEFAULT_WINDOW, FEATURES, FEATURE_NAMES, MIN_MODEL_COVERAGE, SUMMARY_MIN_SHARED,
};
use feedwire::item::{Item, ItemKey, Source};

/// L2 penalty on the standardised weights (not on the bias).
const L2: f64 = 1.0;

#[path = "../tests/integration/cluster_labels.rs"]
mod cluster_labels;

use cluster_labels::{load, Label};

/// The written set (`tests/fixtures/clusters/eval.jsonl`) as the unit test
/// `cluster::tests::evaluation` builds it: ten minutes apart, one feed per
/// outlet. Returns the items and (story, language) of each.
fn written() -> (Vec<Item>, Vec<(String, String)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clusters/eval.jsonl");
    let text = std::fs::read_to_string(path).expect("eval.jsonl");
    let mut items = Vec::new();
    let mut gold = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let outlet: String = field("outlet")
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let (id, lang, summary) = (field("id"), field("lang"), field("summary"));
        let date = 1_764_000_000 + i as i64 * 600;
        items.push(Item {
            key: ItemKey::from_stored(format!("//eval.example/{id}")),
            link: Some(format!("https://{outlet}.example/{id}")),
            title: field("title"),
            summary: (!summary.is_empty()).then(|| format!("<p>{summary}</p>")),
            content: None,
            authors: vec![],
            categories: vec![],
            published: Some(date),
            updated: None,
            first_seen: date,
            date,
            language: Some(lang.clone()),
            enclosure: None,
            sources: vec![Source {
                feed_url: format!("https://{outlet}.example/feed"),
                feed_name: outlet.clone(),
                link: None,
            }],
            fingerprint: None,
        });
        gold.push((field("story"), lang));
    }
    (items, gold)
}

struct Sample {
    i: usize,
    j: usize,
    x: [f64; FEATURES],
    gold: bool,
    /// 0: both tuning, 1: both test, 2: one of each.
    half: u8,
    old: Option<f64>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Solves `a x = b` (Gaussian elimination with partial pivoting).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

/// Logistic regression by Newton's method; returns (bias, weights) on the
/// raw features.
fn fit(samples: &[&Sample]) -> (f64, [f64; FEATURES]) {
    let n = samples.len() as f64;
    let mut mean = [0.0; FEATURES];
    let mut sd = [0.0; FEATURES];
    for s in samples {
        for k in 0..FEATURES {
            mean[k] += s.x[k] / n;
        }
    }
    for s in samples {
        for k in 0..FEATURES {
            sd[k] += (s.x[k] - mean[k]).powi(2) / n;
        }
    }
    for v in &mut sd {
        *v = v.sqrt().max(1e-9);
    }
    let z = |s: &Sample| -> Vec<f64> {
        let mut v = vec![1.0];
        v.extend((0..FEATURES).map(|k| (s.x[k] - mean[k]) / sd[k]));
        v
    };
    let dim = FEATURES + 1;
    let mut w = vec![0.0; dim];
    let l2: f64 = std::env::var("FIT_L2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(L2);
    // FIT_DROP="name,name": features left out of the fit (weight 0).
    let drop: Vec<usize> = std::env::var("FIT_DROP")
        .unwrap_or_default()
        .split(',')
        .filter_map(|n| FEATURE_NAMES.iter().position(|f| *f == n.trim()))
        .collect();
    for _ in 0..50 {
        let mut grad = vec![0.0; dim];
        let mut hess = vec![vec![0.0; dim]; dim];
        for s in samples {
            let v = z(s);
            let p = sigmoid(v.iter().zip(&w).map(|(a, b)| a * b).sum());
            let y = f64::from(u8::from(s.gold));
            for a in 0..dim {
                grad[a] += (p - y) * v[a];
                for b in 0..dim {
                    hess[a][b] += p * (1.0 - p) * v[a] * v[b];
                }
            }
        }
        for a in 1..dim {
            grad[a] += l2 * w[a];
            hess[a][a] += l2;
            if drop.contains(&(a - 1)) {
                // Pinned at 0: no gradient, and the row of a unit matrix.
                grad[a] = 0.0;
                for b in 0..dim {
                    hess[a][b] = 0.0;
                    hess[b][a] = 0.0;
                }
                hess[a][a] = 1.0;
            }
        }
        let step = solve(hess, grad);
        let mut moved = 0.0f64;
        for a in 0..dim {
            w[a] -= step[a];
            moved = moved.max(step[a].abs());
        }
        if moved < 1e-10 {
            break;
        }
    }
    let mut weights = [0.0; FEATURES];
    let mut bias = w[0];
    for k in 0..FEATURES {
        weights[k] = w[k + 1] / sd[k];
        bias -= w[k + 1] * mean[k] / sd[k];
    }
    (bias, weights)
}

/// Pair precision and recall of the pairs scoring at least `t`.
fn pr(
    samples: &[&Sample],
    positives: usize,
    score: impl Fn(&Sample) -> Option<f64>,
    t: f64,
) -> (f64, f64, usize, usize) {
    let (mut right, mut wrong) = (0, 0);
    for s in samples {
        if score(s).is_some_and(|p| p >= t) {
            if s.gold {
                right += 1;
            } else {
                wrong += 1;
            }
        }
    }
    (
        right as f64 / (right + wrong).max(1) as f64,
        right as f64 / positives.max(1) as f64,
        right,
        wrong,
    )
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let (labels, items, outlets) = load();
    let idf = Idf::from_items(&items);
    let table = PairTable::new(&items, &outlets, Some(&idf));
    let window = DEFAULT_WINDOW;
    if mode == "export" {
        export(&labels, &items, &outlets, &idf, &table);
        return;
    }

    let mut samples = Vec::new();
    let mut positives = [0usize; 3];
    let mut blocked = Vec::new();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let (a, b) = (&labels[i], &labels[j]);
            let gold = a.story != "-" && a.story == b.story;
            let half = match (a.test_half, b.test_half) {
                (false, false) => 0,
                (true, true) => 1,
                _ => 2,
            };
            let f = table.features(i, j, window);
            if gold && outlets.of(&items[i]) != outlets.of(&items[j]) {
                positives[half as usize] += 1;
            }
            match f {
                // Commentary joins a report only as a near copy: a rule,
                // not a feature, so such pairs are no samples.
                Ok(f) if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY => {
                    if gold {
                        blocked.push((i, j, "commentary".to_owned()));
                    }
                }
                // So is a headline the other item barely explains.
                Ok(f) if f.coverage < MIN_MODEL_COVERAGE => {
                    if gold {
                        blocked.push((i, j, "coverage".to_owned()));
                    }
                }
                Ok(f) if table.share_a_word(i, j) => samples.push(Sample {
                    i,
                    j,
                    x: f.values,
                    gold,
                    half,
                    old: table.similarity(i, j, window),
                }),
                Ok(_) => {
                    if gold {
                        blocked.push((i, j, "no shared word".to_owned()));
                    }
                }
                Err(e) => {
                    if gold && outlets.of(&items[i]) != outlets.of(&items[j]) {
                        blocked.push((i, j, format!("{e:?}")));
                    }
                }
            }
        }
    }
    println!(
        "{} samples ({} positive); same-story pairs: tuning {}, test {}, across {}",
        samples.len(),
        samples.iter().filter(|s| s.gold).count(),
        positives[0],
        positives[1],
        positives[2]
    );
    let reach = reachable(&labels, &items, &outlets, &table, window);
    for (h, name) in ["tuning", "test"].iter().enumerate() {
        let [pairs, window, language, places, best] = reach[h];
        println!(
            "reachable pairs, {name}: {best} of {pairs} (ceiling R {:.3}); {} never: {window} more than \
             the window apart, {language} of two languages, {} as a cluster holds one report per outlet \
             (and no two items beyond the window); {places} reachable ones are kept apart by conflicting places",
            best as f64 / pairs.max(1) as f64,
            pairs - best,
            pairs - best - window - language,
        );
    }
    let show = |i: usize| {
        let it = &items[i];
        let summary: String = it
            .summary
            .as_deref()
            .map(feedwire::select::html_to_text)
            .unwrap_or_default()
            .chars()
            .take(160)
            .collect();
        format!(
            "{} | {} | {}",
            outlets.of(it).unwrap_or_default(),
            it.title,
            summary
        )
    };
    for (i, j, why) in &blocked {
        if !labels[*i].test_half {
            println!(
                "BLOCKED ({why}) [{}]\n  {}\n  {}",
                labels[*i].story,
                show(*i),
                show(*j)
            );
        }
    }

    // The written set joins the fit (half 3): the real set holds no Arabic.
    let (w_items, w_gold) = written();
    let w_idf = Idf::from_items(&w_items);
    let w_table = PairTable::new(&w_items, &Outlets::new(), Some(&w_idf));
    let mut w_positives = 0;
    for i in 0..w_items.len() {
        for j in i + 1..w_items.len() {
            let gold = w_gold[i] == w_gold[j];
            w_positives += usize::from(gold);
            match w_table.features(i, j, window) {
                Ok(f) if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY => {}
                Ok(f) if f.coverage < MIN_MODEL_COVERAGE => {}
                Ok(f) if w_table.share_a_word(i, j) => samples.push(Sample {
                    i,
                    j,
                    x: f.values,
                    gold,
                    half: 3,
                    old: None,
                }),
                _ => {}
            }
        }
    }
    let with_written = std::env::var("FIT_WRITTEN").is_ok_and(|v| v == "1");
    let tuning: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.half == 0 || (with_written && s.half == 3))
        .collect();
    let (bias, weights) = fit(&tuning);
    // REFIT=1: the join and sweep modes judge pairs with the model just fit
    // instead of the shipped one.
    let refit = std::env::var("REFIT").is_ok_and(|v| v == "1");
    let model = if refit {
        Model { bias, weights }
    } else {
        Model {
            bias: feedwire::cluster::MODEL_BIAS,
            weights: feedwire::cluster::MODEL_WEIGHTS,
        }
    };
    println!("pub const MODEL_BIAS: f64 = {bias:.4};");
    println!("pub const MODEL_WEIGHTS: [f64; FEATURES] = [");
    for k in 0..FEATURES {
        println!("    {:.4}, // {}", weights[k], FEATURE_NAMES[k]);
    }
    println!("];");
    let fitted = |s: &Sample| -> Option<f64> {
        Some(sigmoid(
            bias + (0..FEATURES).map(|k| weights[k] * s.x[k]).sum::<f64>(),
        ))
    };
    let shipped = |s: &Sample| -> Option<f64> { Some(model_score(&s.x)) };
    let touches_tuning: Vec<&Sample> = samples.iter().filter(|s| s.half == 0 || s.half == 2).collect();
    let touches_test: Vec<&Sample> = samples.iter().filter(|s| s.half == 1 || s.half == 2).collect();
    let written_samples: Vec<&Sample> = samples.iter().filter(|s| s.half == 3).collect();
    let pos_tuning = positives[0] + positives[2];
    let pos_test = positives[1] + positives[2];
    println!("pair-level scores (no clustering), tuning half:");
    for t in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98] {
        let (p, r, right, wrong) = pr(&touches_tuning, pos_tuning, fitted, t);
        let (sp, sr, sright, swrong) = pr(&touches_tuning, pos_tuning, shipped, t);
        println!(
            "  p >= {t:.2}: fitted P {p:.3} R {r:.3} ({right} right, {wrong} wrong) | shipped P {sp:.3} R {sr:.3} ({sright}/{swrong})"
        );
    }
    println!("pair-level scores (no clustering), written set:");
    for t in [0.5, 0.8, 0.9, 0.95, 0.98] {
        let (p, r, right, wrong) = pr(&written_samples, w_positives, fitted, t);
        println!("  p >= {t:.2}: fitted P {p:.3} R {r:.3} ({right} right, {wrong} wrong)");
    }
    let (p, r, right, wrong) = pr(&touches_tuning, pos_tuning, |s| s.old, 0.42);
    println!("  old similarity >= 0.42: P {p:.3} R {r:.3} ({right} right, {wrong} wrong)");
    if mode == "test" {
        println!("pair-level scores (no clustering), test half:");
        for t in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98] {
            let (sp, sr, sright, swrong) = pr(&touches_test, pos_test, shipped, t);
            println!("  shipped p >= {t:.2}: P {sp:.3} R {sr:.3} ({sright} right, {swrong} wrong)");
        }
    }
    if mode == "cluster" || mode == "test" {
        println!("clustered with the shipped similarity (pairs of one predicted cluster):");
        let ts: Vec<f64> = std::env::var("THRESHOLDS")
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|_| vec![0.36, 0.38, 0.4, 0.42, 0.44]);
        for t in ts {
            let cfg = ClusterConfig {
                threshold: t,
                ..ClusterConfig::default()
            };
            let mut c = Clusterer::with_outlets(cfg, outlets.clone()).with_idf(idf.clone());
            for it in &items {
                c.add(it);
            }
            let ids: Vec<_> = items.iter().map(|it| c.cluster_of(&it.key).unwrap().id).collect();
            // Pairs above the threshold that the clusterer never linked:
            // never candidates (no shared band or anchor key).
            let mut uncompared = [0usize; 2];
            for i in 0..items.len() {
                let linked: Vec<&ItemKey> = c.neighbours(&items[i].key).into_iter().map(|(k, _)| k).collect();
                for j in i + 1..items.len() {
                    let Some(s) = table.similarity(i, j, window) else {
                        continue;
                    };
                    if s < t || linked.contains(&&items[j].key) {
                        continue;
                    }
                    let gold = labels[i].story != "-" && labels[i].story == labels[j].story;
                    uncompared[usize::from(gold)] += 1;
                    if std::env::var("SHOW_UNCOMPARED").is_ok() {
                        println!(
                            "  UNCOMPARED {s:.3} gold={gold} [{}|{}]\n    {}\n    {}",
                            labels[i].story,
                            labels[j].story,
                            show(i),
                            show(j)
                        );
                    }
                }
            }
            println!(
                "  threshold {t:.2}: {} same-story and {} other pairs above it were never compared",
                uncompared[1], uncompared[0]
            );
            // [half][right, wrong, missed]; a wrong pair counts against each
            // half it touches, as in tests/integration/cluster_real.rs.
            let mut n = [[0usize; 3]; 2];
            for i in 0..items.len() {
                for j in i + 1..items.len() {
                    let merged = ids[i] == ids[j];
                    let gold = labels[i].story != "-"
                        && labels[i].story == labels[j].story
                        && outlets.of(&items[i]) != outlets.of(&items[j]);
                    tally(&mut n, &labels[i], &labels[j], gold, merged);
                    if merged && !gold && std::env::var("SHOW_WRONG").is_ok() {
                        println!(
                            "  REAL WRONG {:?} [{}|{}]\n    {}\n    {}",
                            table.similarity(i, j, window),
                            labels[i].story,
                            labels[j].story,
                            show(i),
                            show(j)
                        );
                    }
                }
            }
            let mut c = Clusterer::new(ClusterConfig {
                threshold: t,
                ..ClusterConfig::default()
            })
            .with_idf(w_idf.clone());
            for it in &w_items {
                c.add(it);
            }
            let ids_w: Vec<_> = w_items
                .iter()
                .map(|it| c.cluster_of(&it.key).unwrap().id)
                .collect();
            let [mut r, mut w, mut m] = [0usize; 3];
            for i in 0..w_items.len() {
                for j in i + 1..w_items.len() {
                    match (w_gold[i] == w_gold[j], ids_w[i] == ids_w[j]) {
                        (true, true) => r += 1,
                        (false, true) => {
                            w += 1;
                            if std::env::var("SHOW_WRONG").is_ok() {
                                println!(
                                    "  WRITTEN WRONG {:?}\n    {} | {}\n    {} | {}",
                                    w_table.similarity(i, j, window),
                                    w_gold[i].0,
                                    w_items[i].title,
                                    w_gold[j].0,
                                    w_items[j].title
                                );
                            }
                        }
                        (true, false) => m += 1,
                        _ => {}
                    }
                }
            }
            println!(
                "  threshold {t:.2} written: P {:.3} R {:.3} ({r} right, {w} wrong, {m} missed)",
                r as f64 / (r + w).max(1) as f64,
                r as f64 / (r + m).max(1) as f64
            );
            let halves = if mode == "test" { 2 } else { 1 };
            for (h, name) in ["tuning", "test"].iter().enumerate().take(halves) {
                let [r, w, m] = n[h];
                println!(
                    "  threshold {t:.2} {name}: P {:.3} R {:.3} ({r} right, {w} wrong, {m} missed)",
                    r as f64 / (r + w).max(1) as f64,
                    r as f64 / (r + m).max(1) as f64
                );
            }
        }
    }
    if mode == "misses" || mode == "misses-test" {
        // Every labelled story of the half with a missed pair: its reports,
        // the cluster each landed in, and each cross-outlet pair's values.
        let test_half = mode == "misses-test";
        let mut c = Clusterer::with_outlets(ClusterConfig::default(), outlets.clone()).with_idf(idf.clone());
        for it in &items {
            c.add(it);
        }
        let ids: Vec<_> = items.iter().map(|it| c.cluster_of(&it.key).unwrap().id).collect();
        let mut stories: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, l) in labels.iter().enumerate() {
            if l.story != "-" && l.test_half == test_half {
                stories.entry(&l.story).or_default().push(i);
            }
        }
        // A missed pair is blocked by the join rule when an edge (a pair at
        // or above the threshold) links the two items' clusters; else no
        // pair of the two clusters scores high enough.
        let cluster_of: std::collections::HashMap<&ItemKey, feedwire::cluster::ClusterId> =
            items.iter().zip(&ids).map(|(it, id)| (&it.key, *id)).collect();
        // A missed pair is *taken* when the cluster of one item already
        // holds another report of the other item's outlet: one outlet's
        // reports never share a cluster, so no similarity of this pair can
        // join it while the clusters stay as they are (the one-outlet
        // ceiling, pair by pair).
        let outlet_of: Vec<Option<String>> = items.iter().map(|it| outlets.of(it)).collect();
        let taken = |i: usize, j: usize| {
            (0..items.len()).any(|k| {
                (k != i && ids[k] == ids[j] && outlet_of[k] == outlet_of[i])
                    || (k != j && ids[k] == ids[i] && outlet_of[k] == outlet_of[j])
            })
        };
        let (mut by_join, mut by_score, mut by_outlet) = (0, 0, 0);
        for members in stories.values() {
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    if ids[i] == ids[j] || outlets.of(&items[i]) == outlets.of(&items[j]) {
                        continue;
                    }
                    if taken(i, j) {
                        by_outlet += 1;
                        continue;
                    }
                    let linked = (0..items.len()).filter(|&k| ids[k] == ids[i]).any(|k| {
                        c.neighbours(&items[k].key)
                            .iter()
                            .any(|(n, _)| cluster_of.get(n) == Some(&ids[j]))
                    });
                    if linked {
                        by_join += 1;
                    } else {
                        by_score += 1;
                    }
                }
            }
        }
        println!(
            "missed pairs: {by_outlet} taken (the other's cluster holds a report of the same outlet), \
             {by_join} between clusters linked by an edge (join rule), {by_score} neither"
        );
        for (story, members) in &stories {
            let mut missed = 0;
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    if ids[i] != ids[j] && outlets.of(&items[i]) != outlets.of(&items[j]) {
                        missed += 1;
                    }
                }
            }
            if missed == 0 {
                continue;
            }
            println!("=== [{story}] {missed} missed");
            for &i in members {
                println!("  #{i} c{} {}", &ids[i].to_string()[..6], show(i));
            }
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    let f = table.features(i, j, window);
                    let sim = table.similarity(i, j, window);
                    match f {
                        Ok(f) => println!(
                            "    #{i}-#{j} {} sim={:?} dice={:.3} cov={:.2} mincov={:.2} p={:.3} anchored={} comm={} rare={:.2} rc={:.2} gap={:.1}h so={:.2}",
                            if ids[i] == ids[j] {
                                "MERGED"
                            } else if taken(i, j) {
                                "taken"
                            } else {
                                "missed"
                            },
                            sim.map(|v| (v * 1000.0).round() / 1000.0),
                            f.dice,
                            f.coverage,
                            f.values[2],
                            model_score(&f.values),
                            f.anchored,
                            f.commentary,
                            f.values[6],
                            f.rare_cover,
                            f.gap_hours,
                            f.summary_overlap,
                        ),
                        Err(e) => println!("    #{i}-#{j} blocked {e:?}"),
                    }
                }
            }
        }
    }
    if mode == "near" {
        // Pairs under the threshold with words near it (Dice at least 0.25,
        // coverage at least 0.3) of the tuning half and the written set,
        // highest Dice first, with the evidence beside them: the pair model,
        // rare-word agreement (rc), a shared rare word, the hours apart,
        // summary agreement (so, ss) and the headlines' rarest shared word (ta).
        let mut rows = Vec::new();
        for s in samples
            .iter()
            .filter(|s| s.half == 0 || s.half == 2 || s.half == 3)
        {
            let t = if s.half == 3 { &w_table } else { &table };
            let Ok(f) = t.features(s.i, s.j, window) else {
                continue;
            };
            let sim = t.similarity(s.i, s.j, window);
            if sim.is_some_and(|v| v >= 0.42) || f.dice < 0.25 || f.coverage < 0.3 {
                continue;
            }
            if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY {
                continue;
            }
            rows.push((f.dice, s.half, s.gold, s.i, s.j, f, sim));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (dice, half, gold, i, j, f, sim) in rows {
            println!(
                "{} {} dice={dice:.3} sim={:?} cov={:.2} p={:.3} rc={:.2} rare={} gap={:.1}h so={:.2} ss={:.2} ta={:.2} anch={}",
                if gold { "SAME" } else { "diff" },
                if half == 3 { "W" } else { "T" },
                sim.map(|v| (v * 1000.0).round() / 1000.0),
                f.coverage,
                model_score(&f.values),
                f.rare_cover,
                f.shares_rare,
                f.gap_hours,
                f.summary_overlap,
                f.summary_shared,
                f.title_anchor,
                f.anchored,
            );
            if half == 3 {
                println!("    {}\n    {}", w_items[i].title, w_items[j].title);
            } else {
                println!("    {}\n    {}", show(i), show(j));
            }
        }
    }
    if mode == "sweep" || mode == "sweep-test" {
        let real_cands: Vec<(usize, usize)> = samples
            .iter()
            .filter(|s| s.half != 3)
            .map(|s| (s.i, s.j))
            .collect();
        let w_cands: Vec<(usize, usize)> = samples
            .iter()
            .filter(|s| s.half == 3)
            .map(|s| (s.i, s.j))
            .collect();
        type Variant = (
            String,
            f64,
            Box<dyn Fn(&feedwire::cluster::PairFeatures) -> Option<f64>>,
        );
        let mut variants: Vec<Variant> = vec![("old".into(), 0.42, Box::new(words_only))];
        for c in [0.2] {
            for t in [0.5, 0.8, 0.9, 0.95, 0.98, 0.99] {
                variants.push((
                    format!("model cov>={c}"),
                    t,
                    Box::new(move |f: &feedwire::cluster::PairFeatures| {
                        if f.coverage < c || (f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY) {
                            None
                        } else {
                            Some(model_score(&f.values))
                        }
                    }),
                ));
                for anchor in [0.5, 1.0] {
                    variants.push((
                        format!("anchored{anchor} cov>={c} p>={t}"),
                        0.42,
                        Box::new(move |f: &feedwire::cluster::PairFeatures| {
                            lifted(f, |f| {
                                f.coverage >= c && f.values[7] >= anchor && model_score(&f.values) >= t
                            })
                        }),
                    ));
                }
                variants.push((
                    format!("hybrid cov>={c} p>={t}"),
                    0.42,
                    Box::new(move |f: &feedwire::cluster::PairFeatures| {
                        lifted(f, |f| f.coverage >= c && model_score(&f.values) >= t)
                    }),
                ));
            }
        }
        // Summary-agreement rules on top of the shipped anchored edge:
        // SUMRULES="anchor,overlap,p,dice,coverage;..." (see
        // `cluster::SUMMARY_*`).
        let rules = std::env::var("SUMRULES").unwrap_or_else(|_| "0.5,0.3,0.7,0.3,0.3".into());
        for rule in rules.split(';') {
            let v: Vec<f64> = rule.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            let [a, o, p, d, c] = v[..] else { continue };
            variants.push((
                format!("summary anchor>={a} overlap>={o} p>={p} dice>={d} cov>={c}"),
                0.42,
                Box::new(move |f: &feedwire::cluster::PairFeatures| {
                    lifted(f, |f| {
                        let score = model_score(&f.values);
                        (f.coverage >= 0.2 && f.anchored && score >= 0.95)
                            || (f.title_anchor >= a
                                && f.summary_overlap >= o
                                && f.summary_shared >= SUMMARY_MIN_SHARED
                                && score >= p
                                && f.dice >= d
                                && f.coverage >= c)
                    })
                }),
            ));
        }
        for (name, t, f) in &variants {
            let g = simulate(
                items.len(),
                &|i, j| table.features(i, j, window).ok().and_then(|x| f(&x)),
                &real_cands,
                *t,
            );
            let n = score_real(&g, &labels, &items, &outlets);
            let gw = simulate(
                w_items.len(),
                &|i, j| w_table.features(i, j, window).ok().and_then(|x| f(&x)),
                &w_cands,
                *t,
            );
            let nw = score_written(&gw, &w_gold);
            if std::env::var("SHOW").is_ok_and(|v| *name == v) {
                for i in 0..w_items.len() {
                    for j in i + 1..w_items.len() {
                        if gw[i] == gw[j] && w_gold[i] != w_gold[j] {
                            let x = w_table.features(i, j, window).unwrap();
                            println!(
                                "  WRITTEN WRONG p={:.3} dice={:.3} cov={:.2} {:?}\n    {} | {}\n    {} | {}",
                                model_score(&x.values),
                                x.dice,
                                x.coverage,
                                x.values,
                                w_gold[i].0,
                                w_items[i].title,
                                w_gold[j].0,
                                w_items[j].title
                            );
                        }
                    }
                }
                for i in 0..items.len() {
                    for j in i + 1..items.len() {
                        let gold = labels[i].story != "-" && labels[i].story == labels[j].story;
                        if g[i] == g[j] && !gold && (!labels[i].test_half || !labels[j].test_half) {
                            let x = table.features(i, j, window).unwrap();
                            println!(
                                "  REAL WRONG p={:.3} dice={:.3} {:?}\n    {}\n    {}",
                                model_score(&x.values),
                                x.dice,
                                x.values,
                                show(i),
                                show(j)
                            );
                        }
                    }
                }
            }
            println!("{name} t={t}: tuning {} | written {}", prf(n[0]), prf(nw));
            if mode == "sweep-test" {
                println!("    test {}", prf(n[1]));
            }
        }
    }
    if mode == "join" || mode == "join-test" {
        // Join rules simulated over the shipped similarity's edges (pairs
        // at or above the threshold): how a group of items (a cluster so
        // far) takes in another. JOINRULES="kind,dice,cov[,avg];..." with
        // kind `avg` (average linkage, every cross pair has a similarity:
        // the rule before the eighth session), `avgs` (average over the
        // cross pairs that have a similarity, none contradicting: the
        // shipped rule with "0,0.2,0" and JOIN_MIN_P, by default
        // `cluster::JOIN_MIN_PROBABILITY`), `avgd` (average with the Dice
        // of a pair without a similarity) or `best` (the strongest link).
        // A pair contradicts when blocked (hard rules, commentary), below
        // `dice` or `cov`, or without a similarity and below JOIN_MIN_P.
        let t = 0.42;
        // The simulated edge rule must be the shipped one for the shipped
        // model: count where they differ.
        let mut differ = 0;
        for s in samples.iter().filter(|s| s.half != 3) {
            let shipped_model = Model {
                bias: feedwire::cluster::MODEL_BIAS,
                weights: feedwire::cluster::MODEL_WEIGHTS,
            };
            if view(&table, s.i, s.j, window, shipped_model).sim != s.old {
                differ += 1;
            }
        }
        println!("simulated edge rule differs from the shipped similarity on {differ} real pairs");
        let real_edges: Vec<(usize, usize)> = samples
            .iter()
            .filter(|s| s.half != 3 && view(&table, s.i, s.j, window, model).sim.is_some_and(|v| v >= t))
            .map(|s| (s.i, s.j))
            .collect();
        let w_edges: Vec<(usize, usize)> = samples
            .iter()
            .filter(|s| {
                s.half == 3
                    && view(&w_table, s.i, s.j, window, model)
                        .sim
                        .is_some_and(|v| v >= t)
            })
            .map(|s| (s.i, s.j))
            .collect();
        let rules =
            std::env::var("JOINRULES").unwrap_or_else(|_| "avg,0,0;avgs,0,0.2,0;best,0,0;avgd,0,0".into());
        for rule in rules.split(';') {
            let v: Vec<&str> = rule.split(',').map(str::trim).collect();
            let (kind, d, c, m) = match v[..] {
                [k, d, c] => (k, d, c, "0"),
                [k, d, c, m] => (k, d, c, m),
                _ => continue,
            };
            let (d, c, m): (f64, f64, f64) = (
                d.parse().unwrap_or(0.0),
                c.parse().unwrap_or(0.0),
                m.parse().unwrap_or(0.0),
            );
            let rule = JoinRule {
                best: kind != "avg",
                min_dice: d,
                min_coverage: c,
                by_average: kind == "avgd" || kind == "avgs",
                scored_only: kind == "avgs",
                min_average: m,
                min_p: std::env::var("JOIN_MIN_P")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(feedwire::cluster::JOIN_MIN_PROBABILITY),
            };
            let g = simulate_join(
                items.len(),
                &|i, j| view(&table, i, j, window, model),
                &real_edges,
                t,
                &rule,
            );
            let n = score_real(&g, &labels, &items, &outlets);
            let gw = simulate_join(
                w_items.len(),
                &|i, j| view(&w_table, i, j, window, model),
                &w_edges,
                t,
                &rule,
            );
            let nw = score_written(&gw, &w_gold);
            println!(
                "join {kind} dice>={d} cov>={c} avg>={m}: tuning {} | written {}",
                prf(n[0]),
                prf(nw)
            );
            if mode == "join-test" {
                println!("    test {}", prf(n[1]));
            }
            if std::env::var("SHOW_WRONG").is_ok() {
                for i in 0..w_items.len() {
                    for j in i + 1..w_items.len() {
                        if gw[i] == gw[j] && w_gold[i] != w_gold[j] {
                            let x = view(&w_table, i, j, window, model);
                            println!(
                                "  WRITTEN WRONG {x:?}\n    {} | {}\n    {} | {}",
                                w_gold[i].0, w_items[i].title, w_gold[j].0, w_items[j].title
                            );
                        }
                    }
                }
                for i in 0..items.len() {
                    for j in i + 1..items.len() {
                        let gold = labels[i].story != "-" && labels[i].story == labels[j].story;
                        if g[i] == g[j] && !gold && (!labels[i].test_half || !labels[j].test_half) {
                            println!(
                                "  REAL WRONG {:?} [{}|{}]\n    {}\n    {}",
                                view(&table, i, j, window, model),
                                labels[i].story,
                                labels[j].story,
                                show(i),
                                show(j)
                            );
                        }
                    }
                }
            }
            if std::env::var("SHOW_GAINED").is_ok() {
                let base = simulate_join(
                    items.len(),
                    &|i, j| view(&table, i, j, window, model),
                    &real_edges,
                    t,
                    &JoinRule {
                        best: false,
                        min_dice: 0.0,
                        min_coverage: 0.0,
                        by_average: false,
                        scored_only: false,
                        min_average: 0.0,
                        min_p: 0.0,
                    },
                );
                for i in 0..items.len() {
                    for j in i + 1..items.len() {
                        if g[i] == g[j] && base[i] != base[j] && !labels[i].test_half {
                            let gold = labels[i].story != "-" && labels[i].story == labels[j].story;
                            println!(
                                "  GAINED gold={gold} {:?} [{}|{}]\n    {}\n    {}",
                                view(&table, i, j, window, model),
                                labels[i].story,
                                labels[j].story,
                                show(i),
                                show(j)
                            );
                        }
                    }
                }
            }
        }
    }
    if mode == "summary" {
        // Pairs the shipped similarity leaves below the threshold, by
        // summary agreement: what a summary rule would join (real tuning
        // half and written set).
        let mut rows = Vec::new();
        for s in samples.iter().filter(|s| s.half != 1) {
            let (f, old) = if s.half == 3 {
                (
                    w_table.features(s.i, s.j, window),
                    w_table.similarity(s.i, s.j, window),
                )
            } else {
                (table.features(s.i, s.j, window), s.old)
            };
            let Ok(f) = f else { continue };
            if old.is_some_and(|v| v >= 0.42) || f.summary_shared <= 0.0 {
                continue;
            }
            rows.push((s, f, old));
        }
        rows.sort_by(|a, b| b.1.summary_shared.total_cmp(&a.1.summary_shared));
        for (s, f, old) in rows.iter().take(400) {
            let (ta, tb) = if s.half == 3 {
                (w_items[s.i].title.clone(), w_items[s.j].title.clone())
            } else {
                (show(s.i), show(s.j))
            };
            println!(
                "{} {} shared={:.2} overlap={:.2} anchor={:.2} dice={:.3} cov={:.2} p={:.3} old={:?}\n    {}\n    {}",
                if s.half == 3 { "W" } else { "R" },
                if s.gold { "SAME" } else { "diff" },
                f.summary_shared,
                f.summary_overlap,
                f.title_anchor,
                f.dice,
                f.coverage,
                model_score(&f.values),
                old.map(|v| (v * 1000.0).round() / 1000.0),
                ta.chars().take(150).collect::<String>(),
                tb.chars().take(150).collect::<String>()
            );
        }
    }
    if mode == "analyse" {
        let mut ranked: Vec<&Sample> = touches_tuning.clone();
        ranked.sort_by(|a, b| fitted(b).unwrap().total_cmp(&fitted(a).unwrap()));
        let fmt = |s: &Sample| {
            let parts: Vec<String> = (0..FEATURES)
                .map(|k| format!("{}={:.2}", FEATURE_NAMES[k], s.x[k]))
                .collect();
            format!(
                "p={:.3} old={:?} {}\n  {}\n  {}",
                fitted(s).unwrap(),
                s.old.map(|o| (o * 1000.0).round() / 1000.0),
                parts.join(" "),
                show(s.i),
                show(s.j)
            )
        };
        println!("=== missed same-story pairs of the tuning half (p < 0.5)");
        for s in ranked.iter().filter(|s| s.gold && fitted(s).unwrap() < 0.5) {
            println!("MISSED [{}] {}", labels[s.i].story, fmt(s));
        }
        println!("=== highest-scoring different-story pairs of the tuning half");
        for s in ranked.iter().filter(|s| !s.gold).take(40) {
            println!("WRONG [{}|{}] {}", labels[s.i].story, labels[s.j].story, fmt(s));
        }
    }
}

/// The shipped similarity before the pair model: the words' Dice when the
/// headlines explain each other (coverage ≥ 0.4), never for commentary.
fn words_only(f: &feedwire::cluster::PairFeatures) -> Option<f64> {
    if f.coverage < 0.4 || (f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY) {
        None
    } else {
        Some(f.dice)
    }
}

/// A sweep variant: [`words_only`], with a pair below the threshold lifted
/// to it when `rule` holds (commentary never).
fn lifted(
    f: &feedwire::cluster::PairFeatures,
    rule: impl FnOnce(&feedwire::cluster::PairFeatures) -> bool,
) -> Option<f64> {
    if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY {
        return None;
    }
    let words = words_only(f);
    if words.is_some_and(|v| v >= 0.42) {
        return words;
    }
    if rule(f) {
        return Some(0.42f64.max(f.dice));
    }
    words
}

/// Average-linkage clustering as `Clusterer` does it, over every pair that
/// `score` gives a value (pairs it gives `None` never share a cluster;
/// pairs it is not asked about count 0). Returns a group number per item.
fn simulate(
    n: usize,
    score: &dyn Fn(usize, usize) -> Option<f64>,
    candidates: &[(usize, usize)],
    t: f64,
) -> Vec<usize> {
    let mut group: Vec<usize> = (0..n).collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut cache: std::collections::HashMap<(usize, usize), Option<f64>> = Default::default();
    let mut s = |i: usize, j: usize| -> Option<f64> {
        let k = (i.min(j), i.max(j));
        *cache.entry(k).or_insert_with(|| score(k.0, k.1))
    };
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        let mut seen = std::collections::HashSet::new();
        for &(i, j) in candidates {
            let (a, b) = (group[i], group[j]);
            if a == b || !seen.insert((a.min(b), a.max(b))) {
                continue;
            }
            let mut sum = 0.0;
            let mut ok = true;
            for &x in &members[a] {
                for &y in &members[b] {
                    match s(x, y) {
                        Some(v) => sum += v,
                        None => ok = false,
                    }
                }
            }
            if !ok {
                continue;
            }
            let avg = sum / (members[a].len() * members[b].len()) as f64;
            if avg >= t && best.is_none_or(|(v, _, _)| avg > v) {
                best = Some((avg, a.min(b), a.max(b)));
            }
        }
        let Some((_, a, b)) = best else { break };
        let moved = std::mem::take(&mut members[b]);
        for &x in &moved {
            group[x] = a;
        }
        members[a].extend(moved);
    }
    group
}

/// `export`: one JSON line per pair of the real set (both halves) and of the
/// written set, for scoring pairs with other tools (Run 22 scored them with
/// sentence embeddings). Nothing is printed but the lines.
///
/// Every pair that passes the hard rules (language, outlet, window, places)
/// is a line, with `block` telling why `cluster_fit`'s samples leave it out
/// (`commentary`, `coverage`, `no shared word`; empty for a sample), its
/// features as the other modes print them (`dice`, `coverage`, `p` the
/// shipped pair model, `agreement` the rare-word agreement, `hours`,
/// `similarity` the shipped edge or null), and two verdicts of the shipped
/// clustering (`Clusterer` with the default settings over the whole set in
/// order): `merged` (one cluster) and `taken` (the other item's cluster
/// already holds a report of this item's outlet, so no similarity of this
/// pair could join it; see `misses`). Same-story pairs of two outlets that a
/// hard rule keeps apart are lines too (`block` the rule, no features), so
/// the lines with `gold` are every same-story pair the scores count. Items
/// are given as feedwire parsed them: title and summary as text.
fn export(labels: &[Label], items: &[Item], outlets: &Outlets, idf: &Idf, table: &PairTable) {
    let window = DEFAULT_WINDOW;
    let text = |it: &Item| -> String {
        it.summary
            .as_deref()
            .map(feedwire::select::html_to_text)
            .unwrap_or_default()
    };
    let shipped_ids = |c: &Clusterer, items: &[Item]| -> Vec<feedwire::cluster::ClusterId> {
        items.iter().map(|it| c.cluster_of(&it.key).unwrap().id).collect()
    };
    let taken = |ids: &[feedwire::cluster::ClusterId], outlet: &[Option<String>], i: usize, j: usize| {
        (0..ids.len()).any(|k| {
            (k != i && ids[k] == ids[j] && outlet[k] == outlet[i])
                || (k != j && ids[k] == ids[i] && outlet[k] == outlet[j])
        })
    };
    // One line; `f` is None for a pair a hard rule keeps apart.
    #[allow(clippy::too_many_arguments)]
    let line = |set: &str,
                split: &str,
                (a, b): (&Item, &Item),
                (oa, ob): (&str, &str),
                gold: bool,
                merged: bool,
                taken: bool,
                f: Option<&feedwire::cluster::PairFeatures>,
                shares_word: bool,
                block: &str,
                similarity: Option<f64>| {
        let v = serde_json::json!({
            "set": set,
            "split": split,
            "a": {"link": a.link, "outlet": oa, "lang": a.language, "title": a.title, "summary": text(a), "date": a.date},
            "b": {"link": b.link, "outlet": ob, "lang": b.language, "title": b.title, "summary": text(b), "date": b.date},
            "gold": gold,
            "merged": merged,
            "taken": taken,
            "shares_word": shares_word,
            "block": block,
            "dice": f.map(|f| f.dice),
            "coverage": f.map(|f| f.coverage),
            "p": f.map(|f| model_score(&f.values)),
            "agreement": f.map(|f| f.rare_cover),
            "anchored": f.map(|f| f.anchored),
            "commentary": f.map(|f| f.commentary),
            "hours": f.map(|f| f.gap_hours),
            "similarity": similarity,
        });
        println!("{v}");
    };
    let why = |f: &feedwire::cluster::PairFeatures, shares: bool| -> &'static str {
        if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY {
            "commentary"
        } else if f.coverage < MIN_MODEL_COVERAGE {
            "coverage"
        } else if !shares {
            "no shared word"
        } else {
            ""
        }
    };

    // Every pair of one set: a line for each that passes the hard rules,
    // and for each same-story pair a hard rule keeps apart.
    #[allow(clippy::too_many_arguments)]
    let pairs = |set: &str,
                 items: &[Item],
                 table: &PairTable,
                 c: &Clusterer,
                 outlet: &[Option<String>],
                 gold_of: &dyn Fn(usize, usize) -> bool,
                 split_of: &dyn Fn(usize, usize) -> &'static str| {
        let ids = shipped_ids(c, items);
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                let (gold, split) = (gold_of(i, j), split_of(i, j));
                let pair = (&items[i], &items[j]);
                let names = (
                    outlet[i].as_deref().unwrap_or(""),
                    outlet[j].as_deref().unwrap_or(""),
                );
                let (merged, tk) = (ids[i] == ids[j], taken(&ids, outlet, i, j));
                let (f, shares, block, sim) = match table.features(i, j, window) {
                    Ok(f) => {
                        let shares = table.share_a_word(i, j);
                        let block = why(&f, shares).to_owned();
                        (Some(f), shares, block, table.similarity(i, j, window))
                    }
                    Err(e) if gold => (None, false, format!("{e:?}"), None),
                    Err(_) => continue,
                };
                line(
                    set,
                    split,
                    pair,
                    names,
                    gold,
                    merged,
                    tk,
                    f.as_ref(),
                    shares,
                    &block,
                    sim,
                );
            }
        }
    };

    let mut c = Clusterer::with_outlets(ClusterConfig::default(), outlets.clone()).with_idf(idf.clone());
    for it in items {
        c.add(it);
    }
    let outlet: Vec<Option<String>> = items.iter().map(|it| outlets.of(it)).collect();
    let gold = |i: usize, j: usize| {
        let (a, b) = (&labels[i], &labels[j]);
        a.story != "-" && a.story == b.story && outlet[i] != outlet[j]
    };
    let split = |i: usize, j: usize| match (labels[i].test_half, labels[j].test_half) {
        (false, false) => "tuning",
        (true, true) => "test",
        _ => "across",
    };
    pairs("real", items, table, &c, &outlet, &gold, &split);

    let (w_items, w_gold) = written();
    let w_idf = Idf::from_items(&w_items);
    let w_outlets = Outlets::new();
    let w_table = PairTable::new(&w_items, &w_outlets, Some(&w_idf));
    let mut c = Clusterer::new(ClusterConfig::default()).with_idf(w_idf.clone());
    for it in &w_items {
        c.add(it);
    }
    let outlet: Vec<Option<String>> = w_items
        .iter()
        .map(|it| Some(it.sources[0].feed_name.clone()))
        .collect();
    let gold = |i: usize, j: usize| w_gold[i] == w_gold[j];
    pairs("written", &w_items, &w_table, &c, &outlet, &gold, &|_, _| {
        "written"
    });
}

/// The ceiling of pair recall under the rules that no similarity can
/// change, per half: `[same-story pairs, of them more than the window
/// apart, in different languages, with conflicting places, most pairs any
/// clustering can merge]`. Same-story pairs count as the scores count
/// them (two outlets). A cluster never holds a pair that the outlet,
/// window or language rule keeps apart, so a story with two reports of
/// one outlet gives at most one of them to its cluster: the best is found
/// by trying every partition of each story into such clusters (stories
/// are small: at most a handful of items).
fn reachable(
    labels: &[Label],
    items: &[Item],
    outlets: &Outlets,
    table: &PairTable,
    window: std::time::Duration,
) -> [[usize; 5]; 2] {
    use std::collections::BTreeMap;
    let mut stories: BTreeMap<(&str, bool), Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        if l.story != "-" {
            stories
                .entry((l.story.as_str(), l.test_half))
                .or_default()
                .push(i);
        }
    }
    let mut out = [[0usize; 5]; 2];
    for ((_, test), members) in stories {
        let n = members.len();
        assert!(n <= 16, "a story of {n} items");
        let h = usize::from(test);
        // ok[a] = bit mask of the members `a` may share a cluster with.
        let mut ok = vec![0u32; n];
        for a in 0..n {
            for b in a + 1..n {
                let (i, j) = (members[a], members[b]);
                let block = table.features(i, j, window).err();
                // One outlet's two reports are no same-story pair in the
                // scores; the others are.
                if outlets.of(&items[i]) != outlets.of(&items[j]) {
                    out[h][0] += 1;
                    match block {
                        Some(Block::Window) => out[h][1] += 1,
                        Some(Block::Language) => out[h][2] += 1,
                        Some(Block::Places) => out[h][3] += 1,
                        _ => {}
                    }
                }
                if !matches!(block, Some(Block::Outlet | Block::Window | Block::Language)) {
                    ok[a] |= 1 << b;
                    ok[b] |= 1 << a;
                }
            }
        }
        // best[mask]: most pairs from a partition of `mask` into clusters
        // of mutually allowed members.
        let full = (1u32 << n) - 1;
        let mut best = vec![0usize; 1 << n];
        for mask in 1..=full {
            let low = mask.trailing_zeros() as usize;
            let rest = mask & !(1 << low) & ok[low];
            // Every subset of `rest` joined to `low` that is a clique.
            let mut sub = rest;
            let mut top = 0;
            loop {
                let clique = (0..n)
                    .filter(|&b| sub & (1 << b) != 0)
                    .all(|b| (sub & !(1 << b)) & !ok[b] == 0);
                if clique {
                    let k = sub.count_ones() as usize + 1;
                    top = top.max(k * (k - 1) / 2 + best[((mask & !(1 << low)) & !sub) as usize]);
                }
                if sub == 0 {
                    break;
                }
                sub = (sub - 1) & rest;
            }
            best[mask as usize] = top;
        }
        out[h][4] += best[full as usize];
    }
    out
}

/// Pair precision and recall of a clustering: [right, wrong, missed] per
/// half (a wrong pair counts against each half it touches).
fn score_real(groups: &[usize], labels: &[Label], items: &[Item], outlets: &Outlets) -> [[usize; 3]; 2] {
    let mut n = [[0usize; 3]; 2];
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let merged = groups[i] == groups[j];
            let gold = labels[i].story != "-"
                && labels[i].story == labels[j].story
                && outlets.of(&items[i]) != outlets.of(&items[j]);
            if !merged && !gold {
                continue;
            }
            tally(&mut n, &labels[i], &labels[j], gold, merged);
        }
    }
    n
}

fn score_written(groups: &[usize], gold: &[(String, String)]) -> [usize; 3] {
    let mut n = [0usize; 3];
    for i in 0..gold.len() {
        for j in i + 1..gold.len() {
            match (gold[i] == gold[j], groups[i] == groups[j]) {
                (true, true) => n[0] += 1,
                (false, true) => n[1] += 1,
                (true, false) => n[2] += 1,
                _ => {}
            }
        }
    }
    n
}

fn prf(n: [usize; 3]) -> String {
    let [r, w, m] = n;
    format!(
        "P {:.3} R {:.3} ({r} right, {w} wrong, {m} missed)",
        r as f64 / (r + w).max(1) as f64,
        r as f64 / (r + m).max(1) as f64
    )
}

/// Counts one pair into each half it touches: `[merged and same story,
/// merged but different, same story but not merged]`.
fn tally(n: &mut [[usize; 3]; 2], a: &Label, b: &Label, gold: bool, merged: bool) {
    for (h, counts) in n.iter_mut().enumerate() {
        let on = |l: &Label| l.test_half == (h == 1);
        if !on(a) && !on(b) {
            continue;
        }
        match (gold, merged) {
            (true, true) => counts[0] += 1,
            (false, true) => counts[1] += 1,
            (true, false) => counts[2] += 1,
            _ => {}
        }
    }
}

/// What a join rule reads of one pair.
#[derive(Debug, Clone, Copy)]
struct View {
    /// The shipped similarity (`None`: never in one cluster today).
    sim: Option<f64>,
    /// A hard rule (language, outlet, window, places) or commentary
    /// keeps the pair apart whatever the rule.
    blocked: bool,
    dice: f64,
    coverage: f64,
    /// The pair model's probability.
    p: f64,
}

/// A logistic pair model: the shipped one or one just fit.
#[derive(Clone, Copy)]
struct Model {
    bias: f64,
    weights: [f64; FEATURES],
}

impl Model {
    fn p(&self, x: &[f64; FEATURES]) -> f64 {
        sigmoid(self.bias + (0..FEATURES).map(|k| self.weights[k] * x[k]).sum::<f64>())
    }
}

/// The shipped similarity (`cluster::similarity_probes`) with a given
/// pair model: the weighted Dice when the headlines explain each other,
/// lifted to the threshold by the anchored model rule or by summary
/// agreement.
fn edge(f: &feedwire::cluster::PairFeatures, m: Model) -> Option<f64> {
    use feedwire::cluster::{
        rare_words_agree, summary_agrees, DEFAULT_THRESHOLD, MIN_HEADLINE_COVERAGE, MODEL_MIN_PROBABILITY,
        NEAR_MIN_PROBABILITY, SUMMARY_MIN_PROBABILITY,
    };
    if f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY {
        return None;
    }
    let words = (f.coverage >= MIN_HEADLINE_COVERAGE).then_some(f.dice);
    if words.is_some_and(|s| s >= DEFAULT_THRESHOLD) || f.coverage < MIN_MODEL_COVERAGE {
        return words;
    }
    let p = m.p(&f.values);
    if f.anchored && p >= MODEL_MIN_PROBABILITY {
        return Some(f.dice.max(DEFAULT_THRESHOLD));
    }
    if summary_agrees(f) && p >= SUMMARY_MIN_PROBABILITY {
        return Some(f.dice.max(DEFAULT_THRESHOLD));
    }
    if rare_words_agree(f) && p >= NEAR_MIN_PROBABILITY {
        return Some(f.dice.max(DEFAULT_THRESHOLD));
    }
    words
}

fn view(table: &PairTable, i: usize, j: usize, window: std::time::Duration, m: Model) -> View {
    match table.features(i, j, window) {
        Ok(f) => View {
            sim: edge(&f, m),
            blocked: f.commentary && f.dice < COMMENTARY_MIN_SIMILARITY,
            dice: f.dice,
            coverage: f.coverage,
            p: m.p(&f.values),
        },
        Err(_) => View {
            sim: None,
            blocked: true,
            dice: 0.0,
            coverage: 0.0,
            p: 0.0,
        },
    }
}

struct JoinRule {
    /// No cross pair may contradict (blocked, Dice below `min_dice`,
    /// coverage below `min_coverage`) instead of every cross pair scoring
    /// (the shipped rule); the strongest link ranks the merges.
    best: bool,
    min_dice: f64,
    min_coverage: f64,
    /// With `best`: rank by the average over cross pairs (a pair without a
    /// similarity counts its Dice) instead.
    by_average: bool,
    /// With `by_average`: average over the pairs with a similarity only
    /// (`min_average` is then the least share of such pairs).
    scored_only: bool,
    /// With `best`: least average over cross pairs (as `by_average`).
    min_average: f64,
    /// With `best`: a pair without a similarity contradicts when the pair
    /// model gives it less than this.
    min_p: f64,
}

/// Agglomeration over `edges` under a join rule; returns a group number per
/// item.
fn simulate_join(
    n: usize,
    pair: &dyn Fn(usize, usize) -> View,
    edges: &[(usize, usize)],
    t: f64,
    rule: &JoinRule,
) -> Vec<usize> {
    let mut group: Vec<usize> = (0..n).collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut cache: std::collections::HashMap<(usize, usize), View> = Default::default();
    let mut s = |i: usize, j: usize| -> View {
        let k = (i.min(j), i.max(j));
        *cache.entry(k).or_insert_with(|| pair(k.0, k.1))
    };
    loop {
        // (best, average, a, b)
        let mut chosen: Option<(f64, f64, usize, usize)> = None;
        let mut seen = std::collections::HashSet::new();
        for &(i, j) in edges {
            let (a, b) = (group[i].min(group[j]), group[i].max(group[j]));
            if a == b || !seen.insert((a, b)) {
                continue;
            }
            let (mut sum, mut best, mut ok, mut scored) = (0.0, 0.0f64, true, 0usize);
            for &x in &members[a] {
                for &y in &members[b] {
                    let v = s(x, y);
                    if rule.best {
                        if v.blocked
                            || v.dice < rule.min_dice
                            || v.coverage < rule.min_coverage
                            || (v.sim.is_none() && v.p < rule.min_p)
                        {
                            ok = false;
                        }
                        if rule.scored_only {
                            if let Some(x) = v.sim {
                                sum += x;
                                scored += 1;
                            }
                        } else {
                            sum += v.sim.unwrap_or(v.dice);
                        }
                        best = best.max(v.sim.unwrap_or(0.0));
                    } else {
                        match v.sim {
                            Some(x) => {
                                sum += x;
                                best = best.max(x);
                            }
                            None => ok = false,
                        }
                    }
                }
            }
            if !ok {
                continue;
            }
            let pairs = members[a].len() * members[b].len();
            let avg = if rule.scored_only {
                if (scored as f64) < rule.min_average * pairs as f64 {
                    continue;
                }
                sum / scored.max(1) as f64
            } else {
                sum / pairs as f64
            };
            let key = if rule.best && !rule.by_average {
                (best, avg)
            } else {
                (avg, best)
            };
            if key.0 < t || (rule.best && (best < t || (!rule.scored_only && avg < rule.min_average))) {
                continue;
            }
            if chosen.is_none_or(|(k0, k1, _, _)| key.0 > k0 || (key.0 == k0 && key.1 > k1)) {
                chosen = Some((key.0, key.1, a, b));
            }
        }
        let Some((_, _, a, b)) = chosen else { break };
        let moved = std::mem::take(&mut members[b]);
        for &x in &moved {
            group[x] = a;
        }
        members[a].extend(moved);
    }
    group
}
