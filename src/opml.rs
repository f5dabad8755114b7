//! OPML: the subscription-list format every feed reader imports and exports.
//!
//! Three pure functions, wired up elsewhere (`GET /feeds.opml`,
//! `feedwire export-opml`, `feedwire import-opml FILE`):
//!
//! - [`export`] writes the configured feeds as an OPML 2.0 document, one
//!   `<outline type="rss">` per feed, its tags as the `category` attribute.
//! - [`parse`] reads the feeds out of an OPML 1.0 or 2.0 file as found in the
//!   wild: nested folders (a folder's name becomes a tag of the feeds inside
//!   it), `category` attributes, `xmlUrl` in any letter case, `text` or
//!   `title`, a BOM, HTML entities such as `&nbsp;`.
//! - [`add_feeds`] appends `[[feed]]` tables to the text of `feeds.toml` for
//!   the feeds it does not have yet. The existing text is kept byte for byte
//!   (comments, blank lines, key order): the new tables are rendered with
//!   `toml_edit` and appended after it, and the result is parsed again before
//!   it is returned.
//!
//! Feeds are compared by [`ItemKey::from_link`], as `config` does when it
//! rejects duplicate feeds: `http`/`https`, tracking parameters and host case
//! do not make two feeds different.

use std::collections::{HashMap, HashSet};

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer, XmlVersion};
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table};
use url::Url;

use crate::config::Config;
use crate::item::{is_web, ItemKey};
use crate::parse::clean_text;

/// The `<title>` of exported documents.
const EXPORT_TITLE: &str = "feedwire feeds";

/// A feed found in an OPML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpmlFeed {
    /// The feed's URL (`xmlUrl`); always http or https.
    pub url: Url,
    /// The outline's `text`, else its `title`; `None` when both are blank.
    pub name: Option<String>,
    /// The names of the enclosing folders, outermost first, then the
    /// `category` entries; without duplicates.
    pub tags: Vec<String>,
}

/// What [`add_feeds`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// The new TOML text: the old text unchanged, then the new tables.
    pub text: String,
    /// How many `[[feed]]` tables were appended.
    pub added: usize,
    /// How many feeds were left out: already configured, repeated in the
    /// list itself, or not http(s).
    pub skipped: usize,
}

/// Why an OPML file could not be read or `feeds.toml` could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    /// Well-formed enough to read, but not OPML (an RSS feed, an HTML page,
    /// plain text).
    #[error("not an OPML file: {0}")]
    NotOpml(String),
    /// The OPML file is not well-formed XML.
    #[error("malformed OPML at line {line}, column {column}: {message}")]
    Xml {
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },
    /// The config text is not valid TOML; the message locates the problem.
    #[error("config is not valid TOML: {0}")]
    Toml(String),
    /// `feed` exists in the config but is not an array of `[[feed]]` tables,
    /// so tables cannot be appended to it.
    #[error("config key `feed` is {0}, not a list of [[feed]] tables; rewrite it as [[feed]] tables to import feeds")]
    FeedNotTables(String),
    /// Appending would not give valid TOML; a bug, reported rather than
    /// writing a broken config.
    #[error("appending [[feed]] tables would make the config invalid: {0}")]
    Append(String),
}

// ---------------------------------------------------------------------------
// Export

/// OPML 2.0 document listing the configured feeds. `html_urls` maps a feed URL
/// to its site link when known (may be empty); its keys are compared as
/// canonical links, so any spelling of the configured URL matches.
///
/// The output is deterministic (no dates): feeds in config order, each an
/// `<outline type="rss" text title xmlUrl htmlUrl? category?>`, tags joined
/// by commas. A tag containing `,` or `/` reads back as several tags, since
/// OPML uses both as separators.
///
/// `published`: for subscribers (`GET /feeds.opml`), each `xmlUrl` without
/// a credential of its query ([`crate::generate::published_url`]: a private
/// feed's token is the operator's); for the operator (`export-opml`), as
/// configured.
pub fn export(config: &Config, html_urls: &HashMap<String, String>, published: bool) -> String {
    let sites: HashMap<ItemKey, &str> = html_urls
        .iter()
        .filter_map(|(feed, site)| {
            let url = Url::parse(feed.trim()).ok()?;
            Some((ItemKey::from_link(&url), site.as_str()))
        })
        .collect();

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .expect("writing to a Vec cannot fail");
    w.create_element("opml")
        .with_attribute(("version", "2.0"))
        .write_inner_content(|w| {
            w.create_element("head").write_inner_content(|w| {
                w.create_element("title")
                    .write_text_content(BytesText::new(EXPORT_TITLE))?;
                Ok(())
            })?;
            w.create_element("body").write_inner_content(|w| {
                for feed in &config.feeds {
                    let name = attr_text(&feed.name);
                    let mut outline = BytesStart::new("outline");
                    outline.push_attribute(("type", "rss"));
                    outline.push_attribute(("text", name.as_str()));
                    outline.push_attribute(("title", name.as_str()));
                    let url = if published {
                        crate::generate::published_url(feed.url.as_str())
                    } else {
                        feed.url.as_str().into()
                    };
                    outline.push_attribute(("xmlUrl", url.as_ref()));
                    if let Some(site) = sites.get(&ItemKey::from_link(&feed.url)) {
                        outline.push_attribute(("htmlUrl", attr_text(site).as_str()));
                    }
                    let tags: Vec<String> = feed
                        .tags
                        .iter()
                        .map(|t| attr_text(t))
                        .filter(|t| !t.is_empty())
                        .collect();
                    if !tags.is_empty() {
                        outline.push_attribute(("category", tags.join(",").as_str()));
                    }
                    w.write_event(Event::Empty(outline))?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .expect("writing to a Vec cannot fail");
    let mut out = String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given");
    out.push('\n');
    out
}

/// Text fit for an attribute: no XML-illegal characters, and whitespace
/// (newlines included, which attribute normalisation would turn into spaces
/// anyway) collapsed to single spaces. quick-xml escapes the rest.
fn attr_text(s: &str) -> String {
    clean_text(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// Parse

/// Reads every outline with an `xmlUrl`, nested outlines included.
///
/// - The name is the outline's `text`, else its `title`.
/// - Tags: the `text` (else `title`) of every enclosing outline that has no
///   `xmlUrl` of its own (a folder), outermost first; then the `category`
///   attribute, split on `,` and `/` as OPML 2.0 writes categories
///   (`"/Politics/Arab world,news"` gives three tags).
/// - `xmlUrl` is matched in any letter case (`xmlurl`, `XMLURL`). Outlines
///   whose `xmlUrl` is blank, unparsable or not http(s) are skipped without
///   error, as are outlines without one (folders, links).
/// - A leading BOM is ignored; HTML entities that are common in the wild
///   (`&nbsp;`, `&eacute;`…) are resolved, and an attribute with an unknown
///   entity is taken as written. Anything after `</opml>` is ignored.
///
/// Fails on input that is not XML or whose root element is not `<opml>`.
/// The feeds come in document order, repeats included (a feed filed in two
/// folders appears twice; [`add_feeds`] merges such repeats).
pub fn parse(opml: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let text = opml.strip_prefix('\u{feff}').unwrap_or(opml);
    let mut reader = Reader::from_str(text);
    let mut feeds = Vec::new();
    // One entry per open element below the root: the folder name an open
    // `<outline>` gives its children, `None` for anything else.
    let mut open: Vec<Option<String>> = Vec::new();
    let mut seen_root = false;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| xml_error(text, reader.error_position(), &e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                if !seen_root {
                    seen_root = true;
                    let name = e.local_name();
                    if !name.as_ref().eq_ignore_ascii_case("opml") {
                        return Err(OpmlError::NotOpml(format!(
                            "the root element is <{}>, not <opml>",
                            e.name().as_ref()
                        )));
                    }
                    if is_empty {
                        break;
                    }
                    continue;
                }
                let folder = if e.local_name().as_ref().eq_ignore_ascii_case("outline") {
                    let outline = read_outline(e, text, &reader)?;
                    match outline.xml_url {
                        Some(url) => {
                            if let Some(url) = web_url(&url) {
                                feeds.push(OpmlFeed {
                                    url,
                                    name: outline.name,
                                    tags: tags_of(&open, outline.category.as_deref()),
                                });
                            }
                            None
                        }
                        None => outline.name,
                    }
                } else {
                    None
                };
                if !is_empty {
                    open.push(folder);
                }
            }
            Event::End(_) => {
                // The reader checks that end tags match; the root's own end
                // tag is the one met with nothing open.
                let Some(_) = open.pop() else { break };
            }
            Event::Eof => {
                if !seen_root {
                    return Err(OpmlError::NotOpml("no XML element found".into()));
                }
                return Err(xml_error(
                    text,
                    reader.buffer_position(),
                    "the document ends before </opml>",
                ));
            }
            _ => {}
        }
    }
    Ok(feeds)
}

/// The attributes of one `<outline>` that matter to us.
struct Outline {
    xml_url: Option<String>,
    name: Option<String>,
    category: Option<String>,
}

fn read_outline(e: &BytesStart<'_>, text: &str, reader: &Reader<&[u8]>) -> Result<Outline, OpmlError> {
    let mut xml_url = None;
    let mut label = None;
    let mut title = None;
    let mut category = None;
    // Real files repeat attributes now and then; the first one wins.
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|err| xml_error(text, reader.buffer_position(), &err.to_string()))?;
        let key = attr.key.local_name();
        let slot = match key.as_ref().to_ascii_lowercase().as_str() {
            "xmlurl" => &mut xml_url,
            "text" => &mut label,
            "title" => &mut title,
            "category" => &mut category,
            _ => continue,
        };
        if slot.is_none() {
            let value = attr
                .normalized_value_with(XmlVersion::Implicit1_0, 4, |entity| {
                    resolve_predefined_entity(entity).or_else(|| html_entity(entity))
                })
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| attr.value.clone().into_owned());
            *slot = Some(value);
        }
    }
    let name = [label, title]
        .into_iter()
        .flatten()
        .map(|s| attr_text(&s))
        .find(|s| !s.is_empty());
    Ok(Outline {
        xml_url: xml_url.filter(|u| !u.trim().is_empty()),
        name,
        category,
    })
}

/// The feed URL if it is a usable http(s) URL.
fn web_url(s: &str) -> Option<Url> {
    Url::parse(s.trim()).ok().filter(is_web)
}

/// Folder names of the open outlines, then the categories, without repeats.
fn tags_of(open: &[Option<String>], category: Option<&str>) -> Vec<String> {
    let folders = open.iter().flatten().cloned();
    let categories = category
        .unwrap_or_default()
        .split([',', '/'])
        .map(attr_text)
        .filter(|t| !t.is_empty());
    let mut tags: Vec<String> = Vec::new();
    for tag in folders.chain(categories) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// HTML entities that turn up in OPML files written by HTML-minded tools.
/// XML does not define them, so a strict parser would reject the file.
fn html_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "nbsp" => "\u{a0}",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "hellip" => "…",
        "mdash" => "—",
        "ndash" => "–",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "middot" => "·",
        "bull" => "•",
        "eacute" => "é",
        "egrave" => "è",
        "agrave" => "à",
        "aacute" => "á",
        "ccedil" => "ç",
        "uuml" => "ü",
        "ouml" => "ö",
        "auml" => "ä",
        _ => return None,
    })
}

fn xml_error(text: &str, position: u64, message: &str) -> OpmlError {
    let offset = usize::try_from(position).unwrap_or(usize::MAX).min(text.len());
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    OpmlError::Xml {
        line,
        column: before[line_start..].chars().count() + 1,
        message: message.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Import into feeds.toml

/// A `[[feed]]` table about to be appended.
struct NewFeed {
    url: Url,
    name: Option<String>,
    tags: Vec<String>,
}

/// Appends `[[feed]]` tables for feeds not already in the TOML text (compared
/// by [`ItemKey::from_link`]), preserving every comment and the layout of what
/// is there: the old text is a prefix of the new one (after a line break, if
/// it did not end with one). Returns the new text and the counts.
///
/// - Each new table has `url`, then `name` when known, then `tags` when any.
/// - A feed listed twice in `feeds` is added once, with the tags of both.
/// - A name already used by another feed (config rejects duplicate names) is
///   made unique with the feed's host, e.g. `"Politics (www.bbc.com)"`.
/// - Feeds that are not http(s) are skipped, as config would reject them.
/// - The `feed` array is created when the document has none; if `feed` is
///   something else (an inline array, a `[feed]` table) this fails.
/// - Line endings follow the existing text (`\r\n` if it uses them).
///
/// With nothing to add, the text comes back unchanged.
pub fn add_feeds(toml_text: &str, feeds: &[OpmlFeed]) -> Result<Added, OpmlError> {
    let doc: DocumentMut = toml_text
        .parse()
        .map_err(|e: toml_edit::TomlError| OpmlError::Toml(e.to_string().trim().to_owned()))?;

    let mut known_urls: HashSet<ItemKey> = HashSet::new();
    let mut known_names: HashSet<String> = HashSet::new();
    let existing = match doc.get("feed") {
        None => 0,
        Some(Item::ArrayOfTables(tables)) => {
            for table in tables.iter() {
                if let Some(url) = table.get("url").and_then(Item::as_str).and_then(web_url) {
                    known_urls.insert(ItemKey::from_link(&url));
                }
                if let Some(name) = table.get("name").and_then(Item::as_str) {
                    known_names.insert(name.to_owned());
                }
            }
            tables.len()
        }
        Some(other) => return Err(OpmlError::FeedNotTables(describe(other))),
    };

    let mut new: Vec<NewFeed> = Vec::new();
    let mut new_index: HashMap<ItemKey, usize> = HashMap::new();
    let mut skipped = 0;
    for feed in feeds {
        let key = ItemKey::from_link(&feed.url);
        if !is_web(&feed.url) || known_urls.contains(&key) {
            skipped += 1;
            continue;
        }
        if let Some(&i) = new_index.get(&key) {
            let earlier = &mut new[i];
            for tag in &feed.tags {
                if !earlier.tags.contains(tag) {
                    earlier.tags.push(tag.clone());
                }
            }
            if earlier.name.is_none() {
                earlier.name.clone_from(&feed.name);
            }
            skipped += 1;
            continue;
        }
        new_index.insert(key, new.len());
        new.push(NewFeed {
            url: feed.url.clone(),
            name: feed.name.clone(),
            tags: feed.tags.clone(),
        });
    }
    if new.is_empty() {
        return Ok(Added {
            text: toml_text.to_owned(),
            added: 0,
            skipped,
        });
    }

    let mut tables = ArrayOfTables::new();
    for feed in &new {
        let mut table = Table::new();
        table.insert("url", toml_edit::value(feed.url.as_str()));
        let name = feed
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| unique_name(n, &feed.url, &mut known_names));
        if let Some(name) = name {
            table.insert("name", toml_edit::value(name));
        }
        let tags: Array = feed
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        if !tags.is_empty() {
            table.insert("tags", toml_edit::value(tags));
        }
        tables.push(table);
    }
    let mut appended = DocumentMut::new();
    appended.insert("feed", Item::ArrayOfTables(tables));
    let appended = appended.to_string();

    let newline = if toml_text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut text = toml_text.to_owned();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            text.push_str(newline);
        }
        if !text.trim_end_matches(['\r', '\n']).is_empty()
            && !text.ends_with("\n\n")
            && !text.ends_with("\n\r\n")
        {
            text.push_str(newline);
        }
    }
    text.push_str(&appended.replace('\n', newline));

    // Appending a `[[feed]]` table is valid whenever `feed` is absent or an
    // array of tables, checked above; confirm rather than trust.
    let check: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| OpmlError::Append(e.to_string().trim().to_owned()))?;
    let total = check
        .get("feed")
        .and_then(Item::as_array_of_tables)
        .map_or(0, ArrayOfTables::len);
    if total != existing + new.len() {
        return Err(OpmlError::Append(format!(
            "expected {} [[feed]] tables, found {total}",
            existing + new.len()
        )));
    }
    Ok(Added {
        text,
        added: new.len(),
        skipped,
    })
}

/// `name`, or `name (host)`, or `name (2)`… whichever is not taken yet; the
/// result is recorded as taken.
fn unique_name(name: &str, url: &Url, taken: &mut HashSet<String>) -> String {
    let mut candidates = vec![name.to_owned()];
    if let Some(host) = url.host_str() {
        candidates.push(format!("{name} ({host})"));
    }
    let chosen = candidates
        .into_iter()
        .chain((2..).map(|n| format!("{name} ({n})")))
        .find(|c| !taken.contains(c))
        .expect("an endless list has a free name");
    taken.insert(chosen.clone());
    chosen
}

/// What a TOML item is, for an error message.
fn describe(item: &Item) -> String {
    match item {
        Item::None => "empty".into(),
        Item::Table(_) => "a [feed] table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::Value(v) => format!("{} value", a_or_an(v.type_name())),
    }
}

fn a_or_an(word: &str) -> String {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn feed(u: &str, name: Option<&str>, tags: &[&str]) -> OpmlFeed {
        OpmlFeed {
            url: url(u),
            name: name.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    /// Reads a document through every event, as a strict consumer would:
    /// end tags must match and every attribute must unescape.
    fn assert_well_formed(xml: &str) {
        let mut reader = Reader::from_str(xml);
        let mut depth = 0usize;
        let mut roots = 0;
        loop {
            match reader.read_event().unwrap_or_else(|e| panic!("{e} in\n{xml}")) {
                Event::Start(e) => {
                    if depth == 0 {
                        roots += 1;
                    }
                    depth += 1;
                    for a in e.attributes() {
                        a.unwrap().normalized_value(XmlVersion::Explicit1_0).unwrap();
                    }
                }
                Event::Empty(e) => {
                    for a in e.attributes() {
                        a.unwrap().normalized_value(XmlVersion::Explicit1_0).unwrap();
                    }
                }
                Event::End(_) => depth -= 1,
                Event::Text(t) => assert!(depth > 0 || t.trim_ascii().is_empty(), "text outside the root"),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!((depth, roots), (0, 1), "one root element, closed");
    }

    const CONFIG: &str = r#"
[[output]]
name = "politics"
tags = ["politics"]

[[feed]]
url = "https://feeds.bbci.co.uk/arabic/rss.xml"
name = "BBC عربي"
tags = ["politics", "ar", "الشرق الأوسط"]

[[feed]]
url = "https://www.example.com/rss?a=1&b=2"
name = "Tom & Jerry's \"news\" <wire>"
tags = ["politics"]

[[feed]]
url = "https://www.theguardian.com/politics/rss"
"#;

    fn config() -> Config {
        Config::parse(Path::new("feeds.toml"), CONFIG).unwrap()
    }

    #[test]
    fn export_writes_utf8_and_escapes() {
        let mut sites = HashMap::new();
        // Any spelling of the configured URL finds the site.
        sites.insert(
            "http://FEEDS.bbci.co.uk/arabic/rss.xml?utm_source=x".to_owned(),
            "https://www.bbc.com/arabic".to_owned(),
        );
        let xml = export(&config(), &sites, false);
        assert_well_formed(&xml);
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<outline type="rss" text="BBC عربي" title="BBC عربي" xmlUrl="https://feeds.bbci.co.uk/arabic/rss.xml" htmlUrl="https://www.bbc.com/arabic" category="politics,ar,الشرق الأوسط"/>"#
            ),
            "{xml}"
        );
        assert!(!xml.contains("&#"), "no numeric entities: {xml}");
        assert!(
            xml.contains(r#"text="Tom &amp; Jerry&apos;s &quot;news&quot; &lt;wire&gt;""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"xmlUrl="https://www.example.com/rss?a=1&amp;b=2""#),
            "{xml}"
        );
        // No tags, no category; the name config gave it is the host.
        assert!(
            xml.contains(r#"text="www.theguardian.com" title="www.theguardian.com" xmlUrl="https://www.theguardian.com/politics/rss"/>"#),
            "{xml}"
        );
        assert!(!xml.contains("dateCreated"), "deterministic: {xml}");
        assert_eq!(xml, export(&config(), &sites, false));
    }

    #[test]
    fn export_parses_back() {
        let c = config();
        let feeds = parse(&export(&c, &HashMap::new(), false)).unwrap();
        assert_eq!(feeds.len(), c.feeds.len());
        for (got, want) in feeds.iter().zip(&c.feeds) {
            assert_eq!(got.url, want.url);
            assert_eq!(got.name.as_deref(), Some(want.name.as_str()));
            assert_eq!(got.tags, want.tags);
        }
    }

    /// `/feeds.opml` (published) leaves a private feed's token out of its
    /// `xmlUrl`; `export-opml`, the operator's, keeps the URL as configured.
    #[test]
    fn the_published_export_leaves_feed_tokens_out() {
        let mut c = config();
        c.feeds.truncate(1);
        c.feeds[0].url = Url::parse("https://github.com/ali.private.atom?token=AB12&lang=ar").unwrap();
        let published = export(&c, &HashMap::new(), true);
        assert_well_formed(&published);
        assert!(!published.contains("AB12"), "{published}");
        let feeds = parse(&published).unwrap();
        assert_eq!(
            feeds[0].url.as_str(),
            "https://github.com/ali.private.atom?lang=ar"
        );
        let own = export(&c, &HashMap::new(), false);
        assert_eq!(parse(&own).unwrap()[0].url, c.feeds[0].url);
    }

    #[test]
    fn export_of_no_feeds_and_odd_characters() {
        let mut c = config();
        c.feeds.truncate(1);
        c.feeds[0].name = "bad\u{1}\u{FFFE} line\nbreak".into();
        c.feeds[0].tags = vec!["a".into(), " ".into()];
        let xml = export(&c, &HashMap::new(), false);
        assert_well_formed(&xml);
        assert!(xml.contains(r#"text="bad line break""#), "{xml}");
        assert!(xml.contains(r#"category="a"/>"#), "{xml}");
        c.feeds.clear();
        let xml = export(&c, &HashMap::new(), false);
        assert_well_formed(&xml);
        assert_eq!(parse(&xml).unwrap(), vec![]);
    }

    const NESTED: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE opml>
<!-- exported by some reader -->
<opml version=\"1.0\">
  <head>
    <title>اشتراكاتي</title>
    <dateCreated>Sun, 29 Nov 2026 10:00:00 GMT</dateCreated>
  </head>
  <body>
    <outline text=\"أخبار عربية\" title=\"أخبار عربية\">
      <outline text=\"سياسة\">
        <outline type=\"rss\" text=\"الجزيرة نت\" xmlUrl=\"https://www.aljazeera.net/rss\" htmlUrl=\"https://www.aljazeera.net/\" category=\"/مصر/سياسة,عاجل\"/>
        <outline type=\"rss\" title=\"Only&#32;a&nbsp;title &amp; more\" xmlurl=\"http://arabic.rt.com/rss/\"/>
      </outline>
      <outline type=\"rss\" text=\"  \" XMLURL=\" https://www.skynewsarabia.com/rss \"></outline>
    </outline>
    <outline text=\"English\">
      <outline type=\"rss\" text=\"The Guardian\" xmlUrl=\"https://www.theguardian.com/world/rss\" category=\"world, english\"/>
      <outline type=\"rss\" text=\"Mail\" xmlUrl=\"mailto:news@example.com\"/>
      <outline type=\"rss\" text=\"Broken\" xmlUrl=\"http://\"/>
      <outline type=\"rss\" text=\"Blank\" xmlUrl=\"\"/>
      <outline type=\"link\" text=\"A web page\" url=\"https://example.com/\"/>
      <outline type=\"rss\" text=\"Has children\" xmlUrl=\"https://example.org/feed\">
        <outline type=\"rss\" text=\"Child\" xmlUrl=\"https://example.org/child\" category=\"Weird &foo; entity\"/>
      </outline>
    </outline>
    <outline type=\"rss\" text=\"Top level\" xmlUrl=\"https://toplevel.example/rss\"/>
  </body>
</opml>
<!-- trailing junk <not closed -->";

    #[test]
    fn parse_nested_real_world() {
        let feeds = parse(NESTED).unwrap();
        let want = vec![
            feed(
                "https://www.aljazeera.net/rss",
                Some("الجزيرة نت"),
                &["أخبار عربية", "سياسة", "مصر", "عاجل"],
            ),
            feed(
                "http://arabic.rt.com/rss/",
                Some("Only a title & more"),
                &["أخبار عربية", "سياسة"],
            ),
            feed("https://www.skynewsarabia.com/rss", None, &["أخبار عربية"]),
            feed(
                "https://www.theguardian.com/world/rss",
                Some("The Guardian"),
                &["English", "world", "english"],
            ),
            feed("https://example.org/feed", Some("Has children"), &["English"]),
            // A feed outline is not a folder; the unknown entity is kept as written.
            feed(
                "https://example.org/child",
                Some("Child"),
                &["English", "Weird &foo; entity"],
            ),
            feed("https://toplevel.example/rss", Some("Top level"), &[]),
        ];
        assert_eq!(feeds, want);
    }

    #[test]
    fn parse_minimal_and_empty() {
        assert_eq!(parse("<opml/>").unwrap(), vec![]);
        assert_eq!(
            parse("<opml version=\"2.0\"><head/><body/></opml>").unwrap(),
            vec![]
        );
        let feeds = parse("<opml><body><outline xmlUrl=\"https://a.example/f\"/></body></opml>").unwrap();
        assert_eq!(feeds, vec![feed("https://a.example/f", None, &[])]);
    }

    #[test]
    fn non_opml_is_an_error() {
        let cases: &[(&str, &str)] = &[
            (
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>",
                "not an OPML file: the root element is <rss>, not <opml>",
            ),
            (
                "<!DOCTYPE html><html><body>hi</body></html>",
                "not an OPML file: the root element is <html>, not <opml>",
            ),
            ("", "not an OPML file: no XML element found"),
            (
                "[[feed]]\nurl = \"x\"\n",
                "not an OPML file: no XML element found",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input).unwrap_err();
            assert!(matches!(err, OpmlError::NotOpml(_)), "{input}: {err:?}");
            assert_eq!(&err.to_string(), want);
        }
    }

    #[test]
    fn malformed_xml_is_located() {
        let err = parse("<opml>\n<body>\n  <outline text=\"a\"></body>\n</opml>").unwrap_err();
        let OpmlError::Xml { line, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(line, 3, "{err}");
        assert!(
            err.to_string().starts_with("malformed OPML at line 3, column "),
            "{err}"
        );

        let err = parse("<opml><body><outline xmlUrl=\"https://a.example/f\"/>").unwrap_err();
        assert!(err.to_string().contains("ends before </opml>"), "{err}");
    }

    const FEEDS_TOML: &str = r#"# feedwire configuration.
# Comments must survive an import.

[server]
listen = "127.0.0.1:8080"   # trailing comment

[[output]]
name = "politics"
tags = ["politics"]

# --- Arabic ---

[[feed]]
# The BBC, over plain http in this file.
url = "http://feeds.bbci.co.uk/arabic/rss.xml"
name = "BBC عربي"
tags = ["politics", "ar"]   # both outputs
interval = "10m"

[[feed]]
url    =   "https://www.aljazeera.net/rss"  # odd spacing kept
tags = [ "politics" ]

# --- end of list ---
"#;

    #[test]
    fn add_feeds_preserves_and_skips_duplicates() {
        let before = Config::parse(Path::new("feeds.toml"), FEEDS_TOML).unwrap();
        let feeds = vec![
            // Already there: https vs http, tracking parameters, host case.
            feed(
                "https://FEEDS.bbci.co.uk/arabic/rss.xml?utm_source=opml",
                Some("BBC"),
                &[],
            ),
            feed("http://www.aljazeera.net/rss#top", None, &[]),
            // New, with a name that is taken.
            feed(
                "https://www.bbc.com/arabic/rss.xml",
                Some("BBC عربي"),
                &["أخبار", "politics"],
            ),
            // New; listed twice (two folders), merged.
            feed("https://www.skynewsarabia.com/rss", None, &["عاجل"]),
            feed(
                "http://www.skynewsarabia.com/rss?utm_medium=x",
                Some("سكاي نيوز عربية"),
                &["عاجل", "politics"],
            ),
            // New, with a name needing escapes.
            feed("https://example.com/a\"b", Some("Tom \"T\" \\ Jerry"), &[]),
        ];
        let out = add_feeds(FEEDS_TOML, &feeds).unwrap();
        assert_eq!((out.added, out.skipped), (3, 3), "{}", out.text);
        assert!(out.text.starts_with(FEEDS_TOML), "{}", out.text);
        let tail = &out.text[FEEDS_TOML.len()..];
        assert_eq!(
            tail,
            r#"
[[feed]]
url = "https://www.bbc.com/arabic/rss.xml"
name = "BBC عربي (www.bbc.com)"
tags = ["أخبار", "politics"]

[[feed]]
url = "https://www.skynewsarabia.com/rss"
name = "سكاي نيوز عربية"
tags = ["عاجل", "politics"]

[[feed]]
url = "https://example.com/a%22b"
name = 'Tom "T" \ Jerry'
"#
        );

        let after =
            Config::parse(Path::new("feeds.toml"), &out.text).unwrap_or_else(|e| panic!("{e}\n{}", out.text));
        assert_eq!(after.feeds.len(), before.feeds.len() + 3);
        assert_eq!(after.feeds[..2], before.feeds[..]);
        assert_eq!(after.feeds[3].name, "سكاي نيوز عربية");
        assert_eq!(after.feeds[4].name, "Tom \"T\" \\ Jerry");

        // Importing again adds nothing and changes nothing.
        let again = add_feeds(&out.text, &feeds).unwrap();
        assert_eq!((again.added, again.skipped), (0, 6));
        assert_eq!(again.text, out.text);
    }

    #[test]
    fn add_feeds_creates_the_array() {
        let text = "# no feeds yet\n[[output]]\nname = \"all\"\n\n[poll]\ninterval = \"15m\" # keep";
        let out = add_feeds(text, &[feed("https://a.example/rss", Some("A"), &["x"])]).unwrap();
        assert_eq!(out.added, 1);
        assert_eq!(
            out.text,
            format!("{text}\n\n[[feed]]\nurl = \"https://a.example/rss\"\nname = \"A\"\ntags = [\"x\"]\n")
        );
        let c = Config::parse(Path::new("feeds.toml"), &out.text).unwrap();
        assert_eq!(c.feeds[0].url.as_str(), "https://a.example/rss");
        assert_eq!(c.poll.interval.as_secs(), 900);

        let out = add_feeds("", &[feed("https://a.example/rss", None, &[])]).unwrap();
        assert_eq!(out.text, "[[feed]]\nurl = \"https://a.example/rss\"\n");
    }

    #[test]
    fn add_feeds_after_other_tables() {
        // The array is extended even when other tables follow its last entry.
        let text = "[[feed]]\nurl = \"https://a.example/rss\"\n\n[[output]]\nname = \"all\"\n\n[poll]\nconcurrency = 2\n";
        let out = add_feeds(text, &[feed("https://b.example/rss", None, &["x"])]).unwrap();
        assert!(out.text.starts_with(text), "{}", out.text);
        let c = Config::parse(Path::new("feeds.toml"), &out.text).unwrap();
        let urls: Vec<&str> = c.feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(urls, ["https://a.example/rss", "https://b.example/rss"]);
        assert_eq!(c.poll.concurrency, 2);
    }

    #[test]
    fn add_feeds_keeps_crlf() {
        let text = "[[output]]\r\nname = \"all\"\r\n\r\n[[feed]]\r\nurl = \"https://a.example/rss\"\r\n";
        let out = add_feeds(text, &[feed("https://b.example/rss", Some("B"), &[])]).unwrap();
        assert_eq!(
            out.text,
            format!("{text}\r\n[[feed]]\r\nurl = \"https://b.example/rss\"\r\nname = \"B\"\r\n")
        );
        Config::parse(Path::new("feeds.toml"), &out.text).unwrap();
    }

    #[test]
    fn add_feeds_refuses_what_it_cannot_extend() {
        let one = [feed("https://b.example/rss", None, &[])];
        let err = add_feeds("feed = [{ url = \"https://a.example/rss\" }]\n", &one).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config key `feed` is an array value, not a list of [[feed]] tables; rewrite it as [[feed]] tables to import feeds"
        );
        let err = add_feeds("[feed]\nurl = \"x\"\n", &one).unwrap_err();
        assert!(err.to_string().contains("is a [feed] table"), "{err}");
        let err = add_feeds("[poll\n", &one).unwrap_err();
        assert!(matches!(err, OpmlError::Toml(_)), "{err:?}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn shipped_config_and_its_export_round_trip() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let c = Config::parse(&path, &text).unwrap();
        let feeds = parse(&export(&c, &HashMap::new(), false)).unwrap();
        assert_eq!(feeds.len(), c.feeds.len());
        // Everything exported is already configured.
        let out = add_feeds(&text, &feeds).unwrap();
        assert_eq!((out.added, out.skipped, out.text == text), (0, feeds.len(), true));
    }
}
