//! What reaches subscribers: feedparser's sanitizer corpus
//! (`wellformed/sanitize/`, and every `illformed/` case) through parse and
//! all three renderers, then the item titles, summaries and contents as a
//! reader gets them: the RSS and Atom documents are read back with an XML
//! reader (CDATA and escaped HTML decoded), the JSON Feed with serde_json.
//! In that decoded HTML no tag may be `script`, `iframe`, `object`,
//! `embed`, `style` or `meta` (the list also holds `applet`, `frame`,
//! `frameset`, `base`, `link`, `form`); no attribute may be an `on*` event
//! handler, a `style` with `expression(`, or a URL (after HTML entity
//! decoding and dropping whitespace and controls, as browsers do) with a
//! `javascript:`, `vbscript:` or `data:` scheme. Item links, ids and
//! enclosure URLs must be http(s) (or our `urn:feedwire:` ids).
//!
//! `data:` has no exception: ammonia's default URL schemes (which
//! `parse::sanitize` keeps) do not include it, so an `<img src="data:...">`
//! loses its `src` like any other non-listed scheme.
//!
//! Atom 0.3 documents (most of the corpus) are read as Atom 1.0 by the
//! parse recovery layer, which puts their hostile markup through our
//! sanitiser. Feed-level cases (`feed_title_*`, `feed_info_*`, ...) yield no
//! item and are counted apart.
//!
//! The corpus is found as in `corpus.rs` (`FEEDWIRE_CORPUS`, else
//! `../shared/corpus/feedparser`); without it the test says so on stderr
//! and passes. Its counts are always printed to stderr.

use std::io::Write;
use std::path::Path;

use chrono::{TimeZone, Utc};
use feedwire::config::OutputConfig;
use feedwire::generate::{render_atom, render_json, render_rss, OutputMeta};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use quick_xml::events::Event;
use url::Url;

use crate::corpus::{corpus_dir, read_header, walk};

/// Prints past the harness's capture, so a passing run shows the counts.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Elements whose presence in rendered HTML is a failure.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "iframe", "object", "embed", "style", "meta", "applet", "frame", "frameset", "base", "link",
    "form",
];
const FORBIDDEN_SCHEMES: &[&str] = &["javascript:", "vbscript:", "data:"];

/// One tag of an HTML fragment: its lower-cased name and attributes
/// (lower-cased names, values with entities decoded).
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// The tags of an HTML fragment, read the way a browser's tokenizer would
/// read start tags: `<` then a letter starts a tag; attributes are
/// `name`, `name=value`, `name="value"` or `name='value'`.
fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || !b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'>' | b'=' | b'/') {
                i += 1;
            }
            let attr = html[start..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let (from, to) = match b.get(i) {
                    Some(q @ (b'"' | b'\'')) => {
                        let end = html[i + 1..].find(*q as char).map_or(b.len(), |e| i + 1 + e);
                        (i + 1, end)
                    }
                    _ => {
                        let end = html[i..]
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .map_or(b.len(), |e| i + e);
                        (i, end)
                    }
                };
                value = decode_entities(&html[from..to]);
                i = (to + 1).min(b.len());
                if !matches!(b.get(to), Some(b'"' | b'\'')) {
                    i = to;
                }
            }
            if attr.is_empty() {
                i += 1;
                continue;
            }
            attrs.push((attr, value));
        }
        out.push(Tag { name, attrs });
    }
    out
}

/// HTML character references in an attribute value: numeric ones and the
/// few named ones a serializer writes.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|e| *e < 12);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                "Tab" => '\t',
                "NewLine" => '\n',
                "colon" => ':',
                n if n.starts_with("#x") || n.starts_with("#X") => {
                    char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?
                }
                n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?,
                _ => return None,
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A URL as a browser reads its scheme: whitespace and control characters
/// anywhere dropped, lower-cased.
fn scheme_view(url: &str) -> String {
    url.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What is wrong with a piece of HTML a reader would render.
fn unsafe_html(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = html.to_ascii_lowercase();
    if lower.contains("<script") {
        problems.push("<script".to_owned());
    }
    for tag in tags(html) {
        if FORBIDDEN_TAGS.contains(&tag.name.as_str()) {
            problems.push(format!("<{}> element", tag.name));
        }
        for (name, value) in &tag.attrs {
            if name.starts_with("on") {
                problems.push(format!("<{} {name}=...> event handler", tag.name));
            }
            let view = scheme_view(value);
            if let Some(s) = FORBIDDEN_SCHEMES.iter().find(|s| view.starts_with(**s)) {
                problems.push(format!("<{} {name}=\"{s}...\">", tag.name));
            }
            if view.contains("expression(") || (name == "style" && view.contains("javascript:")) {
                problems.push(format!("<{} {name}> with a script expression", tag.name));
            }
            if name == "http-equiv" {
                problems.push(format!("<{} http-equiv>", tag.name));
            }
        }
    }
    problems
}

/// What a reader gets of one rendered item: (field, value) pairs, with
/// `html` true for the fields rendered as HTML, and URL fields apart.
#[derive(Debug, Default)]
struct ReaderView {
    /// (format and field, decoded text).
    texts: Vec<(String, String)>,
    /// (format and field, URL).
    urls: Vec<(String, String)>,
}

/// Item fields of an RSS or Atom document, XML-decoded (CDATA, entity and
/// character references), as a reader sees them.
fn xml_view(format: &str, xml: &[u8], view: &mut ReaderView) {
    let text_fields: &[&str] = &[
        "title",
        "description",
        "content:encoded",
        "summary",
        "content",
        "dc:creator",
        "category",
        "name",
    ];
    let url_fields: &[&str] = &["link", "guid", "id"];
    let xml = std::str::from_utf8(xml).unwrap_or_else(|e| panic!("{format}: not UTF-8: {e}"));
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("{format}: not XML: {e}"));
        let in_item = path.iter().any(|p| p == "item" || p == "entry");
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name().as_ref().to_owned();
                if in_item || name == "item" || name == "entry" {
                    for attr in e.attributes() {
                        let attr = attr.unwrap();
                        let key = attr.key.as_ref().to_owned();
                        let value = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned();
                        let field = format!("{format} {name}@{key}");
                        if matches!(key.as_str(), "href" | "url" | "src") {
                            view.urls.push((field, value));
                        } else {
                            view.texts.push((field, value));
                        }
                    }
                }
                if matches!(event, Event::Start(_)) {
                    path.push(name);
                    text.clear();
                }
            }
            Event::Text(ref t) => text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::CData(ref t) => text.push_str(t),
            Event::GeneralRef(ref r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(r)
                        .unwrap_or_else(|| panic!("{format}: unknown entity &{};", &**r))
                        .to_owned(),
                };
                text.push_str(&c);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if in_item {
                    let field = format!("{format} {name}");
                    if text_fields.contains(&name.as_str()) {
                        view.texts.push((field, std::mem::take(&mut text)));
                    } else if url_fields.contains(&name.as_str()) {
                        view.urls.push((field, std::mem::take(&mut text)));
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
}

/// Item fields of a JSON Feed.
fn json_view(json: &[u8], view: &mut ReaderView) {
    let feed: serde_json::Value = serde_json::from_slice(json).expect("JSON Feed is JSON");
    for item in feed["items"].as_array().expect("items") {
        for field in ["title", "summary", "content_html", "content_text"] {
            if let Some(s) = item[field].as_str() {
                view.texts.push((format!("json {field}"), s.to_owned()));
            }
        }
        for field in ["id", "url", "external_url", "image"] {
            if let Some(s) = item[field].as_str() {
                view.urls.push((format!("json {field}"), s.to_owned()));
            }
        }
        for a in item["attachments"].as_array().into_iter().flatten() {
            if let Some(s) = a["url"].as_str() {
                view.urls.push(("json attachments.url".into(), s.to_owned()));
            }
        }
    }
}

/// Problems of every item of one document, each as "field: problem".
fn check_document(bytes: &[u8], header_type: Option<&str>) -> Result<(usize, Vec<String>), String> {
    let url = Url::parse("http://localhost:8097/tests/sanitize.xml").unwrap();
    let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    let parsed = parse_feed(
        FeedRef {
            url: &url,
            name: "corpus",
        },
        bytes,
        header_type,
        now,
        Limits::default(),
    )
    .map_err(|e| e.to_string())?;
    let output = OutputConfig {
        name: "sanitize".into(),
        title: "تعقيم".into(),
        language: Some("ar".into()),
        max_items: parsed.items.len().max(1),
        ..Default::default()
    };
    let base = Url::parse("http://127.0.0.1:8080/").unwrap();
    let meta = OutputMeta::new(&output, &base);
    let mut view = ReaderView::default();
    xml_view("rss", &render_rss(&meta, &parsed.items), &mut view);
    xml_view("atom", &render_atom(&meta, &parsed.items), &mut view);
    json_view(&render_json(&meta, &parsed.items), &mut view);
    let mut problems = Vec::new();
    for (field, text) in &view.texts {
        for p in unsafe_html(text) {
            problems.push(format!("{field}: {p} in {:?}", snippet(text)));
        }
    }
    for (field, url) in &view.urls {
        let v = scheme_view(url);
        let ok = v.starts_with("http://") || v.starts_with("https://") || v.starts_with("urn:feedwire:");
        // Atom's feed-level <link>s and ids are ours; only item URLs count.
        if !ok {
            problems.push(format!("{field}: URL {:?}", snippet(url)));
        }
    }
    Ok((parsed.items.len(), problems))
}

fn snippet(s: &str) -> String {
    s.chars().take(160).collect()
}

#[derive(Default)]
struct Counts {
    files: usize,
    runs: usize,
    not_feed: usize,
    no_items: usize,
    with_items: usize,
    items: usize,
    /// Runs with items whose document carries something the checks look
    /// for (`script`, `on*=`, `expression(`, `data:`, a forbidden element).
    hostile: usize,
}

#[test]
fn sanitizer_corpus_reaches_no_reader_unsafe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match corpus_dir(std::env::var_os("FEEDWIRE_CORPUS"), root) {
        Ok(dir) => dir,
        Err(tried) => {
            say(&format!(
                "sanitizer corpus: feedparser corpus not found at {tried}; set FEEDWIRE_CORPUS (test skipped, nothing checked)"
            ));
            return;
        }
    };
    let mut files = Vec::new();
    let sanitize = dir.join("wellformed/sanitize");
    assert!(sanitize.is_dir(), "{} is missing", sanitize.display());
    walk(&sanitize, &mut files);
    let sanitize_files = files.len();
    walk(&dir.join("illformed"), &mut files);
    assert!(sanitize_files > 0, "no sanitize cases");

    let mut c = Counts::default();
    let mut failures = Vec::new();
    let hostile_markup = regex::Regex::new(
        r"(?i)script|\bon[a-z]+\s*=|expression\(|data:|(<|&lt;)(iframe|object|embed|style|meta)",
    )
    .unwrap();
    for path in &files {
        let rel = path.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let header = read_header(&bytes);
        c.files += 1;
        // Atom 0.3 documents (most of the corpus) are read as Atom 1.0 by
        // the parse recovery layer: no mapping here.
        let variants = vec![("as is", bytes.clone())];
        for (variant, bytes) in variants {
            c.runs += 1;
            let run = std::panic::catch_unwind(|| check_document(&bytes, header.content_type.as_deref()));
            match run {
                Err(_) => failures.push(format!("{rel} ({variant}): panicked")),
                Ok(Err(_)) => c.not_feed += 1,
                Ok(Ok((0, _))) => c.no_items += 1,
                Ok(Ok((n, problems))) => {
                    c.with_items += 1;
                    c.items += n;
                    let text = String::from_utf8_lossy(&bytes);
                    // The document without the test's description comment.
                    let body = text.split_once("-->").map_or(&*text, |(_, b)| b);
                    if hostile_markup.is_match(body) {
                        c.hostile += 1;
                    }
                    failures.extend(problems.into_iter().map(|p| format!("{rel} ({variant}): {p}")));
                }
            }
        }
    }
    say(&format!(
        "sanitizer corpus: {} files ({sanitize_files} sanitize, {} illformed), {} runs: {} yielded {} items checked in RSS, Atom and JSON ({} of those documents carry hostile markup); {} yielded no item (feed-level cases, elements feed-rs does not read, nothing left after sanitising), {} were not feeds; {} problems",
        c.files,
        c.files - sanitize_files,
        c.runs,
        c.with_items,
        c.items,
        c.hostile,
        c.no_items,
        c.not_feed,
        failures.len()
    ));
    for f in &failures {
        say(&format!("  {f}"));
    }
    // Not vacuous: hostile markup went through the pipeline.
    assert!(
        c.hostile >= 100,
        "only {} hostile documents yielded items",
        c.hostile
    );
    assert!(
        failures.is_empty(),
        "{} problems (listed on stderr)",
        failures.len()
    );
}

#[test]
fn the_checks_catch_what_they_look_for() {
    let bad = [
        "<p>x</p><SCRIPT>alert(1)</SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<a href=' VBScript:msgbox(1)'>x</a>",
        "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
        "<iframe src=\"http://e.x/\"></iframe>",
        "<object data=x></object>",
        "<embed src=x>",
        "<style>p{}</style>",
        "<p style=\"width: expression(alert(1))\">x</p>",
        "<meta http-equiv=\"refresh\" content=\"0;url=http://e.x/\">",
    ];
    for html in bad {
        assert!(!unsafe_html(html).is_empty(), "{html}");
    }
    let fine = [
        "<p dir=\"rtl\" lang=\"ar\">نص عن javascript: و data: في الشرح</p>",
        "<a href=\"https://example.com/on=1\" title=\"onion\">x</a>",
        "<img src=\"https://example.com/a.png\" alt=\"&lt;script&gt;\">",
        "a &lt;script&gt; b",
    ];
    for html in fine {
        assert_eq!(unsafe_html(html), Vec::<String>::new(), "{html}");
    }
}

/// The markup of every hostile case of feedparser's sanitizer corpus (the
/// HTML its entries carry, XML-decoded), for use in other fields.
fn sanitizer_vectors(dir: &Path) -> Vec<(String, String)> {
    let element = regex::Regex::new(r"(?s)<(content|summary|description|body|title|info|tagline)(?:\s[^>]*)?>(.*?)</(?:content|summary|description|body|title|info|tagline)>").unwrap();
    let hostile = regex::Regex::new(r"(?i)script|\bon[a-z]+\s*=|expression\(|javascript:|vbscript:|data:|<(iframe|object|embed|style|meta|img|a|link|applet|frame)").unwrap();
    let mut files = Vec::new();
    walk(&dir.join("wellformed/sanitize"), &mut files);
    let mut out = Vec::new();
    for path in files {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let body = text.split_once("-->").map_or(&*text, |(_, b)| b);
        for cap in element.captures_iter(body) {
            let raw = cap[2].trim();
            let raw = raw
                .strip_prefix("<![CDATA[")
                .and_then(|r| r.strip_suffix("]]>"))
                .map(str::to_owned)
                .or_else(|| quick_xml::escape::unescape(raw).ok().map(|c| c.into_owned()));
            if let Some(v) = raw.filter(|v| hostile.is_match(v)) {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, v));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// Markup a reader rendering the field as HTML would act on: a tag, an
/// event handler, a `javascript:` URL.
fn markup_in_text(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
    {
        return Some("a tag");
    }
    let lower = s.to_ascii_lowercase();
    if regex::Regex::new(r"\bon[a-z]+\s*=").unwrap().is_match(&lower) && lower.contains('<') {
        return Some("an event handler");
    }
    let squeezed: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    if squeezed.contains("javascript:") || squeezed.contains("vbscript:") {
        return Some("a script URL");
    }
    None
}

/// The title-like fields of rendered RSS or Atom, XML-decoded: titles,
/// author and source names, categories (text and `term`/`label`).
fn title_fields(xml: &[u8]) -> Vec<(String, String)> {
    let xml = std::str::from_utf8(xml).expect("renders are UTF-8");
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let title_like = |p: &[String]| {
        let last = p.last().map(String::as_str).unwrap_or_default();
        let inside_content = p.iter().any(|e| {
            matches!(
                e.as_str(),
                "content" | "summary" | "description" | "content:encoded"
            )
        });
        !inside_content
            && matches!(
                last,
                "title" | "name" | "author" | "dc:creator" | "category" | "source" | "feedwire:source"
            )
    };
    loop {
        let event = reader.read_event().expect("renders are XML");
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name().as_ref().to_owned();
                for attr in e.attributes() {
                    let attr = attr.unwrap();
                    let key = attr.key.as_ref().to_owned();
                    if name == "category" && matches!(key.as_str(), "term" | "label") {
                        let value = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned();
                        out.push((format!("category@{key}"), value));
                    }
                }
                if matches!(event, Event::Start(_)) {
                    path.push(name);
                    texts.push(String::new());
                }
            }
            Event::Text(ref t) => {
                if let Some(s) = texts.last_mut() {
                    s.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::CData(ref t) => {
                if let Some(s) = texts.last_mut() {
                    s.push_str(t);
                }
            }
            Event::GeneralRef(ref r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(r)
                        .unwrap_or_default()
                        .to_owned(),
                };
                if let Some(s) = texts.last_mut() {
                    s.push_str(&c);
                }
            }
            Event::End(_) => {
                let text = texts.pop().unwrap_or_default();
                if title_like(&path) {
                    out.push((path.join("/"), text));
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Issue 11: titles are text. The XSS vectors of feedparser's sanitizer
/// corpus, placed in item titles (as RSS text and as Atom `type="html"`),
/// author names, categories, the feed's title and the configured feed name,
/// never reach a reader as markup in any of those fields of the RSS, Atom
/// or JSON Feed output. Text that only looks like markup stays.
#[test]
fn xss_vectors_in_titles_reach_no_reader_as_markup() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(dir) = corpus_dir(std::env::var_os("FEEDWIRE_CORPUS"), root) else {
        say("titles: feedparser corpus not found; set FEEDWIRE_CORPUS (test skipped, nothing checked)");
        return;
    };
    let vectors = sanitizer_vectors(&dir);
    assert!(vectors.len() >= 50, "only {} vectors", vectors.len());
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let url = Url::parse("http://localhost:8097/tests/titles.xml").unwrap();
    let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    let mut problems = Vec::new();
    let mut items = 0;
    for (file, v) in &vectors {
        let x = esc(v);
        let rss = format!(
            "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>{x} قناة</title><link>http://example.com/</link>\
<item><title>{x} عنوان</title><link>http://example.com/1</link><dc:creator>{x}</dc:creator><category>{x}</category></item></channel></rss>"
        );
        let atom = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">{x}</title><id>urn:x</id><updated>2025-01-01T00:00:00Z</updated>\
<entry><title type=\"html\">{x} عنوان</title><link href=\"http://example.com/2\"/><id>urn:y</id><updated>2025-01-01T00:00:00Z</updated>\
<author><name>{x}</name></author><category term=\"{x}\" label=\"{x}\"/></entry></feed>"
        );
        for (format, doc) in [("rss", rss), ("atom", atom)] {
            let parsed = match parse_feed(
                FeedRef { url: &url, name: v },
                doc.as_bytes(),
                None,
                now,
                Limits::default(),
            ) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("{file} ({format}): not read: {e}"));
                    continue;
                }
            };
            items += parsed.items.len();
            if parsed.items.is_empty() {
                problems.push(format!("{file} ({format}): no item"));
                continue;
            }
            let mut fields: Vec<(String, String)> = Vec::new();
            fields.extend(parsed.title.iter().map(|t| ("feed title".to_owned(), t.clone())));
            let output = OutputConfig {
                name: "titles".into(),
                title: "عناوين".into(),
                max_items: 10,
                ..Default::default()
            };
            let base = Url::parse("http://127.0.0.1:8080/").unwrap();
            let meta = OutputMeta::new(&output, &base);
            for (f, doc) in [
                ("rss", render_rss(&meta, &parsed.items)),
                ("atom", render_atom(&meta, &parsed.items)),
            ] {
                fields.extend(
                    title_fields(&doc)
                        .into_iter()
                        .map(|(k, v)| (format!("{f} {k}"), v)),
                );
            }
            let json: serde_json::Value = serde_json::from_slice(&render_json(&meta, &parsed.items)).unwrap();
            for item in json["items"].as_array().unwrap() {
                fields.push((
                    "json title".into(),
                    item["title"].as_str().unwrap_or_default().into(),
                ));
                for a in item["authors"].as_array().into_iter().flatten() {
                    fields.push((
                        "json author".into(),
                        a["name"].as_str().unwrap_or_default().into(),
                    ));
                }
                for t in item["tags"].as_array().into_iter().flatten() {
                    fields.push(("json tag".into(), t.as_str().unwrap_or_default().into()));
                }
                for s in item["_feedwire"]["sources"].as_array().into_iter().flatten() {
                    fields.push((
                        "json source".into(),
                        s["name"].as_str().unwrap_or_default().into(),
                    ));
                }
            }
            for (field, text) in fields {
                if let Some(what) = markup_in_text(&text) {
                    problems.push(format!(
                        "{file} ({format}) {field}: {what} in {:?}",
                        snippet(&text)
                    ));
                }
            }
        }
    }
    say(&format!(
        "titles: {} XSS vectors from the sanitizer corpus placed in titles, authors, categories, feed titles and names; {items} items checked; {} problems",
        vectors.len(),
        problems.len()
    ));
    for p in problems.iter().take(40) {
        say(&format!("  {p}"));
    }
    assert!(
        problems.is_empty(),
        "{} problems (listed on stderr)",
        problems.len()
    );
}
