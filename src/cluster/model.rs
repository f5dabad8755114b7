//! The pair model: features of two items ([`PairFeatures`]) and the
//! logistic regression fit on the real tuning half by
//! `examples/cluster_fit.rs` ([`MODEL_BIAS`], [`MODEL_WEIGHTS`]). Clustering
//! asks it only for pairs whose headlines share a rare word (see
//! `similarity_probes` in the parent module); the fit and the error
//! analysis read every pair through [`PairTable`].

use std::time::Duration;

use super::features::{language, places_conflict, Doc, Lang};
use super::lsh::fnv1a;
use super::{similarity_probes, Idf, Outlets, Probe};
use crate::item::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// Different scripts or declared languages.
    Language,
    /// One outlet.
    Outlet,
    /// Further apart in date than the window.
    Window,
    /// Each headline names a place the other item never mentions.
    Places,
}

/// Number of pair features (see [`PairFeatures`]).
pub const FEATURES: usize = 11;

/// Names of the pair features, in order.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "dice",
    "coverage",
    "min_coverage",
    "title_dice",
    "summary_dice",
    "both_summaries",
    "rare_shared",
    "rare_title_shared",
    "title_grams",
    "gap_days",
    "numbers_conflict",
];

/// Bias of the pair model, fit by `examples/cluster_fit.rs` on the tuning
/// half of the real labelled set. Not used by [`super::similarity`]: it raises
/// recall on real feeds but loses precision on the written set (see the
/// module documentation).
pub const MODEL_BIAS: f64 = -7.1235;

/// Weights of the pair model on the features of [`FEATURE_NAMES`].
pub const MODEL_WEIGHTS: [f64; FEATURES] = [
    16.1254, // dice
    2.1557,  // coverage
    2.2248,  // min_coverage
    3.9103,  // title_dice
    7.6720,  // summary_dice
    -1.6837, // both_summaries
    2.6525,  // rare_shared
    0.4819,  // rare_title_shared
    -1.1638, // title_grams
    -1.5967, // gap_days
    -0.6086, // numbers_conflict
];

/// The pair model: the probability that two items are one story, from
/// their features (logistic regression, [`MODEL_BIAS`] and
/// [`MODEL_WEIGHTS`]).
pub fn model_score(values: &[f64; FEATURES]) -> f64 {
    let z = MODEL_BIAS + values.iter().zip(MODEL_WEIGHTS).map(|(x, w)| x * w).sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

/// What two items share, as numbers for the pair model.
#[derive(Clone, Debug, PartialEq)]
pub struct PairFeatures {
    /// The features named by [`FEATURE_NAMES`].
    pub values: [f64; FEATURES],
    /// Weighted Dice coefficient of all words (headline words heavier).
    pub dice: f64,
    /// Average share of each headline explained by the other item.
    pub coverage: f64,
    /// One of the headlines reads as commentary.
    pub commentary: bool,
    /// The two headlines share a rare word (held by at most one item in
    /// 500 of the window, at least 2): a name or term that anchors the
    /// event, not the day's subject.
    pub anchored: bool,
    /// The greatest rarity of a word both headlines have (0 to 1; see
    /// `Doc::rarity`): 0 when they share no word.
    pub title_anchor: f64,
    /// Summary agreement: the rarity of each summary's words found in the
    /// other summary, averaged over both directions, leaving out words
    /// both headlines have (see `Doc::summary_agreement`).
    pub summary_shared: f64,
    /// `summary_shared` as a share of the shorter summary's rarity (0 to 1).
    pub summary_overlap: f64,
    /// The items share a rare word (held by at most one item in 500 of the
    /// window, at least 2), in headline or summary.
    pub shares_rare: bool,
    /// Rare-word agreement: the share of the item's fairly rare words
    /// (rarity at least [`RARE_COVER_MIN_RARITY`], headline and summary,
    /// each counting its rarity) found anywhere in the other item, for the
    /// item with fewer of them (0 to 1; 0 when it has none).
    pub rare_cover: f64,
    /// Hours between the two items' dates.
    pub gap_hours: f64,
}

/// Least rarity (see `Doc::rarity`) of a word for
/// [`PairFeatures::rare_cover`]: the bar of [`SUMMARY_MIN_ANCHOR`](super::SUMMARY_MIN_ANCHOR),
/// a word of at most one item in `sqrt(n)` of the window.
pub const RARE_COVER_MIN_RARITY: f64 = 0.5;

/// Most items holding a word for it to count as rare in a window of `n`
/// items: at least 2, or one item in 500.
pub(super) fn rare_df(n: usize) -> u32 {
    u32::try_from(n / 500).unwrap_or(u32::MAX).max(2)
}

/// The hard rules (language, outlet, window, places), then the weighted
/// Dice coefficient, each headline's coverage by the other item, and the
/// date gap: all [`similarity_probes`] needs for most pairs.
pub(super) fn pair_basics(a: &Probe<'_>, b: &Probe<'_>, window: i64) -> Result<(f64, f64, f64, u64), Block> {
    if !a.lang.compatible(b.lang) {
        return Err(Block::Language);
    }
    if let (Some(x), Some(y)) = (a.outlet, b.outlet) {
        if x == y {
            return Err(Block::Outlet);
        }
    }
    let gap = a.date.abs_diff(b.date);
    if gap > window.unsigned_abs() {
        return Err(Block::Window);
    }
    if places_conflict(a.doc, b.doc) {
        return Err(Block::Places);
    }
    let (da, db) = (a.doc, b.doc);
    let ca = da.headline_coverage(db);
    let cb = db.headline_coverage(da);
    let total = da.total + db.total;
    let dice = if total <= 0.0 {
        0.0
    } else {
        ((da.matched_weight(db) + db.matched_weight(da)) / total).clamp(0.0, 1.0)
    };
    Ok((dice, ca, cb, gap))
}

pub(super) fn pair_features(a: &Probe<'_>, b: &Probe<'_>, window: i64) -> Result<PairFeatures, Block> {
    let (dice, ca, cb, gap) = pair_basics(a, b, window)?;
    let (da, db) = (a.doc, b.doc);
    let title_total = da.title_total + db.title_total;
    let title_dice = if title_total <= 0.0 {
        0.0
    } else {
        (da.title_matched(&db.title_forms()) + db.title_matched(&da.title_forms())) / title_total
    };
    let (sa, sb) = (da.summary_total(), db.summary_total());
    let both_summaries = sa > 0.0 && sb > 0.0;
    let summary_dice = if both_summaries {
        (da.summary_matched(&db.summary_forms()) + db.summary_matched(&da.summary_forms())) / (sa + sb)
    } else {
        0.0
    };
    let rare = rare_df(da.idf_items.max(db.idf_items));
    let rare_shared = (da.rare_shared(db, rare, false) + db.rare_shared(da, rare, false)) as f64 / 2.0;
    let rare_title = (da.rare_shared(db, rare, true) + db.rare_shared(da, rare, true)) as f64 / 2.0;
    let numbers_conflict = !da.title_numbers.is_empty()
        && !db.title_numbers.is_empty()
        && !da.title_numbers.iter().any(|n| db.has_form(*n))
        && !db.title_numbers.iter().any(|n| da.has_form(*n));
    let values = [
        dice,
        (ca + cb) / 2.0,
        ca.min(cb),
        title_dice,
        summary_dice,
        f64::from(u8::from(both_summaries)),
        rare_shared.ln_1p(),
        rare_title.min(3.0),
        jaccard(&da.title_grams(), &db.title_grams()),
        gap as f64 / 86_400.0,
        f64::from(u8::from(numbers_conflict)),
    ];
    let (summary_shared, summary_overlap) = summary_agreement(da, db);
    let (fa, ta) = da.rare_containment(db, RARE_COVER_MIN_RARITY);
    let (fb, tb) = db.rare_containment(da, RARE_COVER_MIN_RARITY);
    let (found, total) = if ta <= tb { (fa, ta) } else { (fb, tb) };
    let rare_cover = if total > 0.0 { found / total } else { 0.0 };
    Ok(PairFeatures {
        shares_rare: rare_shared > 0.0,
        rare_cover,
        gap_hours: gap as f64 / 3600.0,
        values,
        dice,
        coverage: (ca + cb) / 2.0,
        commentary: da.commentary || db.commentary,
        anchored: rare_title > 0.0,
        title_anchor: da.title_anchor(db).max(db.title_anchor(da)),
        summary_shared,
        summary_overlap,
    })
}

/// Summary agreement of two items in both directions: the rarity shared,
/// averaged, and its share of the shorter summary's (see
/// `Doc::summary_agreement`).
pub(super) fn summary_agreement(da: &Doc, db: &Doc) -> (f64, f64) {
    let (ab, ta) = da.summary_agreement(db);
    let (ba, tb) = db.summary_agreement(da);
    let shared = (ab + ba) / 2.0;
    let shorter = ta.min(tb);
    let overlap = if shorter > 0.0 {
        (shared / shorter).min(1.0)
    } else {
        0.0
    };
    (shared, overlap)
}

/// Jaccard similarity of two sorted, deduplicated lists.
pub(super) fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

/// Hashed character trigrams of a headline's words (each word padded with
/// a space at both ends), sorted and deduplicated.
pub(super) fn char_grams(words: &[&str]) -> Vec<u64> {
    let mut grams = Vec::new();
    for w in words {
        let chars: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        for g in chars.windows(3) {
            let s: String = g.iter().collect();
            grams.push(fnv1a(s.as_bytes()));
        }
    }
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Items prepared once for the pair features of many pairs: what the model
/// fit (`examples/cluster_fit.rs`) and the error analysis read.
pub struct PairTable {
    entries: Vec<(Option<String>, Lang, i64, Doc)>,
}

impl PairTable {
    /// Prepares `items`, with words weighed by `idf` as [`super::group`] does.
    pub fn new(items: &[Item], outlets: &Outlets, idf: Option<&Idf>) -> PairTable {
        let entries = items
            .iter()
            .map(|it| {
                let mut doc = Doc::new(it);
                if let Some(idf) = idf {
                    doc.reweight(idf);
                }
                (outlets.of(it), language(it, &doc), it.date, doc)
            })
            .collect();
        PairTable { entries }
    }

    pub(super) fn probe(&self, i: usize) -> Probe<'_> {
        let (outlet, lang, date, doc) = &self.entries[i];
        Probe {
            outlet: outlet.as_deref(),
            lang,
            date: *date,
            doc,
        }
    }

    /// The features of items `i` and `j`, or why they may never be one story.
    pub fn features(&self, i: usize, j: usize, window: Duration) -> Result<PairFeatures, Block> {
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        pair_features(&self.probe(i), &self.probe(j), window)
    }

    /// The similarity clustering uses for items `i` and `j`.
    pub fn similarity(&self, i: usize, j: usize, window: Duration) -> Option<f64> {
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        similarity_probes(&self.probe(i), &self.probe(j), window)
    }

    /// Whether items `i` and `j` share a content word.
    pub fn share_a_word(&self, i: usize, j: usize) -> bool {
        let (a, b) = (&self.entries[i].3, &self.entries[j].3);
        a.words.iter().any(|w| b.matches(a.word(w)))
    }
}
