//! Renders stored items into the published documents: RSS 2.0 (`rss` crate)
//! and Atom 1.0 (`atom_syndication`).
//!
//! Sans-IO: `(output, items) -> bytes`, tested by parsing the result back.
//! The output depends only on its inputs (no build time stamped in), so that
//! equal content gives equal bytes and an unchanged feed keeps its ETag.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use url::Url;

use crate::config::OutputConfig;
use crate::item::Item;

const GENERATOR: &str = concat!("feedwire ", env!("CARGO_PKG_VERSION"));

/// The per-output facts a renderer needs beyond the items.
#[derive(Clone, Debug)]
pub struct OutputMeta<'a> {
    pub output: &'a OutputConfig,
    /// The public URL of this server (`[server] base_url`).
    pub base_url: &'a Url,
}

impl OutputMeta<'_> {
    pub fn rss_url(&self) -> String {
        self.url_of("rss")
    }

    pub fn atom_url(&self) -> String {
        self.url_of("atom")
    }

    fn url_of(&self, ext: &str) -> String {
        self.base_url
            .join(&format!("{}.{ext}", self.output.name))
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{}.{ext}", self.base_url, self.output.name))
    }
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

/// The guid/id subscribers key on: the cleaned link, or for link-less items a
/// URN built from the dedup key (stable, but not a URL).
fn item_id(item: &Item) -> (String, bool) {
    match &item.link {
        Some(link) => (link.clone(), true),
        None => (format!("urn:feedwire:{}", urlencode(item.key.as_str())), false),
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// RSS 2.0 with `content:encoded`, `dc:creator` and `<source>`.
pub fn render_rss(meta: &OutputMeta<'_>, items: &[Item]) -> Vec<u8> {
    let self_link = rss::extension::atom::Link {
        href: meta.rss_url(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
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
        last_build_date: Some(newest(items).to_rfc2822()),
        atom_ext: Some(rss::extension::atom::AtomExtension {
            links: vec![self_link],
        }),
        items: items.iter().map(rss_item).collect(),
        ..Default::default()
    };
    channel
        .write_to(Vec::new())
        .expect("writing to a Vec cannot fail")
}

fn rss_item(item: &Item) -> rss::Item {
    let (id, permalink) = item_id(item);
    let source = item.sources.first().map(|s| rss::Source {
        url: s.feed_url.clone(),
        title: Some(s.feed_name.clone()),
    });
    let dublin_core = (!item.authors.is_empty()).then(|| rss::extension::dublincore::DublinCoreExtension {
        creators: item.authors.clone(),
        ..Default::default()
    });
    rss::Item {
        title: Some(item.title.clone()),
        link: item.link.clone(),
        description: item.summary.clone().or_else(|| item.content.clone()),
        content: item.content.clone(),
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
        ..Default::default()
    }
}

/// Atom 1.0 with one `<source>` per entry (the first feed that carried it).
pub fn render_atom(meta: &OutputMeta<'_>, items: &[Item]) -> Vec<u8> {
    use atom_syndication as atom;
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
        links: vec![
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
        ],
        subtitle: (!meta.output.description.is_empty())
            .then(|| atom::Text::plain(meta.output.description.clone())),
        lang: meta.output.language.clone(),
        entries: items.iter().map(atom_entry).collect(),
        ..Default::default()
    };
    feed.write_to(Vec::new()).expect("writing to a Vec cannot fail")
}

fn atom_entry(item: &Item) -> atom_syndication::Entry {
    use atom_syndication as atom;
    let (id, _) = item_id(item);
    let source = item.sources.first().map(|s| atom::Source {
        title: atom::Text::plain(s.feed_name.clone()),
        id: s.feed_url.clone(),
        updated: to_datetime(item.first_seen),
        links: vec![atom::Link {
            href: s.feed_url.clone(),
            rel: "self".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    atom::Entry {
        title: atom::Text::plain(item.title.clone()),
        id,
        updated: to_datetime(
            item.updated
                .filter(|u| *u <= item.first_seen.max(item.date))
                .unwrap_or(item.date)
                .max(item.date),
        ),
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
            .collect(),
        summary: item.summary.clone().map(atom::Text::html),
        content: item.content.clone().map(|c| atom::Content {
            value: Some(c),
            content_type: Some("html".into()),
            ..Default::default()
        }),
        source,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{ItemKey, Source};

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
        }
    }

    fn output() -> OutputConfig {
        OutputConfig {
            name: "politics".into(),
            title: "سياسة".into(),
            description: "كل الأخبار".into(),
            language: Some("ar".into()),
            max_items: 10,
            tags: vec![],
        }
    }

    #[test]
    fn rss_and_atom_round_trip_through_feed_rs() {
        let base = Url::parse("https://news.example/").unwrap();
        let out = output();
        let meta = OutputMeta {
            output: &out,
            base_url: &base,
        };
        let items = vec![
            item(3, Some("https://a.example/3")),
            item(2, None),
            item(1, Some("https://a.example/1")),
        ];
        for bytes in [render_rss(&meta, &items), render_atom(&meta, &items)] {
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
    }

    #[test]
    fn output_is_deterministic() {
        let base = Url::parse("https://news.example/").unwrap();
        let out = output();
        let meta = OutputMeta {
            output: &out,
            base_url: &base,
        };
        let items = vec![item(1, Some("https://a.example/1"))];
        assert_eq!(render_rss(&meta, &items), render_rss(&meta, &items));
        assert_eq!(render_atom(&meta, &items), render_atom(&meta, &items));
    }
}
