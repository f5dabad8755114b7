//! Hashing, MinHash and LSH: the candidate keys an item is filed under, so
//! that an add compares a bounded number of items.

use super::features::{Doc, Script};
use super::model::rare_df;
use super::{BANDS, MAX_ANCHOR_KEYS, ROWS};

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

/// Candidate keys of a headline's rare words (at most
/// [`MAX_ANCHOR_KEYS`]): two headlines sharing one are compared even when
/// their word sets are too different for MinHash to pair them, since the
/// pair model may join them (see [`MODEL_MIN_PROBABILITY`]).
pub(super) fn anchor_keys(doc: &Doc, script: Script) -> Vec<u64> {
    let rare = rare_df(doc.idf_items);
    let salt = mix(fnv1a(format!("anchor {script:?}").as_bytes()));
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
