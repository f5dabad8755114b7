//! Output names and the URL paths they become, both ways.
//!
//! An `[[output]] name` is served as `/{name}.rss` (and `.atom`, `.json`,
//! `/{name}/clusters.json`), written into self links, WebSub pings and the
//! status page, and used as a file name by `render --out`. Arabic newsrooms
//! name outputs in Arabic (`سياسة`, `أخبار-مصر`), so a name is any run of
//! Unicode letters and digits with `-` and `_`, and this module keeps one
//! name one output wherever it travels:
//!
//! - [`check`] reads it in NFC, so two spellings of one name (`أ` typed as
//!   U+0623 or as alef + hamza above, harakat in either order) are one
//!   output, and refuses what would make a name ambiguous or unsafe in a
//!   path: whitespace, bidi controls and other invisible characters, `/`,
//!   `.`, `%`, and compatibility characters (Arabic presentation forms
//!   copied from a PDF look like the plain letters but are other code
//!   points: another URL and another file for what reads as the same name).
//! - [`url_segment`] percent-encodes it (UTF-8) for every URL we write.
//!   ASCII names are returned as they are, so their URLs are unchanged.
//! - [`from_url_path`] is the way back for the server: it percent-decodes a
//!   request path and puts it in NFC, so a client's `%D8%B3...` and an
//!   already-decoded path, in NFC or NFD, find the output.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// What a URL path segment keeps unescaped: RFC 3986's unreserved
/// characters. Every character a valid ASCII name has is one of them.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Checks an `[[output]] name` and returns it in NFC, or says what is wrong
/// with it (the caller adds file, line and key).
///
/// Allowed: letters and digits of any script (`char::is_alphanumeric`,
/// which counts Arabic-Indic digits), `-`, `_`, and combining marks
/// (Arabic harakat, shadda, hamza above) after a letter or digit: `الصحّة`
/// is a real spelling. A mark cannot start a name, where it would have no
/// letter to sit on.
pub fn check(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("output name must not be empty (it becomes a URL path)".into());
    }
    let name = nfc(raw).into_owned();
    let mut previous: Option<char> = None;
    for ch in name.chars() {
        let fits = ch.is_alphanumeric() || ch == '-' || ch == '_';
        let mark = is_combining_mark(ch);
        if mark && !previous.is_some_and(|p| p.is_alphanumeric() || is_combining_mark(p)) {
            return Err(format!(
                "output name must not have the combining mark {} without a letter before it",
                code_point(ch)
            ));
        }
        if !fits && !mark {
            return Err(refusal(ch));
        }
        if is_compatibility(ch) {
            return Err(format!(
                "output name must be written with plain characters: {} is a compatibility form \
                 (a presentation form, ligature or full-width letter) of {:?}",
                code_point(ch),
                std::iter::once(ch).nfkc().collect::<String>()
            ));
        }
        previous = Some(ch);
    }
    Ok(name)
}

/// Why a character that is neither a letter, a digit, `-`, `_` nor a mark
/// is refused.
fn refusal(ch: char) -> String {
    const RULE: &str = "output name must be letters, digits, '-' or '_' (it becomes a URL path)";
    if is_bidi_control(ch) {
        format!(
            "{RULE}: {} is an invisible bidi control; names that look the same must be the same name",
            code_point(ch)
        )
    } else if ch.is_whitespace() {
        format!("{RULE}: whitespace ({}) is not allowed", code_point(ch))
    } else if ch.is_control() || is_format(ch) {
        format!("{RULE}: {} is an invisible character", code_point(ch))
    } else {
        format!("{RULE}: {:?} ({}) is not allowed", ch, code_point(ch))
    }
}

fn code_point(ch: char) -> String {
    format!("U+{:04X}", ch as u32)
}

/// Characters that change the display order of text around them (Unicode
/// Bidi_Control): ALM, LRM, RLM, the embeddings and overrides, the isolates.
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible format characters outside the bidi controls: zero-width
/// space and joiners, word joiner, BOM, soft hyphen, tag characters.
fn is_format(ch: char) -> bool {
    matches!(
        ch,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}'
    )
}

/// A character with a compatibility decomposition (its NFKD differs from
/// its NFD): Arabic presentation forms (U+FB50–U+FDFF, U+FE70–U+FEFF),
/// ligatures such as U+FDF2, full-width and superscript forms.
fn is_compatibility(ch: char) -> bool {
    !std::iter::once(ch).nfkd().eq(std::iter::once(ch).nfd())
}

/// `s` in NFC, borrowed when it already is (the quick check says yes).
fn nfc(s: &str) -> Cow<'_, str> {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// The name as one URL path segment: percent-encoded UTF-8 (`سياسة` →
/// `%D8%B3%D9%8A%D8%A7%D8%B3%D8%A9`); an ASCII name as it is.
pub fn url_segment(name: &str) -> Cow<'_, str> {
    utf8_percent_encode(name, SEGMENT).into()
}

/// The published document a request path names: the path without its
/// leading `/`, percent-decoded as UTF-8 and put in NFC. `None` when the
/// path is not valid percent-encoding (a `%` not followed by two hex
/// digits) or does not decode to UTF-8: such a path names no document.
pub fn from_url_path(path: &str) -> Option<Cow<'_, str>> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if !path.contains('%') {
        return Some(nfc(path));
    }
    let bytes = path.as_bytes();
    let valid = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| {
            bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        });
    if !valid {
        return None;
    }
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    Some(Cow::Owned(nfc(&decoded).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_are_kept_and_their_urls_unchanged() {
        for name in [
            "politics",
            "Politics",
            "world-news",
            "top_10",
            "2026",
            "a",
            "-_-",
            "ar-EG_v2",
        ] {
            assert_eq!(check(name).as_deref(), Ok(name));
            assert_eq!(url_segment(name), name);
            assert!(matches!(url_segment(name), Cow::Borrowed(_)));
            assert_eq!(
                from_url_path(&format!("/{name}.rss")).as_deref(),
                Some(&*format!("{name}.rss"))
            );
        }
    }

    #[test]
    fn arabic_names_are_read_in_nfc() {
        assert_eq!(check("سياسة").as_deref(), Ok("سياسة"));
        // أ typed as alef + hamza above (NFD) is U+0623.
        let nfd = "\u{0627}\u{0654}خبار-مصر";
        assert_eq!(check(nfd).as_deref(), Ok("أخبار-مصر"));
        // Harakat in either order are one spelling: shadda + fatha.
        let a = check("الصح\u{0651}\u{064E}ة").unwrap();
        let b = check("الصح\u{064E}\u{0651}ة").unwrap();
        assert_eq!(a, b);
        // Arabic-Indic digits are digits.
        assert_eq!(check("أخبار_٢٠٢٦").as_deref(), Ok("أخبار_٢٠٢٦"));
    }

    #[test]
    fn what_is_refused_and_why() {
        let refused = |name: &str, why: &str| {
            let e = check(name).expect_err(name);
            assert!(e.contains(why), "{name:?}: {e}");
        };
        refused("", "must not be empty");
        refused("سياسة\u{200F}", "U+200F is an invisible bidi control");
        refused("\u{202B}سياسة", "U+202B is an invisible bidi control");
        refused("\u{061C}سياسة", "U+061C is an invisible bidi control");
        refused("أخبار مصر", "whitespace (U+0020)");
        refused("أخبار\u{00A0}مصر", "whitespace (U+00A0)");
        refused("خبر\u{200C}ها", "U+200C is an invisible character");
        refused("news\tdesk", "whitespace (U+0009)");
        for bad in ["a/b", "a.b", "a%20b", "a?b", "a#b", "..", "a:b", "a\\b", "a\"b"] {
            refused(bad, "must be letters, digits, '-' or '_'");
        }
        refused("\u{064E}سياسة", "combining mark U+064E without a letter");
        // Presentation forms: ﺳﻴﺎﺳﺔ reads as سياسة.
        refused(
            "\u{FEB3}\u{FEF4}\u{FE8E}\u{FEB3}\u{FE94}",
            "U+FEB3 is a compatibility form",
        );
        refused("\u{FDF2}", "U+FDF2 is a compatibility form");
        refused("ｐｏｌｉｔｉｃｓ", "U+FF50 is a compatibility form");
    }

    #[test]
    fn url_segments_round_trip() {
        let name = "أخبار-مصر";
        let segment = url_segment(name);
        assert_eq!(segment, "%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1-%D9%85%D8%B5%D8%B1");
        let path = format!("/{segment}.rss");
        assert_eq!(from_url_path(&path).as_deref(), Some("أخبار-مصر.rss"));
        // Lower-case escapes, the NFD spelling, and the decoded path.
        assert_eq!(
            from_url_path(&path.to_lowercase()).as_deref(),
            Some("أخبار-مصر.rss")
        );
        let nfd = url_segment("\u{0627}\u{0654}خبار-مصر");
        assert_ne!(nfd, segment);
        assert_eq!(
            from_url_path(&format!("/{nfd}.atom")).as_deref(),
            Some("أخبار-مصر.atom")
        );
        assert_eq!(
            from_url_path("/أخبار-مصر.json").as_deref(),
            Some("أخبار-مصر.json")
        );
        assert_eq!(
            from_url_path(&format!("/{segment}/clusters.json")).as_deref(),
            Some("أخبار-مصر/clusters.json")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Every name `check` accepts is found again at the path written
        /// for it, in its NFC and its NFD spelling; nothing panics.
        #[test]
        fn accepted_names_round_trip(raw in "[a-zA-Z0-9_\\-\u{0621}-\u{065F}\u{0660}-\u{0669}\u{0670}\u{200E}\u{200F} ./%]{0,12}") {
            if let Ok(name) = check(&raw) {
                for spelling in [name.clone(), name.nfd().collect::<String>()] {
                    let path = format!("/{}.json", url_segment(&spelling));
                    let found = from_url_path(&path);
                    proptest::prop_assert_eq!(found.as_deref(), Some(&*format!("{name}.json")));
                }
            }
        }

        #[test]
        fn any_path_decodes_or_names_nothing(path in "(/|%[0-9A-Fa-fZ]{0,2}|[a-z\u{0627}-\u{064A}]|\\PC)*") {
            let _ = from_url_path(&path);
        }
    }

    #[test]
    fn bad_paths_name_nothing() {
        for bad in [
            "/%D8.rss",
            "/%FF.rss",
            "/%ZZ.rss",
            "/%D.rss",
            "/politics%",
            "/%C0%80.rss",
        ] {
            assert_eq!(from_url_path(bad), None, "{bad}");
        }
    }
}
