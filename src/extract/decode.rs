//! The page's bytes to text: the charset decision (BOM, HTTP header,
//! `<meta charset>`, UTF-8 check, chardetng) and the cheap shape checks
//! that refuse what is not an HTML page before any DOM is built.

use std::sync::LazyLock;

use encoding_rs::Encoding;
use regex::Regex;

use super::{ExtractError, MAX_ELEMENTS};
use crate::parse::charset_param;

/// Decodes the page: BOM, then the HTTP `charset`, then `<meta charset>` /
/// `http-equiv` in the first 16 KiB. A body that is valid UTF-8 with
/// non-ASCII text is read as UTF-8 whatever the label says: pages saved or
/// re-served as UTF-8 keep their old `iso-8859-1` or `gb2312` label, while
/// legacy-charset text that happens to be valid UTF-8 does not occur in
/// practice. With no label and bytes that are not UTF-8, chardetng
/// (Firefox's detector for unlabelled legacy content) guesses.
pub fn decode(body: &[u8], content_type: Option<&str>) -> String {
    if let Some((enc, bom)) = Encoding::for_bom(body) {
        return enc.decode_without_bom_handling(&body[bom..]).0.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if !text.is_ascii() {
            return text.to_owned();
        }
    }
    let declared = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        .or_else(|| meta_charset(&body[..body.len().min(16 * 1024)]));
    // A page cannot really be UTF-16 once it had no BOM: the label lies.
    let enc = declared.map(|e| e.output_encoding()).unwrap_or_else(|| {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(body, true);
        detector.guess(None, chardetng::Utf8Detection::Allow)
    });
    enc.decode_without_bom_handling(body).0.into_owned()
}

pub(super) fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    static META: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r#"(?i-u)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)"#)
            .expect("valid regex")
    });
    let caps = META.captures(head)?;
    Encoding::for_label(&caps[1])
}

pub(super) fn looks_like_html(text: &str) -> bool {
    let head: String = text.chars().take(2048).collect::<String>().to_ascii_lowercase();
    let t = head.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("<?xml") && !head.contains("<html") {
        // A feed or other XML document, not a page.
        return false;
    }
    head.contains("<html")
        || head.contains("<!doctype html")
        || head.contains("<body")
        || head.contains("<p")
        || head.contains("<div")
        || head.contains("<article")
        || head.contains("<head")
}

/// Nesting deeper than this (counted roughly, see [`check_shape`]) is
/// refused: real pages stay under a few hundred levels.
pub const MAX_DEPTH: usize = 2_000;

/// Refuses, before parsing, pages whose shape would make the HTML parser
/// or the scorer slow: more tags than [`MAX_ELEMENTS`] allows, or nesting
/// deeper than [`MAX_DEPTH`] (the tree builder's scope checks walk the
/// stack of open elements, so deep nesting costs depth² time). Depth is
/// counted from start and end tags, leaving out void elements and the ones
/// pages often leave open (`p`, `li`, `td`...).
pub(super) fn check_shape(html: &str) -> Result<(), ExtractError> {
    const VOID_OR_OPEN: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
        "p", "li", "dt", "dd", "td", "th", "tr", "option", "param", "tbody", "thead", "colgroup",
    ];
    let bytes = html.as_bytes();
    let (mut tags, mut depth, mut max_depth) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        i += off + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let start = if closing { i + 1 } else { i };
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| start + n);
        if end == start || !bytes[start].is_ascii_alphabetic() {
            continue;
        }
        tags += 1;
        let name = html[start..end].to_ascii_lowercase();
        if VOID_OR_OPEN.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max_depth = max_depth.max(depth);
        }
    }
    if tags > MAX_ELEMENTS * 2 {
        return Err(ExtractError::TooComplex(format!("{tags} tags")));
    }
    if max_depth > MAX_DEPTH {
        return Err(ExtractError::TooComplex(format!(
            "elements nested {max_depth} deep"
        )));
    }
    Ok(())
}

pub(super) fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'<')
}

/// Text of an HTML fragment, tags replaced by spaces.
pub(super) fn html_text(html: &str) -> String {
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("valid regex"));
    let text = TAG.replace_all(html, " ");
    let text = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
