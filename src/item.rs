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

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use url::Url;

/// The deduplication key of an item: a canonical form of its link, or, for
/// items without a usable link, of its guid; for an entry whose link other
/// entries of its feed share, its id within the feed ([`ItemKey::for_entry`]).
///
/// Keys are plain strings so that they can be read in a store dump; they are
/// never shown to subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey(String);

/// The scheme of [`ItemKey::for_entry`]'s keys.
const ENTRY_SCHEME: &str = "entry:";

impl ItemKey {
    /// Key for an item that has a link. `http` and `https` give the same key.
    pub fn from_link(link: &Url) -> ItemKey {
        ItemKey::from_clean_link(&clean_link(link))
    }

    /// [`ItemKey::from_link`] for a link that went through [`clean_link`]
    /// already (cleaning twice changes nothing: see the idempotence tests),
    /// so that a caller that republishes the cleaned link cleans it once.
    pub fn from_clean_link(clean: &Url) -> ItemKey {
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

    /// Key for an entry whose link names other entries of its feed too
    /// (see `parse::links`): its id, within its feed. The `entry:` scheme
    /// also tells [`crate::generate::item_id`] that the link cannot be the
    /// id subscribers key on.
    pub fn for_entry(id: &str, feed_url: &Url) -> ItemKey {
        ItemKey(format!(
            "{ENTRY_SCHEME}{}#{}",
            ItemKey::from_link(feed_url).0,
            id.trim()
        ))
    }

    /// Whether the item's link is not its own ([`ItemKey::for_entry`]).
    pub fn shares_its_link(&self) -> bool {
        self.0.starts_with(ENTRY_SCHEME)
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
    // Case-insensitive without a lower-cased copy: every link's every
    // query parameter passes here.
    name.as_bytes()
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case(b"utm_"))
        || TRACKING_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
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
        let joined = kept.join("&");
        let query = normalise_escapes(&joined);
        // A query that comes out as it went in is not set again: the URL
        // parser wrote it in the form setting it would (the idempotence
        // tests hold `clean_link` to that), and setting re-serialises the
        // whole URL.
        let query = (!query.is_empty()).then_some(&*query);
        if url.query() != query {
            url.set_query(query);
        }
    }

    if url.path().contains('%') {
        let path = normalise_escapes(url.path());
        if let Cow::Owned(path) = path {
            url.set_path(&path);
        }
    }
    url
}

fn decode_lossy(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

/// The value of the escape `%XX` at `i` of `bytes`, if there is one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i + 1..i + 3) {
        Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
            let digit = |d: u8| (d as char).to_digit(16).expect("a hex digit") as u8;
            Some(digit(hi) << 4 | digit(lo))
        }
        _ => None,
    }
}

fn is_unreserved(v: u8) -> bool {
    v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~')
}

/// Upper-cases the hex digits of every `%XX` escape and decodes escapes of
/// unreserved characters (RFC 3986 section 6.2.2), which never change meaning.
///
/// Borrowed when there is nothing to change, which is what nearly every
/// link is (the `url` crate writes the escapes of an Arabic path in upper
/// case): the check goes escape by escape without writing anything.
fn normalise_escapes(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let settled = memchr::memchr_iter(b'%', bytes).all(|i| {
        escape_at(bytes, i)
            .is_some_and(|v| !is_unreserved(v) && !bytes[i + 1..i + 3].iter().any(u8::is_ascii_lowercase))
    });
    if settled {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    // Text between escapes is copied a run at a time: `%` is ASCII, so
    // every `%` found is on a character boundary.
    let mut copied = 0;
    while let Some(found) = memchr::memchr(b'%', &bytes[copied..]) {
        let i = copied + found;
        out.push_str(&s[copied..i]);
        if let Some(v) = escape_at(bytes, i) {
            if is_unreserved(v) {
                out.push(v as char);
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            copied = i + 3;
        } else {
            // A lone `%` (not an escape) is written as the escape it means,
            // so that decoding what follows can never forge a new escape.
            out.push_str("%25");
            copied = i + 1;
        }
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
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

/// A story the store holds already, met again in a document of a feed that
/// is not yet among its sources: all that storing it again adds is that
/// source, so the entry is neither built nor read back from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub key: ItemKey,
    /// The stored item's sort date (as [`Item::date`]), for the retention
    /// check a built item would have met.
    pub date: i64,
    /// This feed, with the link as it gave it.
    pub source: Source,
}

/// What the store holds of the text an item's feed gave it, told to the
/// parser with the item's key (see `parse::fingerprint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredPrint {
    /// Nothing this feed may revise: the record carries another feed's
    /// text (this feed is a later source), or the item was pruned.
    NotOurs,
    /// The record carries this feed's text, stored before fingerprints
    /// were: the first sighting records one and revises nothing (a
    /// revision must be the publisher's, not our own processing changed
    /// by an upgrade).
    Missing,
    /// The fingerprint of the entry's text when it was stored (or last
    /// revised).
    Is(u64),
}

/// An entry of a stored item, met again in the feed whose text the record
/// carries, whose fingerprint is not the stored one.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    pub key: ItemKey,
    /// The entry's fingerprint, stored whatever the comparison finds.
    pub print: u64,
    /// The entry built anew (sanitised), for the store to compare with the
    /// record and write over it if its published text differs. `None`
    /// when the item has no stored fingerprint ([`StoredPrint::Missing`]):
    /// only the fingerprint is recorded.
    pub item: Option<Item>,
    /// The feed that revises it (the record's first source).
    pub feed_url: String,
}

/// A media file attached to an item (RSS `<enclosure>`, Atom
/// `rel="enclosure"`, `media:content`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub mime_type: Option<String>,
    pub length: Option<u64>,
}

/// No web page was published before 1990-01-01 (UTC): an entry dated
/// earlier carries a CMS's placeholder for "no date" (1970-01-01 of a zero
/// Unix time, 0001-01-01 of Go's and .NET's zero value, 1900-01-01 of
/// SQL's), and is dated as an undated one, at first sight. Taken at its
/// word, a new entry would be refused at once as older than the retention.
pub const PLAUSIBLE_SINCE: i64 = 631_152_000;

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
    /// The fingerprint of the entry's text as the feed gave it
    /// (`parse::fingerprint`), set by the parser on a new item. Kept by
    /// the store beside the record (sled: in its `keys` entry; PostgreSQL:
    /// a column), not in it: never serialised, and `None` on an item read
    /// back.
    #[serde(skip)]
    pub fingerprint: Option<u64>,
}

impl Item {
    /// Chooses the publication date from what the feed said and when we
    /// saw it: `published`, else `updated`, a date before
    /// [`PLAUSIBLE_SINCE`] counting as none; one in the future is clamped
    /// to `first_seen` (it would pin the item above every newer one, and
    /// says the entry is news now: an older `updated` would age it).
    pub fn pick_date(published: Option<i64>, updated: Option<i64>, first_seen: i64) -> i64 {
        let plausible = |d: &i64| *d >= PLAUSIBLE_SINCE;
        match published.filter(plausible).or(updated.filter(plausible)) {
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
        assert_eq!(normalise_escapes("/a%4"), "/a%254");
        assert_eq!(normalise_escapes("/a%"), "/a%25");
        assert_eq!(normalise_escapes("/a%zz"), "/a%25zz");
        assert_eq!(normalise_escapes("/a%اب"), "/a%25اب");
    }

    /// Found by `props::canonicalisation_is_idempotent_with_lone_percent`
    /// and by the `canonicalize` fuzz target (`https:a/%%42b`, minimised).
    /// The URL parser keeps a `%` not followed by two hex digits as it is;
    /// `normalise_escapes` then decodes the escapes after it, and the lone
    /// `%` plus the decoded characters form a new escape: `/%%361` is
    /// cleaned to `/%61` (a different link, `/a`), which cleans again to `/a`.
    /// So `clean_link` is not idempotent, the key of a cleaned link differs
    /// from the key of the link, and the republished link points elsewhere.
    #[test]
    fn lone_percent_before_decoded_escape() {
        for input in [
            "http://a.com/%%361",
            "http://a.com/?q=%%37%41",
            "http://a.com/%4%31",
            // `https://a/%Bb`, which cleans again to `https://a/%BB`.
            "https:a/%%42b",
        ] {
            let url = Url::parse(input).unwrap();
            let clean = clean_link(&url);
            assert_eq!(clean_link(&clean), clean, "input {input}");
            assert_eq!(
                ItemKey::from_link(&clean),
                ItemKey::from_link(&url),
                "input {input}"
            );
        }
    }

    #[test]
    fn dates() {
        let d = |s: &str| crate::dates::parse_date(s).unwrap().timestamp();
        let now = d("2026-12-06T03:00:00Z");
        let (a, b) = (d("2026-12-05T10:00:00Z"), d("2026-12-06T01:00:00Z"));
        assert_eq!(Item::pick_date(Some(a), Some(b), now), a);
        assert_eq!(Item::pick_date(None, Some(b), now), b);
        assert_eq!(Item::pick_date(None, None, now), now);
        // In the future: not believed.
        assert_eq!(Item::pick_date(Some(now + 3600), None, now), now);
        assert_eq!(Item::pick_date(Some(now + 3600), Some(b), now), now);
        // Arabic dates as outlets write them, read as what they say.
        let arabic = d("السبت ٥ ديسمبر ٢٠٢٦ ١٠:٠٠ ص");
        assert_eq!(arabic, a);
        assert_eq!(Item::pick_date(Some(arabic), None, now), a);
        // The placeholders CMSs write for "no date": dated at first sight,
        // or by the other date when that one is plausible.
        for placeholder in [
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Wed, 31 Dec 1969 19:00:00 -0500",
            "0001-01-01T00:00:00Z",
            "1900-01-01T00:00:00Z",
            "الخميس ١ يناير ١٩٧٠ ٠٠:٠٠",
        ] {
            let p = d(placeholder);
            assert!(p < PLAUSIBLE_SINCE, "{placeholder}");
            assert_eq!(Item::pick_date(Some(p), None, now), now, "{placeholder}");
            assert_eq!(Item::pick_date(Some(p), Some(b), now), b, "{placeholder}");
            assert_eq!(Item::pick_date(None, Some(p), now), now, "{placeholder}");
        }
        // The first plausible date is kept, however old.
        assert_eq!(Item::pick_date(Some(PLAUSIBLE_SINCE), None, now), PLAUSIBLE_SINCE);
    }
}

/// Property tests of link canonicalisation, and no-panic properties of the
/// other string-eating functions (`select::normalize`, `dates::parse_date`).
///
/// URLs are generated from parts (scheme, host, port, path segments, query
/// parameters, fragment) so that a variant of the same link can be rendered
/// with tracking parameters added, another fragment, the other scheme, an
/// upper-case host, an explicit default port and escapes in the other case.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// `normalise_escapes` as it was written first, a character at a time:
    /// the run-copying version must give the same text.
    fn normalise_escapes_by_char(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit()
            {
                let hex = &s[i + 1..i + 3];
                let v = u8::from_str_radix(hex, 16).unwrap();
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v as char);
                } else {
                    out.push('%');
                    out.push_str(&hex.to_ascii_uppercase());
                }
                i += 3;
            } else if bytes[i] == b'%' {
                out.push_str("%25");
                i += 1;
            } else {
                let ch = s[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
        out
    }

    proptest! {
        #[test]
        fn normalise_escapes_is_the_per_character_rewrite(s in "[%0-9a-fA-FgG~\\-/ءب]{0,24}") {
            prop_assert_eq!(normalise_escapes(&s), normalise_escapes_by_char(&s));
        }
    }

    /// One piece of a path segment, query name/value or fragment.
    #[derive(Clone, Debug)]
    enum Piece {
        /// Characters that stand for themselves in that part of the URL.
        Lit(String),
        /// `%XX`; the case of the hex digits is chosen when rendering.
        Esc(u8),
        /// An Arabic letter, written raw or as its escaped UTF-8 bytes.
        Arabic(char),
        /// A lone `%` (the URL parser tolerates it).
        Percent,
    }

    /// How a URL is written; the link it names stays the same.
    #[derive(Clone, Copy, Debug, Default)]
    struct Style {
        /// Bit `i % 64` set: the escapes of the URL's i-th piece are upper-case.
        upper_escapes: u64,
        /// Bit `i % 64` set: the URL's i-th piece, if an Arabic letter, is escaped.
        escape_arabic: u64,
    }

    fn render_pieces(pieces: &[Piece], style: Style, counter: &mut u32, out: &mut String) {
        for p in pieces {
            let bit = 1u64 << (*counter % 64);
            *counter += 1;
            let upper = style.upper_escapes & bit != 0;
            let esc = |b: u8, out: &mut String| {
                if upper {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push_str(&format!("%{b:02x}"));
                }
            };
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Esc(b) => esc(*b, out),
                Piece::Arabic(c) if style.escape_arabic & bit != 0 => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        esc(b, out);
                    }
                }
                Piece::Arabic(c) => out.push(*c),
                Piece::Percent => out.push('%'),
            }
        }
    }

    #[derive(Clone, Debug)]
    struct Param {
        name: Vec<Piece>,
        /// `None`: the parameter is written without `=`.
        value: Option<Vec<Piece>>,
    }

    #[derive(Clone, Debug)]
    struct Parts {
        https: bool,
        host: String,
        port: Option<u16>,
        path: Vec<Vec<Piece>>,
        query: Vec<Param>,
        /// Write `?` even when there are no parameters.
        bare_question_mark: bool,
        fragment: Option<Vec<Piece>>,
    }

    impl Parts {
        fn render(&self, style: Style) -> String {
            let mut n = 0;
            let mut s = String::from(if self.https { "https://" } else { "http://" });
            s.push_str(&self.host);
            if let Some(port) = self.port {
                s.push_str(&format!(":{port}"));
            }
            for seg in &self.path {
                s.push('/');
                render_pieces(seg, style, &mut n, &mut s);
            }
            if !self.query.is_empty() || self.bare_question_mark {
                s.push('?');
            }
            for (i, p) in self.query.iter().enumerate() {
                if i > 0 {
                    s.push('&');
                }
                render_pieces(&p.name, style, &mut n, &mut s);
                if let Some(v) = &p.value {
                    s.push('=');
                    render_pieces(v, style, &mut n, &mut s);
                }
            }
            if let Some(f) = &self.fragment {
                s.push('#');
                render_pieces(f, style, &mut n, &mut s);
            }
            s
        }

        fn url(&self, style: Style) -> Url {
            let s = self.render(style);
            Url::parse(&s).unwrap_or_else(|e| panic!("generated URL {s:?} does not parse: {e}"))
        }
    }

    fn arabic_letter() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::char::range('\u{0621}', '\u{063A}'),
            proptest::char::range('\u{0641}', '\u{064A}'),
        ]
    }

    fn host() -> impl Strategy<Value = String> {
        let tld = prop_oneof![Just("com"), Just("net"), Just("example"), Just("eg")];
        prop_oneof![
            4 => ("[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,2}", tld.clone())
                .prop_map(|(name, tld)| format!("{name}.{tld}")),
            // IDN: Arabic labels, punycoded by the parser.
            2 => (proptest::collection::vec(arabic_letter(), 1..8), tld)
                .prop_map(|(name, tld)| format!("{}.{tld}", name.into_iter().collect::<String>())),
            1 => any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}")),
        ]
    }

    /// Pieces whose characters stand for themselves in `literal`'s context;
    /// `percent` allows a lone `%`.
    fn pieces(literal: &'static str, percent: bool) -> impl Strategy<Value = Vec<Piece>> {
        let piece = prop_oneof![
            4 => literal.prop_map(Piece::Lit),
            2 => any::<u8>().prop_map(Piece::Esc),
            // Escapes of unreserved characters, which canonicalise to the character.
            1 => prop_oneof![Just(b'A'), Just(b'z'), Just(b'7'), Just(b'-'), Just(b'.'), Just(b'_'), Just(b'~')]
                .prop_map(Piece::Esc),
            3 => arabic_letter().prop_map(Piece::Arabic),
            if percent { 1 } else { 0 } => Just(Piece::Percent),
        ];
        proptest::collection::vec(piece, 0..5)
    }

    const PATH_LIT: &str = "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,4}";
    /// No `&`, `=` or `#`, which structure the query.
    const QUERY_LIT: &str = "[A-Za-z0-9._~!$'()*+,;:@/?-]{1,4}";

    /// Names of parameters that select content; none is a tracking name.
    fn content_name() -> impl Strategy<Value = Vec<Piece>> {
        "k[a-z0-9_]{0,5}".prop_map(|s| vec![Piece::Lit(s)])
    }

    /// A tracking parameter name, in any letter case.
    fn tracking_name() -> impl Strategy<Value = Vec<Piece>> {
        let name = prop_oneof![
            proptest::sample::select(TRACKING_PARAMS).prop_map(str::to_owned),
            "utm_[a-z]{1,8}",
        ];
        (name, any::<u64>()).prop_map(|(name, mask)| {
            let flipped: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            vec![Piece::Lit(flipped)]
        })
    }

    fn param(name: impl Strategy<Value = Vec<Piece>>, percent: bool) -> impl Strategy<Value = Param> {
        (name, proptest::option::weighted(0.9, pieces(QUERY_LIT, percent)))
            .prop_map(|(name, value)| Param { name, value })
    }

    /// Any link: tracking parameters, any port, and lone `%` signs when
    /// `percent` (see `canonicalisation_is_idempotent_with_lone_percent`).
    fn any_parts(percent: bool) -> impl Strategy<Value = Parts> {
        (
            any::<bool>(),
            host(),
            proptest::option::of(prop_oneof![Just(80u16), Just(443u16), any::<u16>()]),
            proptest::collection::vec(pieces(PATH_LIT, percent), 0..4),
            proptest::collection::vec(
                param(
                    prop_oneof![content_name(), tracking_name(), pieces(QUERY_LIT, percent)],
                    percent,
                ),
                0..5,
            ),
            any::<bool>(),
            proptest::option::of(pieces(QUERY_LIT, percent)),
        )
            .prop_map(
                |(https, host, port, path, query, bare_question_mark, fragment)| Parts {
                    https,
                    host,
                    port,
                    path,
                    query,
                    bare_question_mark,
                    fragment,
                },
            )
    }

    /// A link without tracking parameters, lone `%` or a default port, to
    /// derive variants from.
    fn base_parts() -> impl Strategy<Value = Parts> {
        (
            any::<bool>(),
            host(),
            proptest::option::of(any::<u16>().prop_filter("not a default port", |p| *p != 80 && *p != 443)),
            proptest::collection::vec(pieces(PATH_LIT, false), 0..4),
            proptest::collection::vec(param(content_name(), false), 0..4),
        )
            .prop_map(|(https, host, port, path, query)| Parts {
                https,
                host,
                port,
                path,
                query,
                bare_question_mark: false,
                fragment: None,
            })
    }

    fn style() -> impl Strategy<Value = Style> {
        (any::<u64>(), any::<u64>()).prop_map(|(upper_escapes, escape_arabic)| Style {
            upper_escapes,
            escape_arabic,
        })
    }

    /// The same link written differently.
    #[derive(Clone, Debug)]
    struct Variant {
        https: bool,
        upper_host: bool,
        default_port: bool,
        /// Tracking parameters and where they go (index modulo length + 1).
        tracking: Vec<(usize, Param)>,
        bare_question_mark: bool,
        fragment: Option<Vec<Piece>>,
        style: Style,
    }

    fn variant() -> impl Strategy<Value = Variant> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec((any::<usize>(), param(tracking_name(), false)), 0..4),
            any::<bool>(),
            proptest::option::of(pieces(QUERY_LIT, true)),
            style(),
        )
            .prop_map(
                |(https, upper_host, default_port, tracking, bare_question_mark, fragment, style)| Variant {
                    https,
                    upper_host,
                    default_port,
                    tracking,
                    bare_question_mark,
                    fragment,
                    style,
                },
            )
    }

    impl Variant {
        fn apply(&self, base: &Parts) -> Parts {
            let mut p = base.clone();
            p.https = self.https;
            if self.upper_host {
                p.host = p.host.to_ascii_uppercase();
            }
            if self.default_port && p.port.is_none() {
                p.port = Some(if p.https { 443 } else { 80 });
            }
            for (at, param) in &self.tracking {
                let at = at % (p.query.len() + 1);
                p.query.insert(at, param.clone());
            }
            p.bare_question_mark = self.bare_question_mark;
            p.fragment = self.fragment.clone();
            p
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn from_link_never_panics(parts in any_parts(true), style in style()) {
            let url = parts.url(style);
            let key = ItemKey::from_link(&url);
            prop_assert!(key.as_str().starts_with("//"), "{url} -> {key}");
        }

        #[test]
        fn from_link_never_panics_on_arbitrary_text(path in any::<String>(), query in any::<String>()) {
            if let Ok(url) = Url::parse(&format!("https://example.com/{path}?{query}")) {
                let _ = ItemKey::from_link(&url);
                let _ = clean_link(&url);
            }
        }

        #[test]
        fn canonicalisation_is_idempotent(parts in any_parts(false), style in style()) {
            let url = parts.url(style);
            let clean = clean_link(&url);
            let again = clean_link(&clean);
            prop_assert_eq!(again.as_str(), clean.as_str(), "url {}", url);
            prop_assert_eq!(ItemKey::from_link(&clean), ItemKey::from_link(&url), "url {}", url);
        }
    }

    proptest! {
        // Regression properties for bugs the fuzzer found; no regressions file.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(1024) })]

        /// As `canonicalisation_is_idempotent` with lone `%` signs, which the
        /// URL parser keeps as they are; see
        /// `tests::lone_percent_before_decoded_escape`.
        #[test]
        fn canonicalisation_is_idempotent_with_lone_percent(parts in any_parts(true), style in style()) {
            let url = parts.url(style);
            let clean = clean_link(&url);
            let again = clean_link(&clean);
            prop_assert_eq!(again.as_str(), clean.as_str(), "url {}", url);
            prop_assert_eq!(ItemKey::from_link(&clean), ItemKey::from_link(&url), "url {}", url);
        }

        /// Normalising twice changes nothing. Fails rarely on arbitrary text;
        /// see `select::tests::removal_after_nfc`.
        #[test]
        fn normalize_is_idempotent(
            text in prop_oneof![
                any::<String>(),
                "[\u{0600}-\u{06FF}\u{08A0}-\u{08FF}\u{200B}-\u{200F}\u{00AD}\u{0300}-\u{036F}a-z]{0,20}",
            ]
        ) {
            let n = crate::select::normalize(&text);
            prop_assert_eq!(crate::select::normalize(&n), n);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn spellings_of_one_link_share_a_key(base in base_parts(), v in variant()) {
            let url = base.url(Style::default());
            let other = v.apply(&base).url(v.style);
            prop_assert_eq!(ItemKey::from_link(&url), ItemKey::from_link(&other), "{} vs {}", url, other);
        }

        #[test]
        fn content_parameters_tell_links_apart(
            base in base_parts(),
            name in content_name(),
            at in any::<usize>(),
            values in ("[a-z0-9]{1,6}", "[a-z0-9]{1,6}", proptest::collection::vec(arabic_letter(), 0..3))
                .prop_filter("distinct values", |(a, b, _)| a != b),
        ) {
            let (a, b, arabic) = values;
            let arabic: Vec<Piece> = arabic.into_iter().map(Piece::Arabic).collect();
            let with = |v: &str| {
                let mut p = base.clone();
                let mut value = vec![Piece::Lit(v.to_owned())];
                value.extend(arabic.iter().cloned());
                let at = at % (p.query.len() + 1);
                p.query.insert(at, Param { name: name.clone(), value: Some(value) });
                p.url(Style::default())
            };
            let (ua, ub) = (with(&a), with(&b));
            prop_assert_ne!(ItemKey::from_link(&ua), ItemKey::from_link(&ub), "{} vs {}", ua, ub);
        }

        #[test]
        fn normalize_and_words_never_panic(
            text in prop_oneof![
                any::<String>(),
                "[\u{0600}-\u{06FF}\u{0750}-\u{077F}\u{08A0}-\u{08FF}\u{FB50}-\u{FDFF}\u{FE70}-\u{FEFF}\u{200B}-\u{200F} a-zA-Z0-9İı.,-]{0,40}",
            ]
        ) {
            let _ = crate::select::normalize(&text);
            let _ = crate::select::words(&text);
        }

        #[test]
        fn parse_date_never_panics(
            text in prop_oneof![
                any::<String>(),
                "[\u{0600}-\u{06FF}\u{0660}-\u{0669}\u{06F0}-\u{06F9}0-9 :/.+()-]{0,40}",
                date_like(),
            ]
        ) {
            if let Some(dt) = crate::dates::parse_date(&text) {
                use chrono::Datelike;
                prop_assert!((1..=9999).contains(&dt.year()));
            }
        }
    }

    /// Strings made of the tokens the date scanner looks for, so that
    /// generated cases reach past the lexer.
    fn date_like() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            "[0-9]{1,5}",
            "[\u{0660}-\u{0669}]{1,4}",
            "[\u{06F0}-\u{06F9}]{1,4}",
            "[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,12})?)?",
            "[+-][0-9]{1,4}(:[0-9]{2})?",
            proptest::sample::select(vec![
                "Nov",
                "november",
                "Sept",
                "thurs",
                "Mon",
                "th",
                "at",
                "GMT",
                "UTC",
                "AST",
                "GST",
                "IST",
                "AEST",
                "Z",
                "am",
                "p.m.",
                "ص",
                "م",
                "يناير",
                "أكتوبر",
                "تشرين",
                "الثاني",
                "كانون",
                "الأول",
                "آب",
                "الموافق",
                "الساعة",
                "(comment)",
                "(",
                ")",
                "/",
                "-",
                ".",
                ",",
            ])
            .prop_map(str::to_owned),
        ];
        (
            proptest::collection::vec(token, 0..10),
            proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just(", "), Just("-")], 10),
        )
            .prop_map(|(toks, seps)| {
                toks.iter()
                    .zip(&seps)
                    .flat_map(|(t, s)| [t.as_str(), *s])
                    .collect()
            })
    }
}
