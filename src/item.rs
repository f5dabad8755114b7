//! Our data model: the [`Item`] every stage after parsing works on, and the
//! [`ItemKey`] that decides when two items are the same story.
//!
//! feed-rs types stop in `parse`; `rss`/`atom_syndication` types start in
//! `generate`. Everything in between (store, selection, rendering) sees only
//! `Item`, so there is one shape to test and one to persist.
//!
//! The key is derived from the item's link, canonicalised so that the same
//! article reached through different feeds, tracking parameters, schemes or
//! percent-encodings collapses to one key.

use serde::{Deserialize, Serialize};
use url::Url;

/// The deduplication key of an item: a canonical form of its link, or, for
/// items without a usable link, of its guid.
///
/// Keys are plain strings so that they can be read in a store dump; they are
/// never shown to subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey(String);

impl ItemKey {
    /// Key for an item that has a link. `http` and `https` give the same key.
    pub fn from_link(link: &Url) -> ItemKey {
        let clean = clean_link(link);
        // Dropping the scheme makes http and https agree; the key keeps the
        // `//` so that it still reads as a network-path reference.
        let s = clean.as_str();
        let without_scheme = s.split_once(':').map_or(s, |(_, rest)| rest);
        ItemKey(without_scheme.to_owned())
    }

    /// Key for an item without a link: an absolute http(s) guid is treated as
    /// a link; any other guid is only meaningful within its feed.
    pub fn from_guid(guid: &str, feed_url: &Url) -> ItemKey {
        match Url::parse(guid.trim()) {
            Ok(url) if is_web(&url) => ItemKey::from_link(&url),
            _ => ItemKey(format!("guid:{}#{}", ItemKey::from_link(feed_url).0, guid.trim())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key read back from the store.
    pub fn from_stored(s: String) -> ItemKey {
        ItemKey(s)
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for the schemes a feed item may link to.
pub fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// Query parameters that only track the reader and never select content.
/// Matched case-insensitively; `utm_*` is matched as a prefix.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "at_custom2",
    "at_custom3",
    "at_custom4",
    "ocid",
    "ito",
    "cmpid",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "sr_share",
    "spm",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The link as we republish it: tracking parameters and fragment removed,
/// percent-encoding in one form. The scheme is kept (subscribers follow it).
///
/// The `url` crate already lower-cases scheme and host, converts IDN hosts to
/// punycode, drops default ports and percent-encodes raw Unicode paths; what it
/// leaves is the case of existing escapes (`%d8` vs `%D8`) and escaped
/// unreserved characters (`%41` vs `A`), which we settle here.
pub fn clean_link(link: &Url) -> Url {
    let mut url = link.clone();
    url.set_fragment(None);

    if url.query().is_some() {
        // Filter on the raw `a=b` segments rather than decoding and
        // re-encoding pairs, so that untouched parameters keep their exact
        // bytes (`+` vs `%20` can matter to the origin server).
        let kept: Vec<&str> = url
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|seg| {
                let name = seg.split('=').next().unwrap_or_default();
                !seg.is_empty() && !is_tracking_param(&decode_lossy(name))
            })
            .collect();
        let query = normalise_escapes(&kept.join("&"));
        url.set_query(if query.is_empty() { None } else { Some(&query) });
    }

    let path = normalise_escapes(url.path());
    if path != url.path() {
        url.set_path(&path);
    }
    url
}

fn decode_lossy(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Upper-cases the hex digits of every `%XX` escape and decodes escapes of
/// unreserved characters (RFC 3986 section 6.2.2), which never change meaning.
fn normalise_escapes(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = &s[i + 1..i + 3];
            let v = u8::from_str_radix(hex, 16).expect("two hex digits");
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        // Safe to index by byte: we only stop on ASCII `%`, so `i` is always
        // on a char boundary when we push the next char.
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Where an item was seen: one entry per feed that carried the item's link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The feed's URL as configured in `feeds.toml`.
    pub feed_url: String,
    /// The feed's name as configured when the item was first seen there.
    pub feed_name: String,
    /// The item's link exactly as that feed gave it (tracking parameters
    /// included), for operators tracing where an item came from.
    pub link: Option<String>,
}

/// A media file attached to an item (RSS `<enclosure>`, Atom
/// `rel="enclosure"`, `media:content`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub mime_type: Option<String>,
    pub length: Option<u64>,
}

/// One story, normalised out of whatever format carried it.
///
/// Times are Unix seconds (UTC). Text is UTF-8 with XML-illegal control
/// characters removed; `summary` and `content` are sanitised HTML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: ItemKey,
    /// The cleaned link subscribers are sent to; `None` for link-less items.
    pub link: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<i64>,
    pub updated: Option<i64>,
    /// When feedwire first stored this item; never changes afterwards.
    pub first_seen: i64,
    /// The date the item is sorted and published by: published, else
    /// updated, else first seen; a date in the future is clamped to first seen.
    pub date: i64,
    pub language: Option<String>,
    pub enclosure: Option<Enclosure>,
    /// Every feed that carried this link, in the order they were seen.
    pub sources: Vec<Source>,
}

impl Item {
    /// Chooses the publication date from what the feed said and when we saw it.
    pub fn pick_date(published: Option<i64>, updated: Option<i64>, first_seen: i64) -> i64 {
        match published.or(updated) {
            Some(d) if d <= first_seen => d,
            _ => first_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(link: &str) -> String {
        ItemKey::from_link(&Url::parse(link).unwrap()).0
    }

    #[test]
    fn canonical_keys() {
        let table: &[(&str, &str)] = &[
            ("http://Example.COM:80/a?b=1#frag", "//example.com/a?b=1"),
            ("https://example.com:443/a", "//example.com/a"),
            ("https://example.com:8443/a", "//example.com:8443/a"),
            (
                "https://example.com/a?utm_source=rss&id=7&utm_medium=x",
                "//example.com/a?id=7",
            ),
            (
                "https://example.com/a?fbclid=abc&gclid=d&UTM_Campaign=z",
                "//example.com/a",
            ),
            ("https://example.com/a?", "//example.com/a"),
            ("https://example.com/%7euser/%41b", "//example.com/~user/Ab"),
            // Raw Arabic, upper-case and lower-case escapes all agree.
            (
                "https://www.aljazeera.net/news/2026/11/29/انتخابات",
                "//www.aljazeera.net/news/2026/11/29/%D8%A7%D9%86%D8%AA%D8%AE%D8%A7%D8%A8%D8%A7%D8%AA",
            ),
            (
                "https://www.aljazeera.net/news/2026/11/29/%d8%a7%d9%86%d8%aa%d8%ae%d8%a7%d8%a8%d8%a7%d8%aa",
                "//www.aljazeera.net/news/2026/11/29/%D8%A7%D9%86%D8%AA%D8%AE%D8%A7%D8%A8%D8%A7%D8%AA",
            ),
            // An escaped slash is not a path separator and stays escaped.
            ("https://example.com/a%2fb", "//example.com/a%2Fb"),
            // Unicode host becomes punycode.
            (
                "https://مثال.example/خبر",
                "//xn--mgbh0fb.example/%D8%AE%D8%A8%D8%B1",
            ),
            // Arabic query values survive, tracking removed.
            (
                "https://www.youm7.com/story?q=سياسة&utm_source=tw",
                "//www.youm7.com/story?q=%D8%B3%D9%8A%D8%A7%D8%B3%D8%A9",
            ),
        ];
        for (input, want) in table {
            assert_eq!(&key(input), want, "input {input}");
        }
    }

    #[test]
    fn http_and_https_agree() {
        assert_eq!(key("http://example.com/x"), key("https://example.com/x"));
    }

    #[test]
    fn guid_keys() {
        let feed = Url::parse("https://example.com/feed.xml").unwrap();
        assert_eq!(
            ItemKey::from_guid("https://example.com/a?utm_source=x", &feed).0,
            "//example.com/a"
        );
        assert_eq!(
            ItemKey::from_guid("urn:uuid:1234", &feed).0,
            "guid://example.com/feed.xml#urn:uuid:1234"
        );
        assert_eq!(
            ItemKey::from_guid("خبر-١٢", &feed).0,
            "guid://example.com/feed.xml#خبر-١٢"
        );
    }

    #[test]
    fn clean_link_keeps_scheme_and_untracked_params() {
        let url = Url::parse("https://example.com/a?id=1&utm_source=x&q=a+b").unwrap();
        assert_eq!(clean_link(&url).as_str(), "https://example.com/a?id=1&q=a+b");
    }

    #[test]
    fn truncated_escape_is_left_alone() {
        assert_eq!(normalise_escapes("/a%4"), "/a%4");
        assert_eq!(normalise_escapes("/a%"), "/a%");
        assert_eq!(normalise_escapes("/a%zz"), "/a%zz");
        assert_eq!(normalise_escapes("/a%اب"), "/a%اب");
    }

    #[test]
    fn dates() {
        assert_eq!(Item::pick_date(Some(10), Some(20), 100), 10);
        assert_eq!(Item::pick_date(None, Some(20), 100), 20);
        assert_eq!(Item::pick_date(None, None, 100), 100);
        assert_eq!(Item::pick_date(Some(500), None, 100), 100);
    }
}
