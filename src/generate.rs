//! Renders stored items into the published documents: RSS 2.0 (`rss` crate),
//! Atom 1.0 (`atom_syndication`) and JSON Feed 1.1 (`serde_json`).
//!
//! Sans-IO: `(output, items) -> bytes`, tested by parsing the result back.
//! The output depends only on its inputs (no build time stamped in), so that
//! equal content gives equal bytes and an unchanged feed keeps its ETag.
//!
//! Attribution: every item names the feed it came from (RSS `<source>`, Atom
//! `<source>`, JSON Feed `_feedwire.sources`). Atom and RSS allow one source,
//! so when several outlets carried the same link the others are listed in a
//! footer paragraph of the content and as `<feedwire:source>` elements
//! (namespace [`NAMESPACE`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use regex::Regex;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::json;
use url::Url;

use crate::config::OutputConfig;
use crate::item::{clean_link, Item, ItemKey, Source};
use crate::parse::escape_html;

/// Namespace of our own elements (`feedwire:source`).
pub const NAMESPACE: &str = "urn:x-feedwire:1";
const GENERATOR: &str = concat!("feedwire ", env!("CARGO_PKG_VERSION"));

/// The per-output facts a renderer needs beyond the items.
#[derive(Clone, Debug)]
pub struct OutputMeta<'a> {
    pub output: &'a OutputConfig,
    /// The public URL of this server (`[server] base_url`).
    pub base_url: &'a Url,
    /// Compiled `strip` patterns.
    strip: Vec<Regex>,
    /// Story clustering: for each lead item, the other outlets' reports.
    related: HashMap<ItemKey, Vec<Related>>,
}

/// Another outlet's report of the same story (story clustering).
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub outlet: String,
    pub title: String,
    pub link: Option<String>,
    /// Similarity to the lead item, in [0, 1].
    pub score: f64,
}

impl<'a> OutputMeta<'a> {
    pub fn new(output: &'a OutputConfig, base_url: &'a Url) -> OutputMeta<'a> {
        OutputMeta {
            output,
            base_url,
            // Patterns are validated when the config is loaded.
            strip: output.strip.iter().filter_map(|p| Regex::new(p).ok()).collect(),
            related: HashMap::new(),
        }
    }

    /// Adds clustering: each lead item's entry names the other reports.
    pub fn with_related(mut self, related: HashMap<ItemKey, Vec<Related>>) -> OutputMeta<'a> {
        self.related = related;
        self
    }

    fn related_of(&self, item: &Item) -> &[Related] {
        self.related.get(&item.key).map_or(&[], Vec::as_slice)
    }

    pub fn rss_url(&self) -> String {
        self.url_of("rss")
    }

    pub fn atom_url(&self) -> String {
        self.url_of("atom")
    }

    pub fn json_url(&self) -> String {
        self.url_of("json")
    }

    /// The document's public URL, the name percent-encoded (an Arabic
    /// name's self link is `.../%D8%B3...rss`, as subscribers request it).
    fn url_of(&self, ext: &str) -> String {
        let file = format!("{}.{ext}", crate::config::name::url_segment(&self.output.name));
        self.base_url
            .join(&file)
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{file}", self.base_url))
    }

    /// Summary and content as published: boilerplate removed, and for items
    /// several outlets carried, a footer naming the others.
    fn texts(&self, item: &Item) -> (Option<String>, Option<String>) {
        let clean = |s: &Option<String>| {
            s.as_ref()
                .map(|s| {
                    self.strip
                        .iter()
                        .fold(s.clone(), |acc, re| re.replace_all(&acc, "").into_owned())
                })
                .filter(|s| !s.trim().is_empty())
        };
        let summary = clean(&item.summary);
        let mut content = clean(&item.content);
        let related = self.related_of(item);
        if item.sources.len() > 1 || !related.is_empty() {
            let footer = self.footer(&item.sources[1..], related);
            content = Some(match content.or_else(|| summary.clone()) {
                Some(c) => format!("{c}{footer}"),
                None => footer,
            });
        }
        (summary, content)
    }

    /// "Also reported by": outlets that carried the same link (by name),
    /// then, for a story cluster, the other outlets' headlines.
    fn footer(&self, others: &[Source], related: &[Related]) -> String {
        let arabic = self
            .output
            .language
            .as_deref()
            .is_some_and(|l| l.starts_with("ar"));
        let (label, dir) = if arabic {
            ("ورد الخبر أيضاً في:", "rtl")
        } else {
            ("Also reported by:", "ltr")
        };
        let linked = |text: String, link: Option<String>| match link {
            Some(l) => format!("<a href=\"{}\">{text}</a>", escape_html(&l)),
            None => text,
        };
        let links: Vec<String> = others
            .iter()
            .map(|s| linked(escape_html(&s.feed_name), published_link(s)))
            .chain(related.iter().map(|r| {
                format!(
                    "{}: {}",
                    escape_html(&r.outlet),
                    linked(escape_html(&r.title), r.link.clone())
                )
            }))
            .collect();
        format!(
            "<p dir=\"{dir}\" class=\"feedwire-sources\">{label} {}</p>",
            links.join(if arabic { "، " } else { ", " })
        )
    }
}

/// A source's link as we publish it: without tracking parameters.
fn published_link(s: &Source) -> Option<String> {
    let link = s.link.as_deref()?;
    Some(
        Url::parse(link)
            .map(|u| clean_link(&u).to_string())
            .unwrap_or_else(|_| link.to_owned()),
    )
}

/// The date a document as a whole carries: its newest item's, so that it does
/// not change unless the items do.
fn newest(items: &[Item]) -> DateTime<FixedOffset> {
    let ts = items.iter().map(|i| i.date).max().unwrap_or(0);
    to_datetime(ts)
}

fn to_datetime(ts: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_opt(ts, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

/// The item's last update as published: its own `updated`, never before
/// its date. The poller stores no `updated` later than the poll that read
/// it, and a revision sets it to the entry's own or the revision's time
/// (`store::revised`), so it is never in the future of the store. (Items
/// stored before that rule may carry a future one until they are pruned;
/// it was filtered here against `first_seen`, which a revision's time
/// passes.)
fn updated(item: &Item) -> i64 {
    item.updated.unwrap_or(item.date).max(item.date)
}

/// The guid/id subscribers key on: the cleaned link, or for link-less items
/// and items whose link other entries share (readers would show one of
/// them) a URN built from the dedup key (stable, but not a URL).
pub fn item_id(item: &Item) -> (String, bool) {
    match &item.link {
        Some(link) if !item.key.shares_its_link() => (link.clone(), true),
        _ => (
            format!("urn:feedwire:{}", urlencode(&published_url(item.key.as_str()))),
            false,
        ),
    }
}

/// Query parameters whose value is a credential, by name (matched
/// case-insensitively): private and paid feeds put their token in the URL
/// (GitHub's `?token=`, GitLab's `feed_token`, Patreon's `auth`, Redmine's
/// and Inoreader's `key`...). Names ending in `token`, `secret` or
/// `password` count too.
const CREDENTIAL_PARAMS: &[&str] = &[
    "key",
    "apikey",
    "api_key",
    "api-key",
    "auth",
    "sig",
    "signature",
    "pass",
    "passwd",
    "pwd",
];

/// What of a feed URL (or of a key that holds one) may be published: no
/// login (see [`without_login`]) and no query parameter holding a
/// credential ([`CREDENTIAL_PARAMS`]), so that a private feed's token,
/// needed to fetch it, never reaches subscribers through an item's
/// source, a link-less item's id or the OPML. The other parameters stay,
/// in their order. (A token in the path cannot be told from a path.)
pub fn published_url(s: &str) -> std::borrow::Cow<'_, str> {
    let s = without_login(s);
    // A key holds its entry's guid after the first `#`; a URL its fragment.
    let end = s.find('#').unwrap_or(s.len());
    let Some(q) = s[..end].find('?') else {
        return s;
    };
    let is_credential = |param: &str| {
        let name = param.split('=').next().unwrap_or_default().to_ascii_lowercase();
        CREDENTIAL_PARAMS.contains(&name.as_str())
            || ["token", "secret", "password"].iter().any(|t| name.ends_with(t))
    };
    let params: Vec<&str> = s[q + 1..end].split('&').collect();
    if !params.iter().any(|p| is_credential(p)) {
        return s;
    }
    let kept: Vec<&str> = params.into_iter().filter(|p| !is_credential(p)).collect();
    let mut out = s[..q].to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(&s[end..]);
    out.into()
}

/// `text` (an error, a note) with every `http(s)://` URL in it as
/// [`published_url`] has it. The status is served beside the outputs, and
/// its texts may name URLs other than the feed's own (a redirect's target,
/// the feed a page links, an article page): each can carry a credential
/// of its own. A URL ends at white space, a quote or an angle bracket, and
/// not with the punctuation of the sentence around it (`.`, `,`, `;`, `:`,
/// `!`, or a `)` it did not open).
pub fn published_text(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut done = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let colon = from + found;
        let scheme = text[..colon]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_ascii_alphabetic())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = text[colon..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .map_or(text.len(), |i| colon + i);
        let mut url = &text[scheme..end];
        loop {
            let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!']);
            let trimmed = match trimmed.strip_suffix(')') {
                Some(t) if !t.contains('(') => t,
                _ => trimmed,
            };
            if trimmed.len() == url.len() {
                break;
            }
            url = trimmed;
        }
        // Past this URL, and at least past its `://`.
        from = (scheme + url.len()).max(colon + 3);
        if !matches!(
            text[scheme..colon].to_ascii_lowercase().as_str(),
            "http" | "https"
        ) {
            continue;
        }
        let shown = published_url(url);
        if shown != url {
            out.push_str(&text[done..scheme]);
            out.push_str(&shown);
            done = scheme + url.len();
        }
    }
    if done == 0 {
        return text.into();
    }
    out.push_str(&text[done..]);
    out.into()
}

/// `s` (a URL, or a key that holds one) without the `user:password@` of its
/// first authority. Feed URLs lose their login when the config is read
/// ([`crate::config::Credentials`]), but items stored by an older build
/// keep the URL they were stored with, in their sources and in the keys of
/// link-less items: what is published goes through this.
fn without_login(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = s.find("//").map(|i| i + 2) else {
        return s.into();
    };
    let authority_end = s[start..].find(['/', '?', '#']).map_or(s.len(), |i| start + i);
    match s[start..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &s[..start], &s[start + at + 1..]).into(),
        None => s.into(),
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn other_sources_rss(item: &Item, related: &[Related]) -> rss::extension::ExtensionMap {
    let related: Vec<rss::extension::Extension> = related
        .iter()
        .map(|r| rss::extension::Extension {
            name: "feedwire:related".into(),
            value: Some(r.title.clone()),
            attrs: BTreeMap::from([
                ("outlet".to_owned(), r.outlet.clone()),
                ("link".to_owned(), r.link.clone().unwrap_or_default()),
            ]),
            children: BTreeMap::new(),
        })
        .collect();
    let others: Vec<rss::extension::Extension> = item
        .sources
        .iter()
        .skip(1)
        .map(|s| rss::extension::Extension {
            name: "feedwire:source".into(),
            value: Some(s.feed_name.clone()),
            attrs: BTreeMap::from([
                ("url".to_owned(), published_url(&s.feed_url).into_owned()),
                ("link".to_owned(), published_link(s).unwrap_or_default()),
            ]),
            children: BTreeMap::new(),
        })
        .collect();
    let mut ours = BTreeMap::new();
    if !others.is_empty() {
        ours.insert("source".to_owned(), others);
    }
    if !related.is_empty() {
        ours.insert("related".to_owned(), related);
    }
    if ours.is_empty() {
        return BTreeMap::new();
    }
    BTreeMap::from([("feedwire".to_owned(), ours)])
}

/// RSS 2.0 with `content:encoded`, `dc:creator` and `<source>`.
pub fn render_rss(meta: &OutputMeta<'_>, items: &[Item]) -> Vec<u8> {
    write_rss(meta, items, Vec::new()).expect("writing to a Vec cannot fail")
}

/// [`render_rss`] into `out` (a file, a byte counter), which gets the
/// document as it is written instead of a copy of it at the end.
pub fn write_rss<W: Write>(meta: &OutputMeta<'_>, items: &[Item], out: W) -> io::Result<W> {
    let mut links = vec![rss::extension::atom::Link {
        href: meta.rss_url(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }];
    links.extend(meta.output.hubs.iter().map(|h| rss::extension::atom::Link {
        href: h.to_string(),
        rel: "hub".into(),
        ..Default::default()
    }));
    let channel = rss::Channel {
        title: meta.output.title.clone(),
        link: meta.base_url.to_string(),
        description: if meta.output.description.is_empty() {
            meta.output.title.clone()
        } else {
            meta.output.description.clone()
        },
        language: meta.output.language.clone(),
        generator: Some(GENERATOR.into()),
        // An empty output has not been built from anything: no date rather
        // than 1970 (the element is optional in RSS 2.0).
        last_build_date: (!items.is_empty()).then(|| newest(items).to_rfc2822()),
        atom_ext: Some(rss::extension::atom::AtomExtension { links }),
        namespaces: BTreeMap::from([("feedwire".to_owned(), NAMESPACE.to_owned())]),
        items: items.iter().map(|i| rss_item(meta, i)).collect(),
        ..Default::default()
    };
    // The only error writing can meet is the sink's.
    channel.write_to(out).map_err(io::Error::other)
}

fn rss_item(meta: &OutputMeta<'_>, item: &Item) -> rss::Item {
    let (id, permalink) = item_id(item);
    let (summary, content) = meta.texts(item);
    let source = item.sources.first().map(|s| rss::Source {
        url: published_url(&s.feed_url).into_owned(),
        title: Some(s.feed_name.clone()),
    });
    let dublin_core = (!item.authors.is_empty()).then(|| rss::extension::dublincore::DublinCoreExtension {
        creators: item.authors.clone(),
        ..Default::default()
    });
    rss::Item {
        title: Some(item.title.clone()),
        link: item.link.clone(),
        description: summary.or_else(|| content.clone()),
        content,
        categories: item
            .categories
            .iter()
            .map(|c| rss::Category {
                name: c.clone(),
                domain: None,
            })
            .collect(),
        guid: Some(rss::Guid { value: id, permalink }),
        pub_date: Some(to_datetime(item.date).to_rfc2822()),
        enclosure: item.enclosure.as_ref().map(|e| rss::Enclosure {
            url: e.url.clone(),
            // RSS requires both attributes; 0 is the customary "unknown".
            length: e.length.unwrap_or(0).to_string(),
            mime_type: e
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        }),
        source,
        dublin_core_ext: dublin_core,
        extensions: other_sources_rss(item, meta.related_of(item)),
        ..Default::default()
    }
}

/// Atom 1.0 with one `<source>` per entry (the first feed that carried it).
pub fn render_atom(meta: &OutputMeta<'_>, items: &[Item]) -> Vec<u8> {
    write_atom(meta, items, Vec::new()).expect("writing to a Vec cannot fail")
}

/// [`render_atom`] into `out`.
pub fn write_atom<W: Write>(meta: &OutputMeta<'_>, items: &[Item], out: W) -> io::Result<W> {
    use atom_syndication as atom;
    let mut links = vec![
        atom::Link {
            href: meta.atom_url(),
            rel: "self".into(),
            mime_type: Some("application/atom+xml".into()),
            ..Default::default()
        },
        atom::Link {
            href: meta.base_url.to_string(),
            rel: "alternate".into(),
            ..Default::default()
        },
    ];
    links.extend(meta.output.hubs.iter().map(|h| atom::Link {
        href: h.to_string(),
        rel: "hub".into(),
        ..Default::default()
    }));
    let feed = atom::Feed {
        title: atom::Text::plain(meta.output.title.clone()),
        id: meta.atom_url(),
        updated: newest(items),
        // Atom requires an author on the feed or on every entry.
        authors: vec![atom::Person {
            name: meta.output.title.clone(),
            uri: Some(meta.base_url.to_string()),
            ..Default::default()
        }],
        generator: Some(atom::Generator {
            value: "feedwire".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        links,
        subtitle: (!meta.output.description.is_empty())
            .then(|| atom::Text::plain(meta.output.description.clone())),
        lang: meta.output.language.clone(),
        namespaces: BTreeMap::from([("feedwire".to_owned(), NAMESPACE.to_owned())]),
        entries: items.iter().map(|i| atom_entry(meta, i)).collect(),
        ..Default::default()
    };
    feed.write_to(out).map_err(io::Error::other)
}

fn atom_entry(meta: &OutputMeta<'_>, item: &Item) -> atom_syndication::Entry {
    use atom_syndication as atom;
    let (id, _) = item_id(item);
    let (summary, content) = meta.texts(item);
    // atom_syndication has no xml:lang on <entry>; it goes on each text
    // construct instead, which readers honour the same way.
    let lang = item.language.clone();
    let text = |value: String, html: bool| {
        let mut t = if html {
            atom::Text::html(value)
        } else {
            atom::Text::plain(value)
        };
        t.lang = lang.clone();
        t
    };
    let source = item.sources.first().map(|s| atom::Source {
        title: atom::Text::plain(s.feed_name.clone()),
        id: published_url(&s.feed_url).into_owned(),
        updated: to_datetime(item.first_seen),
        links: vec![atom::Link {
            href: published_url(&s.feed_url).into_owned(),
            rel: "self".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let extensions = other_sources_rss(item, meta.related_of(item))
        .into_iter()
        .map(|(prefix, by_name)| {
            let by_name = by_name
                .into_iter()
                .map(|(name, exts)| {
                    let exts = exts
                        .into_iter()
                        .map(|e| atom::extension::Extension {
                            name: e.name,
                            value: e.value,
                            attrs: e.attrs,
                            children: BTreeMap::new(),
                        })
                        .collect();
                    (name, exts)
                })
                .collect();
            (prefix, by_name)
        })
        .collect();
    atom::Entry {
        title: text(item.title.clone(), false),
        id,
        updated: to_datetime(updated(item)),
        published: Some(to_datetime(item.date)),
        authors: item
            .authors
            .iter()
            .map(|a| atom::Person {
                name: a.clone(),
                ..Default::default()
            })
            .collect(),
        categories: item
            .categories
            .iter()
            .map(|c| atom::Category {
                term: c.clone(),
                ..Default::default()
            })
            .collect(),
        links: item
            .link
            .iter()
            .map(|l| atom::Link {
                href: l.clone(),
                rel: "alternate".into(),
                ..Default::default()
            })
            .chain(item.enclosure.iter().map(|e| atom::Link {
                href: e.url.clone(),
                rel: "enclosure".into(),
                mime_type: e.mime_type.clone(),
                length: e.length.map(|l| l.to_string()),
                ..Default::default()
            }))
            .chain(item.sources.iter().skip(1).filter_map(|s| {
                Some(atom::Link {
                    href: published_link(s)?,
                    rel: "related".into(),
                    title: Some(s.feed_name.clone()),
                    ..Default::default()
                })
            }))
            .chain(meta.related_of(item).iter().filter_map(|r| {
                Some(atom::Link {
                    href: r.link.clone()?,
                    rel: "related".into(),
                    title: Some(format!("{}: {}", r.outlet, r.title)),
                    ..Default::default()
                })
            }))
            .collect(),
        summary: summary.map(|s| text(s, true)),
        content: content.map(|c| atom::Content {
            value: Some(c),
            content_type: Some("html".into()),
            lang: lang.clone(),
            ..Default::default()
        }),
        source,
        extensions,
        ..Default::default()
    }
}

fn rfc3339(ts: i64) -> String {
    to_datetime(ts).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// JSON Feed 1.1, with the sources in an `_feedwire` extension.
pub fn render_json(meta: &OutputMeta<'_>, items: &[Item]) -> Vec<u8> {
    write_json(meta, items, Vec::new()).expect("writing to a Vec cannot fail")
}

/// [`render_json`] into `out`. The items are built and written one at a
/// time, not as one `Value` tree of the whole document: at 200 items the
/// tree was larger than the document (BENCHMARKS.md, Run 11: cold peak).
/// The bytes are those of `to_vec_pretty` of the whole tree: the same
/// serializer, and the keys in the order a `Map` keeps them (sorted).
pub fn write_json<W: Write>(meta: &OutputMeta<'_>, items: &[Item], mut out: W) -> io::Result<W> {
    let mut head = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.output.title,
        "home_page_url": meta.base_url.as_str(),
        "feed_url": meta.json_url(),
        "authors": [{ "name": meta.output.title }],
    });
    let obj = head.as_object_mut().expect("object literal");
    if !meta.output.description.is_empty() {
        obj.insert("description".into(), json!(meta.output.description));
    }
    if let Some(lang) = &meta.output.language {
        obj.insert("language".into(), json!(lang));
    }
    if !meta.output.hubs.is_empty() {
        obj.insert(
            "hubs".into(),
            json!(meta
                .output
                .hubs
                .iter()
                .map(|h| json!({ "type": "WebSub", "url": h.as_str() }))
                .collect::<Vec<_>>()),
        );
    }
    let feed = JsonFeed {
        head: std::mem::take(obj),
        items: JsonItems { meta, items },
    };
    serde_json::to_writer_pretty(&mut out, &feed).map_err(io::Error::from)?;
    Ok(out)
}

/// A JSON Feed document: `head`'s members with `items` among them, in key
/// order, as the whole document's `Map` would have them.
struct JsonFeed<'a> {
    head: serde_json::Map<String, serde_json::Value>,
    items: JsonItems<'a>,
}

impl Serialize for JsonFeed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const ITEMS: &str = "items";
        let mut map = serializer.serialize_map(Some(self.head.len() + 1))?;
        let mut items = Some(&self.items);
        for (key, value) in &self.head {
            if key.as_str() > ITEMS {
                if let Some(items) = items.take() {
                    map.serialize_entry(ITEMS, items)?;
                }
            }
            map.serialize_entry(key, value)?;
        }
        if let Some(items) = items {
            map.serialize_entry(ITEMS, items)?;
        }
        map.end()
    }
}

/// A JSON Feed's `items`, each built as it is written.
struct JsonItems<'a> {
    meta: &'a OutputMeta<'a>,
    items: &'a [Item],
}

impl Serialize for JsonItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.items.iter().map(|item| json_item(self.meta, item)))
    }
}

/// One JSON Feed item.
fn json_item(meta: &OutputMeta<'_>, item: &Item) -> serde_json::Value {
    let (id, _) = item_id(item);
    let (summary, content) = meta.texts(item);
    let mut v = json!({
        "id": id,
        "title": item.title,
        "date_published": rfc3339(item.date),
        "date_modified": rfc3339(updated(item)),
        "_feedwire": {
            "sources": item.sources.iter().map(|s| json!({
                "name": s.feed_name, "feed_url": published_url(&s.feed_url), "url": published_link(s),
            })).collect::<Vec<_>>(),
            "related": meta.related_of(item).iter().map(|r| json!({
                "outlet": r.outlet, "title": r.title, "url": r.link, "score": r.score,
            })).collect::<Vec<_>>(),
        },
    });
    let obj = v.as_object_mut().expect("object literal");
    if let Some(link) = &item.link {
        obj.insert("url".into(), json!(link));
    }
    obj.insert(
        "content_html".into(),
        json!(content.or_else(|| summary.clone()).unwrap_or_default()),
    );
    if let Some(s) = summary {
        obj.insert("summary".into(), json!(s));
    }
    if !item.authors.is_empty() {
        obj.insert(
            "authors".into(),
            json!(item
                .authors
                .iter()
                .map(|a| json!({ "name": a }))
                .collect::<Vec<_>>()),
        );
    }
    if !item.categories.is_empty() {
        obj.insert("tags".into(), json!(item.categories));
    }
    if let Some(lang) = &item.language {
        obj.insert("language".into(), json!(lang));
    }
    if let Some(e) = &item.enclosure {
        let mut a = json!({ "url": e.url, "mime_type": e.mime_type.clone().unwrap_or_else(|| "application/octet-stream".into()) });
        if let Some(len) = e.length {
            a["size_in_bytes"] = json!(len);
        }
        obj.insert("attachments".into(), json!([a]));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemKey;

    fn item(n: i64, link: Option<&str>) -> Item {
        Item {
            key: match link {
                Some(l) => ItemKey::from_link(&Url::parse(l).unwrap()),
                None => ItemKey::from_guid(&format!("id-{n}"), &Url::parse("https://f.example/rss").unwrap()),
            },
            link: link.map(str::to_owned),
            title: format!("الانتخابات البرلمانية {n} & <b>"),
            summary: Some("<p dir=\"rtl\">ملخص</p>".into()),
            content: Some("<p>محتوى ]]> كامل</p>".into()),
            authors: vec!["مراسل".into()],
            categories: vec!["سياسة".into()],
            published: Some(1_700_000_000 + n),
            updated: None,
            first_seen: 1_700_000_000 + n,
            date: 1_700_000_000 + n,
            language: Some("ar".into()),
            enclosure: None,
            sources: vec![Source {
                feed_url: "https://f.example/rss".into(),
                feed_name: "الجزيرة".into(),
                link: link.map(str::to_owned),
            }],
            fingerprint: None,
        }
    }

    fn output() -> OutputConfig {
        OutputConfig {
            name: "politics".into(),
            title: "سياسة".into(),
            description: "كل الأخبار".into(),
            language: Some("ar".into()),
            max_items: 10,
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_rss_output_carries_no_1970_build_date() {
        let base = Url::parse("https://news.example/").unwrap();
        let out = output();
        let meta = OutputMeta::new(&out, &base);
        let empty = String::from_utf8(render_rss(&meta, &[])).unwrap();
        assert!(!empty.contains("<lastBuildDate>"), "{empty}");
        assert!(empty.contains("<title>سياسة</title>"), "{empty}");
        let one = String::from_utf8(render_rss(&meta, &[item(1, Some("https://a.example/1"))])).unwrap();
        let built = to_datetime(1_700_000_001).to_rfc2822();
        assert!(
            one.contains(&format!("<lastBuildDate>{built}</lastBuildDate>")),
            "{one}"
        );
    }

    /// The JSON Feed is written item by item; its bytes must stay those
    /// of the whole document as one `Value` through `to_vec_pretty` (what
    /// subscribers and ETags saw before): keys sorted, `items` in its place
    /// whichever optional keys (`description`, `hubs`, `language`) are there.
    #[test]
    fn streamed_json_is_the_pretty_printed_document() {
        let base = Url::parse("https://news.example/").unwrap();
        let mut related = HashMap::new();
        related.insert(
            ItemKey::from_link(&Url::parse("https://a.example/3").unwrap()),
            vec![Related {
                outlet: "سكاي نيوز عربية".into(),
                title: "قمة عربية".into(),
                link: Some("https://b.example/1".into()),
                score: 0.75,
            }],
        );
        let mut bare = output();
        bare.description = String::new();
        bare.language = None;
        let mut hubs = output();
        hubs.hubs = vec![Url::parse("https://hub.example/").unwrap()];
        let mut items = [item(3, Some("https://a.example/3")), item(2, None)];
        items[1].enclosure = Some(crate::item::Enclosure {
            url: "https://a.example/2.mp3".into(),
            mime_type: None,
            length: Some(1234),
        });
        for out in [output(), bare, hubs] {
            let meta = OutputMeta::new(&out, &base).with_related(related.clone());
            for items in [&items[..], &[]] {
                let bytes = render_json(&meta, items);
                let whole: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(
                    String::from_utf8(serde_json::to_vec_pretty(&whole).unwrap()).unwrap(),
                    String::from_utf8(bytes).unwrap()
                );
                assert_eq!(whole["items"].as_array().unwrap().len(), items.len());
                assert_eq!(whole["title"], "سياسة");
            }
        }
    }

    #[test]
    fn rss_atom_and_json_round_trip_through_feed_rs() {
        let base = Url::parse("https://news.example/").unwrap();
        let out = output();
        let meta = OutputMeta::new(&out, &base);
        let items = vec![
            item(3, Some("https://a.example/3")),
            item(2, None),
            item(1, Some("https://a.example/1")),
        ];
        for bytes in [
            render_rss(&meta, &items),
            render_atom(&meta, &items),
            render_json(&meta, &items),
        ] {
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                text.contains("الانتخابات البرلمانية 3"),
                "Arabic is written as UTF-8, not escaped"
            );
            let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
            assert_eq!(feed.title.unwrap().content, "سياسة");
            let titles: Vec<String> = feed
                .entries
                .iter()
                .map(|e| e.title.clone().unwrap().content)
                .collect();
            assert_eq!(
                titles,
                vec![
                    "الانتخابات البرلمانية 3 & <b>",
                    "الانتخابات البرلمانية 2 & <b>",
                    "الانتخابات البرلمانية 1 & <b>"
                ]
            );
            assert_eq!(feed.entries[0].links[0].href, "https://a.example/3");
            assert!(feed.entries[1].id.starts_with("urn:feedwire:"));
            let content = feed.entries[0].content.as_ref().unwrap().body.as_deref().unwrap();
            assert_eq!(content, "<p>محتوى ]]> كامل</p>");
            assert_eq!(feed.entries[0].published.unwrap().timestamp(), 1_700_000_003);
        }
        let rss = String::from_utf8(render_rss(&meta, &items)).unwrap();
        assert!(
            rss.contains(r#"<source url="https://f.example/rss">الجزيرة</source>"#),
            "{rss}"
        );
        assert!(
            rss.contains(r#"<atom:link href="https://news.example/politics.rss" rel="self""#),
            "{rss}"
        );
        let atom = String::from_utf8(render_atom(&meta, &items)).unwrap();
        assert!(
            atom.contains("<source><title>الجزيرة</title><id>https://f.example/rss</id>"),
            "{atom}"
        );
        assert!(atom.contains(r#"<title xml:lang="ar">الانتخابات"#), "{atom}");
    }

    /// A linked and a link-less item (keyed by `guid`), each with two sources
    /// from `feed`, and the three documents that publish them.
    fn published_from(feed: &Url, guid: &str) -> (Vec<Item>, [(&'static str, String); 3]) {
        let meta_out = output();
        let base = Url::parse("https://news.example/").unwrap();
        let meta = OutputMeta::new(&meta_out, &base);
        let mut linked = item(1, Some("https://a.example/1"));
        let mut linkless = item(2, None);
        linkless.key = ItemKey::from_guid(guid, feed);
        for it in [&mut linked, &mut linkless] {
            it.sources[0].feed_url = feed.to_string();
            it.sources.push(Source {
                feed_url: feed.to_string(),
                feed_name: "ثانية".into(),
                link: None,
            });
        }
        let items = vec![linked, linkless];
        let text = |doc: Vec<u8>| String::from_utf8(doc).unwrap();
        let docs = [
            ("rss", text(render_rss(&meta, &items))),
            ("atom", text(render_atom(&meta, &items))),
            ("json", text(render_json(&meta, &items))),
        ];
        (items, docs)
    }

    /// Items an older build stored with a feed URL's login in their sources
    /// and keys: no document publishes it.
    #[test]
    fn a_stored_feed_login_is_never_published() {
        let feed = Url::parse("https://%D8%B9%D9%84%D9%8A:s3cret@f.example/rss?edition=ar").unwrap();
        let (_, docs) = published_from(&feed, "id-2");
        for (format, doc) in docs {
            assert!(
                !doc.contains("s3cret") && !doc.contains("D8%B9"),
                "{format}: {doc}"
            );
            assert!(doc.contains("f.example/rss?edition=ar"), "{format}: {doc}");
        }
        assert_eq!(
            without_login("guid://u:p@f.example/rss#id"),
            "guid://f.example/rss#id"
        );
        assert_eq!(without_login("//f.example/a@b"), "//f.example/a@b");
        assert_eq!(
            without_login("https://f.example/rss?mail=a@b"),
            "https://f.example/rss?mail=a@b"
        );
        assert_eq!(without_login("urn:x"), "urn:x");
    }

    /// A private feed's token in its URL's query (GitHub's `token`, GitLab's
    /// `feed_token`, an `api_key`) is in no document: not in the item's
    /// source, the other sources nor a link-less item's id. The feed's
    /// other parameters (an Arabic one too) stay.
    #[test]
    fn a_feed_token_in_the_query_is_never_published() {
        let feed =
            Url::parse("https://f.example/rss?edition=ar&token=t0k3n&Feed_Token=f33d&api_key=k3y&قسم=سياسة")
                .unwrap();
        let (items, docs) = published_from(&feed, "خبر-2?token=guid-part");
        for (format, doc) in docs {
            for secret in ["t0k3n", "f33d", "k3y"] {
                assert!(!doc.contains(secret), "{format}: {secret} in {doc}");
            }
            assert!(doc.contains("edition=ar"), "{format}: {doc}");
        }
        // After the `#` is the entry's guid, not the feed's query: kept.
        let (id, _) = item_id(&items[1]);
        assert!(id.ends_with("%3Ftoken%3Dguid%2Dpart"), "{id}");
        assert_eq!(
            published_url("https://f.example/rss?token=a&edition=ar&private_token=b#top"),
            "https://f.example/rss?edition=ar#top"
        );
        assert_eq!(
            published_url("https://u:p@f.example/rss?auth=x"),
            "https://f.example/rss"
        );
        assert_eq!(
            published_url("https://f.example/rss?keyword=x&monkey=y"),
            "https://f.example/rss?keyword=x&monkey=y",
            "only whole names, and suffixes of token, secret, password"
        );
        assert_eq!(published_url("urn:x?token"), "urn:x");
    }

    /// Every URL an error or a note names is published without its
    /// credentials, wherever it stands in the sentence; other text, other
    /// schemes and URLs without credentials are left as they are.
    #[test]
    fn urls_in_a_text_lose_their_credentials() {
        let cases = [
            (
                "error sending request for url (https://a.example/rss?token=T0K3N&lang=ar)",
                "error sending request for url (https://a.example/rss?lang=ar)",
            ),
            (
                "moved to HTTPS://b.example/خبر?api_key=K3Y: HTTP 404. فشل",
                "moved to HTTPS://b.example/خبر: HTTP 404. فشل",
            ),
            (
                "the page https://u:p@c.example/ links \"http://c.example/f.xml?sig=S1G\", failed",
                "the page https://c.example/ links \"http://c.example/f.xml\", failed",
            ),
            (
                "<https://d.example/q?(a)=1&pwd=P>, ftp://e.example/?token=kept",
                "<https://d.example/q?(a)=1>, ftp://e.example/?token=kept",
            ),
            (
                "HTTP 500 من https://a.example/rss?lang=ar.",
                "HTTP 500 من https://a.example/rss?lang=ar.",
            ),
            ("فشلhttps://a.example/?token=x", "فشلhttps://a.example/"),
            ("no URL here: a://", "no URL here: a://"),
            ("://?token=x https://", "://?token=x https://"),
        ];
        for (text, shown) in cases {
            assert_eq!(published_text(text), shown, "{text}");
        }
        assert!(matches!(
            published_text("HTTP 500 https://a.example/"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn several_sources_hubs_and_strip() {
        let base = Url::parse("https://news.example/").unwrap();
        let mut out = output();
        out.hubs = vec![Url::parse("https://hub.example/").unwrap()];
        out.strip = vec!["للمزيد من الأخبار[^<]*".into()];
        let meta = OutputMeta::new(&out, &base);
        let mut it = item(1, Some("https://a.example/1"));
        it.content = Some("<p>نص الخبر. للمزيد من الأخبار زوروا موقعنا</p>".into());
        it.sources.push(Source {
            feed_url: "https://b.example/rss".into(),
            feed_name: "سكاي نيوز & Co".into(),
            link: Some("https://b.example/story?x=1&y=2".into()),
        });
        let items = vec![it];
        let rss = String::from_utf8(render_rss(&meta, &items)).unwrap();
        assert!(!rss.contains("للمزيد"), "boilerplate stripped: {rss}");
        assert!(rss.contains("ورد الخبر أيضاً في:"), "{rss}");
        assert!(rss.contains(r#"<feedwire:source link="https://b.example/story?x=1&amp;y=2" url="https://b.example/rss">سكاي نيوز &amp; Co</feedwire:source>"#), "{rss}");
        assert!(rss.contains(r#"xmlns:feedwire="urn:x-feedwire:1""#), "{rss}");
        assert!(
            rss.contains(r#"<atom:link href="https://hub.example/" rel="hub"/>"#),
            "{rss}"
        );
        let atom = String::from_utf8(render_atom(&meta, &items)).unwrap();
        assert!(
            atom.contains(r#"rel="related""#) && atom.contains(r#"rel="hub""#),
            "{atom}"
        );
        let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
        let content = feed.entries[0].content.as_ref().unwrap().body.clone().unwrap();
        assert!(
            content.contains(r#"<a href="https://b.example/story?x=1&amp;y=2">سكاي نيوز &amp; Co</a>"#),
            "{content}"
        );
        let json: serde_json::Value = serde_json::from_slice(&render_json(&meta, &items)).unwrap();
        assert_eq!(
            json["items"][0]["_feedwire"]["sources"][1]["name"],
            "سكاي نيوز & Co"
        );
        assert_eq!(json["hubs"][0]["url"], "https://hub.example/");
    }

    #[test]
    fn output_is_deterministic() {
        let base = Url::parse("https://news.example/").unwrap();
        let out = output();
        let meta = OutputMeta::new(&out, &base);
        let items = vec![item(1, Some("https://a.example/1"))];
        assert_eq!(render_rss(&meta, &items), render_rss(&meta, &items));
        assert_eq!(render_atom(&meta, &items), render_atom(&meta, &items));
        assert_eq!(render_json(&meta, &items), render_json(&meta, &items));
    }
}
