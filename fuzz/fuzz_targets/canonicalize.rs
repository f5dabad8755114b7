//! Link canonicalisation: `ItemKey::from_link` and `clean_link` never panic
//! on any URL the `url` crate accepts, and for http(s) links cleaning is
//! idempotent and does not change the key.
//!
//! Inputs that trigger an already reported bug are only checked for panics,
//! so that a run explores further instead of stopping on it; set
//! `FEEDWIRE_FUZZ_KNOWN_BUGS=1` to assert on them too (see `fuzz/README.md`).

#![no_main]

use std::sync::OnceLock;

use feedwire::item::{clean_link, is_web, ItemKey};
use libfuzzer_sys::fuzz_target;
use url::Url;

fn check_known_bugs() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FEEDWIRE_FUZZ_KNOWN_BUGS").is_some_and(|v| v == "1"))
}

/// Known bug (`item::tests::lone_percent_before_decoded_escape`): a `%` not
/// followed by two hex digits, in the path or query, can combine with
/// decoded escapes into a new escape.
fn has_lone_percent(url: &Url) -> bool {
    let lone = |s: &str| {
        let b = s.as_bytes();
        b.iter().enumerate().any(|(i, &c)| {
            c == b'%' && !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
        })
    };
    lone(url.path()) || url.query().is_some_and(lone)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = Url::parse(s) else {
        return;
    };
    let key = ItemKey::from_link(&url);
    let clean = clean_link(&url);
    if !is_web(&url) || (has_lone_percent(&url) && !check_known_bugs()) {
        // Still exercised for panics above.
        let _ = ItemKey::from_link(&clean);
        let _ = clean_link(&clean);
        return;
    }
    assert!(key.as_str().starts_with("//"), "key {key} of {url}");
    assert_eq!(
        clean_link(&clean).as_str(),
        clean.as_str(),
        "cleaning {url} twice"
    );
    assert_eq!(
        ItemKey::from_link(&clean),
        key,
        "key of {url} and of its cleaned link {clean}"
    );
});
