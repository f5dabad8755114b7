//! Hashing, MinHash and LSH: the candidate keys an item is filed under, so
//! that an add compares a bounded number of items.

use super::features::{Doc, Script};
use super::model::rare_df;
use super::{
    BANDS, BUCKET_CAP, MAX_ANCHOR_KEYS, MAX_WIDE_ANCHORS, MAX_WIDE_ANCHOR_KEYS, MAX_WIDE_HEADLINE_ANCHORS,
    ROWS,
};

// ---------------------------------------------------------------------------
// Hashing, MinHash, LSH

/// FNV-1a, 64 bits: stable across platforms and Rust versions.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The splitmix64 finaliser: a fixed, well-mixing permutation of u64.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seed of the i-th MinHash function.
pub(super) fn seed(i: usize) -> u64 {
    mix((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Candidate keys of an item's rare words: the forms of its headline's
/// rare words (at most [`MAX_ANCHOR_KEYS`]), so that two headlines sharing
/// one are compared even when their word sets are too different for MinHash
/// to pair them, since the pair model may join them (see
/// [`MODEL_MIN_PROBABILITY`]); then the forms of its [`MAX_WIDE_ANCHORS`]
/// rarest words of headline or summary and its
/// [`MAX_WIDE_HEADLINE_ANCHORS`] rarest headline words that other items
/// hold too (at most [`wide_df`] of them). The second set finds same-story pairs that MinHash
/// misses because one summary is long and the other short, and whose
/// shared headline words are too common to be anchors (a place, a name
/// in the news all week): on the real set 4 same-story pairs above the
/// threshold were never compared before them. The two share one key space,
/// so a headline's anchor meets the same word in another item's summary.
///
/// [`MODEL_MIN_PROBABILITY`]: super::MODEL_MIN_PROBABILITY
pub(super) fn anchor_keys(doc: &Doc, script: Script) -> Vec<u64> {
    let mut keys = headline_anchor_keys(doc, script);
    let wide = wide_anchor_keys(doc, script);
    keys.extend(wide.into_iter().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
    keys
}

fn anchor_salt(script: Script) -> u64 {
    mix(fnv1a(format!("anchor {script:?}").as_bytes()))
}

/// The keys of the headline's rare words (sorted).
pub(super) fn headline_anchor_keys(doc: &Doc, script: Script) -> Vec<u64> {
    let rare = rare_df(doc.idf_items);
    let salt = anchor_salt(script);
    let mut keys: Vec<u64> = doc.words[..doc.title_words]
        .iter()
        .filter(|w| w.df <= rare)
        .flat_map(|w| doc.word(w).iter().map(|&f| mix(f ^ salt)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(MAX_ANCHOR_KEYS);
    keys
}

/// The keys of the item's rarest shared words (sorted). A word only this
/// item holds (df 1, also every word without an [`Idf`]) cannot pair it
/// with anything: it gives no key.
///
/// [`Idf`]: super::Idf
pub(super) fn wide_anchor_keys(doc: &Doc, script: Script) -> Vec<u64> {
    let wide = wide_df(doc.idf_items);
    let salt = anchor_salt(script);
    let mut shared: Vec<(u32, bool, u64, usize)> = doc
        .words
        .iter()
        .enumerate()
        .filter(|(_, w)| (2..=wide).contains(&w.df))
        .map(|(i, w)| {
            let first = doc.word(w).first().copied().unwrap_or(0);
            // Rarest first; headline words before summary words; then a
            // fixed order, so the choice does not depend on word order.
            (w.df, i >= doc.title_words, first, i)
        })
        .collect();
    shared.sort_unstable();
    // The rarest words of the whole item, then the rarest of its headline
    // (a long summary's rare words can crowd out the headline's, which
    // the other outlet's headline most likely repeats).
    let rarest = shared.iter().take(MAX_WIDE_ANCHORS);
    let headline = shared.iter().filter(|s| !s.1).take(MAX_WIDE_HEADLINE_ANCHORS);
    let mut keys: Vec<u64> = rarest
        .chain(headline)
        .flat_map(|&(_, _, _, i)| doc.word(&doc.words[i]).iter().map(|&f| mix(f ^ salt)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(MAX_WIDE_ANCHOR_KEYS);
    keys
}

/// Most items a word may be held by (in the [`Idf`]) and still give a
/// wide anchor key: one in a hundred, at least [`BUCKET_CAP`]; a word that
/// common pairs too many unrelated items, and its bucket would keep only
/// the newest of them anyway.
///
/// [`Idf`]: super::Idf
pub(super) fn wide_df(n: usize) -> u32 {
    u32::try_from(n / 100).unwrap_or(u32::MAX).max(BUCKET_CAP as u32)
}

/// One LSH key per band; none for a document without words.
pub(super) fn band_keys(forms: &[u64], script: Script) -> Vec<u64> {
    if forms.is_empty() {
        return Vec::new();
    }
    let lang_hash = fnv1a(format!("{script:?}").as_bytes());
    let mut keys = Vec::with_capacity(BANDS);
    for band in 0..BANDS {
        let mut key = mix(lang_hash ^ (band as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for row in 0..ROWS {
            let s = seed(band * ROWS + row);
            let min = forms.iter().map(|&f| mix(f ^ s)).min().unwrap_or(0);
            key = mix(key ^ min);
        }
        keys.push(key);
    }
    keys
}
