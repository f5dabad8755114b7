//! Feed autodiscovery: a configured feed URL that answers with a web page
//! (a site's or section's page pasted into `feeds.toml`, or the page a
//! publisher left at a moved feed's address) names its feed in its head,
//! `<link rel="alternate" type="application/rss+xml" href="...">`, as every
//! serious reader knows.
//!
//! Pure: [`sniff`], [`head_end`] and [`feed_type_at`] tell `fetch` what
//! kind of document a body starts as, where a page's head ends and whether
//! a feed is named by then (so a page is read only as far as its links),
//! and [`feed_links`] and [`choose`] read the links from those bytes. The
//! poller does the fetching and remembering.

use url::Url;

use crate::item::is_web;

/// What a body's first markup says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// An HTML page: `<!doctype html>`, or `<html>`, `<head>`... first.
    Page,
    /// Another root element (a feed, or XML parse will judge), or JSON.
    Feed,
    /// Text, binary, or markup not recognised in the first bytes: the
    /// `Content-Type` decides.
    Unknown,
}

/// Bytes looked at by [`sniff`] before it gives up ([`Sniffed::Unknown`]):
/// a long comment or declaration ahead of the root stays undecided.
pub const SNIFF_LEN: usize = 4096;

/// Elements an HTML page starts with (the root, or what a parser puts in
/// an implied head). A feed's root is never one of these.
const PAGE_STARTS: &[&[u8]] = &[
    b"html",
    b"head",
    b"body",
    b"meta",
    b"title",
    b"link",
    b"script",
    b"style",
    b"base",
    b"noscript",
];

/// What `prefix` (the first bytes of a body) starts as; `None` while more
/// bytes are needed to tell (the caller then stops at [`SNIFF_LEN`] or the
/// end of the body: [`Sniffed::Unknown`]). A feed served as `text/html`
/// starts with its own root (`<rss>`, `<feed>`, `<?xml ...?><rdf:RDF>`)
/// and stays a feed; an XHTML page with an XML declaration is a page.
pub fn sniff(prefix: &[u8]) -> Option<Sniffed> {
    let mut rest = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    loop {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = &rest[start..];
        match rest[0] {
            b'{' | b'[' => return Some(Sniffed::Feed),
            b'<' => {}
            _ => return Some(Sniffed::Unknown),
        }
        if rest.len() < 2 {
            return None;
        }
        let skip_past = |rest: &[u8], end: &[u8]| memchr::memmem::find(rest, end).map(|i| i + end.len());
        rest = match rest[1] {
            b'?' => &rest[skip_past(rest, b"?>")?..],
            b'!' if rest.starts_with(b"<!--") => &rest[skip_past(rest, b"-->")?..],
            b'!' => {
                // `<!DOCTYPE html ...>` (any case); another doctype (`rss`)
                // is skipped.
                let decl = &rest[..rest.len().min(14)];
                if decl.len() < 14 && !rest.contains(&b'>') {
                    return None;
                }
                if decl.len() >= 14 && decl[..9].eq_ignore_ascii_case(b"<!doctype") {
                    let name = decl[9..].trim_ascii_start();
                    if name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"html") {
                        return Some(Sniffed::Page);
                    }
                }
                &rest[skip_past(rest, b">")?..]
            }
            _ => {
                let name_len = rest[1..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_')))?;
                let name = &rest[1..1 + name_len];
                let page = PAGE_STARTS.iter().any(|p| p.eq_ignore_ascii_case(name));
                return Some(if page {
                    Sniffed::Page
                } else if name.is_empty() {
                    Sniffed::Unknown
                } else {
                    Sniffed::Feed
                });
            }
        };
    }
}

/// Whether a body is a web page rather than a feed, by its `Content-Type`
/// and, where that is HTML, missing or generic, by its first markup:
/// - HTML (`text/html`, `application/xhtml+xml`): a page, unless it starts
///   as a feed (feeds served as `text/html` exist);
/// - none, or generic (`text/plain`, `application/octet-stream`...): a page
///   when it starts as one;
/// - anything else (an XML or JSON type): a feed, for `parse` to judge (a
///   proxy's error page labelled `application/rss+xml` stays "not a feed").
pub fn is_page(sniffed: Sniffed, content_type: Option<&str>) -> bool {
    let media = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "text/html" | "application/xhtml+xml" => sniffed != Sniffed::Feed,
        ""
        | "text/plain"
        | "application/octet-stream"
        | "binary/octet-stream"
        | "application/unknown"
        | "application/binary"
        | "*/*" => sniffed == Sniffed::Page,
        _ => false,
    }
}

/// Where a page's head ends in `bytes`, searching from `from`: the offset
/// of its `</head` or `<body` tag (any case). The links are in the head, so
/// the rest of the page is not read.
pub fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'<', bytes.get(at..)?) {
        let tag = &bytes[at + i..];
        let starts = |p: &[u8]| tag.len() >= p.len() && tag[..p.len()].eq_ignore_ascii_case(p);
        if starts(b"</head") || starts(b"<body") {
            return Some(at + i);
        }
        at += i + 1;
    }
    None
}

/// The end of the first feed type (`rss+xml`, `atom+xml`, `feed+json`, any
/// case) named in `bytes` at or after `from`. Some pages write their feed
/// links after the head (an app's head tags streamed into its body, a
/// template that closes the head early: 7 of the 202 pages naming a feed in
/// the article corpus, BENCHMARKS.md Run 18), so a page is read past its
/// head until one is named.
pub fn feed_type_at(bytes: &[u8], from: usize) -> Option<usize> {
    let hay = bytes.get(from..)?;
    let ends_with =
        |end: usize, word: &[u8]| end >= word.len() && hay[end - word.len()..end].eq_ignore_ascii_case(word);
    let xml = memchr::memmem::find_iter(hay, b"+xml")
        .find(|&i| ends_with(i, b"rss") || ends_with(i, b"atom"))
        .map(|i| i + 4);
    let json = memchr::memmem::find_iter(hay, b"+json")
        .find(|&i| ends_with(i, b"feed"))
        .map(|i| i + 5);
    xml.into_iter().chain(json).min().map(|i| from + i)
}

/// How far a feed poll reads a body, fed as it grows (`fetch` reads it
/// chunk by chunk): once the body is known to be a page, until its feed
/// links are in (the head, where they nearly always are; else the first tag
/// after it that names a feed type). The rest of a page is often ten times
/// a feed, and is left unread.
pub struct PageCut<'a> {
    content_type: Option<&'a str>,
    /// What the body starts as, once known; then whether it is a page.
    sniffed: Option<Sniffed>,
    page: bool,
    head_end: Option<usize>,
    /// Where the first feed type named ends ([`feed_type_at`]).
    named: Option<usize>,
    /// How far the head's end and a feed type were searched for.
    searched: usize,
    types_searched: usize,
}

impl<'a> PageCut<'a> {
    pub fn new(content_type: Option<&'a str>) -> PageCut<'a> {
        PageCut {
            content_type,
            sniffed: None,
            page: false,
            head_end: None,
            named: None,
            searched: 0,
            types_searched: 0,
        }
    }

    /// Whether the body read so far is known to be a page.
    pub fn is_page(&self) -> bool {
        self.page
    }

    /// Looks at `body` (everything read so far, grown by a chunk): the
    /// length to cut it to once its feed links are in, else `None` (read
    /// on).
    pub fn read(&mut self, body: &[u8]) -> Option<usize> {
        if self.sniffed.is_none() {
            self.sniffed = sniff(body).or((body.len() >= SNIFF_LEN).then_some(Sniffed::Unknown));
            self.page = self.sniffed.is_some_and(|s| is_page(s, self.content_type));
        }
        if !self.page {
            return None;
        }
        if self.head_end.is_none() {
            self.head_end = head_end(body, self.searched);
            // A tag cut by the chunk's end is searched again.
            self.searched = body.len().saturating_sub(8);
        }
        let end = self.head_end?;
        self.named = self.named.or_else(|| feed_type_at(body, self.types_searched));
        self.types_searched = body.len().saturating_sub(16);
        match self.named? {
            at if at <= end => Some(end),
            // Named after the head: read to that tag's `>`.
            at => memchr::memchr(b'>', &body[at..]).map(|close| at + close + 1),
        }
    }

    /// Whether the whole body read is a page (a body shorter than
    /// [`SNIFF_LEN`] that [`sniff`] could not tell is judged as it is).
    pub fn finish(self, body: &[u8]) -> bool {
        match self.sniffed {
            Some(_) => self.page,
            None => is_page(sniff(body).unwrap_or(Sniffed::Unknown), self.content_type),
        }
    }
}

/// One feed a page names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedLink {
    pub url: Url,
    /// The `type` as written, lower-cased, without parameters.
    pub media_type: String,
    /// The link's `title`, whitespace collapsed.
    pub title: Option<String>,
}

impl FeedLink {
    /// A feed of a post's or the site's comments (WordPress writes one
    /// beside the site's feed on every page): by its title ("Comments
    /// Feed", "التعليقات") or a `comments` segment in its path.
    pub fn is_comments(&self) -> bool {
        let title = self.title.as_deref().unwrap_or_default().to_lowercase();
        let by_title = [
            "comment",
            "تعليق",
            "تعليقات",
            "kommentar",
            "commentaire",
            "comentario",
        ]
        .iter()
        .any(|w| title.contains(w));
        let by_path = self.url.path_segments().is_some_and(|mut s| {
            s.any(|seg| seg.eq_ignore_ascii_case("comments") || seg.eq_ignore_ascii_case("comment"))
        });
        by_title || by_path
    }
}

/// Link types that name a feed: RSS, Atom, JSON Feed. Not `application/json`
/// (oEmbed and API links use it) nor `application/rdf+xml` (RDF metadata).
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
];

/// The feeds `html` (a page's head, and what was read after it) names, in document order,
/// each once: `<link>` elements whose `rel` holds the token `alternate`
/// (or `feed`) among others, any case, whose `type` is a feed type, with
/// an http(s) `href`, resolved against the page's `<base href>` (itself
/// resolved against `page`), else `page`. Entities are decoded by the HTML
/// parser (`&amp;` in a query). A link to the page itself is left out.
pub fn feed_links(html: &str, page: &Url) -> Vec<FeedLink> {
    let doc = dom_query::Document::from(html);
    let base = doc
        .select("base[href]")
        .attr("href")
        .and_then(|b| page.join(b.trim()).ok())
        .filter(is_web)
        .unwrap_or_else(|| page.clone());
    let mut out: Vec<FeedLink> = Vec::new();
    for link in doc.select("link[rel][href][type]").nodes() {
        let rel = link.attr("rel").unwrap_or_default();
        let is_alternate = rel
            .split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case("alternate") || t.eq_ignore_ascii_case("feed"));
        let media_type = link
            .attr("type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !is_alternate || !FEED_TYPES.contains(&media_type.as_str()) {
            continue;
        }
        let href = link.attr("href").unwrap_or_default();
        let Some(url) = base.join(href.trim()).ok().filter(is_web) else {
            continue;
        };
        if url == *page || out.iter().any(|l| l.url == url) {
            continue;
        }
        let title = link
            .attr("title")
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty());
        out.push(FeedLink {
            url,
            media_type,
            title,
        });
    }
    out
}

/// The feed to poll among a page's links: the first that is not a comments
/// feed, else the first. Publishers list the site's (or the section's) own
/// feed first; WordPress writes the site feed, then the comments feed,
/// then a post's or category's feed. The first also keeps RSS where a page
/// offers the same feed as RSS and Atom in that order, and it is the rule
/// operators can predict from the page's source.
pub fn choose(links: &[FeedLink]) -> Option<&FeedLink> {
    links.iter().find(|l| !l.is_comments()).or_else(|| links.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `doc` to a [`PageCut`] in chunks of `n` bytes, as `fetch`
    /// reads it: the length it keeps, and whether it is a page.
    fn cut_in_chunks(doc: &str, content_type: Option<&str>, n: usize) -> (usize, bool) {
        let mut cut = PageCut::new(content_type);
        let mut body = Vec::new();
        for chunk in doc.as_bytes().chunks(n) {
            body.extend_from_slice(chunk);
            if let Some(len) = cut.read(&body) {
                body.truncate(len);
                break;
            }
        }
        let len = body.len();
        (len, cut.finish(&body))
    }

    #[test]
    fn a_page_is_read_as_far_as_its_feed_links() {
        let tail = "<p>نص المقال</p>".repeat(500);
        let head = r#"<!doctype html><html lang="ar"><head><title>سياسة</title><link rel="alternate" type="application/rss+xml" href="/rss"></head>"#;
        let page = format!("{head}<body>{tail}</body></html>");
        for n in [7, 64, 4096] {
            assert_eq!(
                cut_in_chunks(&page, Some("text/html; charset=utf-8"), n),
                (head.len() - "</head>".len(), true),
                "{n}"
            );
        }
        // Named only in the body: read to that tag's end.
        let link = r#"<link rel="alternate" type="application/atom+xml" href="/atom">"#;
        let late = format!("<html><head><title>x</title></head><body><p>a</p>{link}{tail}</body></html>");
        let (len, page) = cut_in_chunks(&late, Some("text/html"), 64);
        assert!(page && late[..len].ends_with(link), "{}", &late[..len]);
        // A feed, even one served as HTML, is read whole and is no page.
        let feed = format!(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>{tail}</title></channel></rss>"#
        );
        assert_eq!(cut_in_chunks(&feed, Some("text/html"), 64), (feed.len(), false));
        // A short page with no type is judged as a whole at the end.
        assert_eq!(cut_in_chunks("<html><p>x</p></html>", None, 64), (21, true));
    }

    fn page() -> Url {
        Url::parse("https://news.example/section/politics/").unwrap()
    }

    fn urls(html: &str) -> Vec<String> {
        feed_links(html, &page())
            .iter()
            .map(|l| l.url.to_string())
            .collect()
    }

    #[test]
    fn sniff_tells_pages_from_feeds() {
        let page = [
            "<!DOCTYPE html><html>",
            "\u{feff}  <!doctype HTML>",
            "<!-- generated --><html lang=\"ar\">",
            "<?xml version=\"1.0\"?><!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\"><html>",
            "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">",
            "<HEAD><TITLE>",
            "\n<meta charset=\"windows-1256\">",
        ];
        for p in page {
            assert_eq!(sniff(p.as_bytes()), Some(Sniffed::Page), "{p}");
        }
        let feed = [
            "<?xml version=\"1.0\" encoding=\"windows-1256\"?><rss version=\"2.0\">",
            "<rss version=\"2.0\">",
            "<!DOCTYPE rss PUBLIC \"-//Netscape\" \"x\"><rss>",
            "<?xml version=\"1.0\"?><!-- c --><feed xmlns=\"http://www.w3.org/2005/Atom\">",
            "<rdf:RDF xmlns:rdf=\"x\">",
            "{\"version\": \"https://jsonfeed.org/version/1.1\"}",
        ];
        for f in feed {
            assert_eq!(sniff(f.as_bytes()), Some(Sniffed::Feed), "{f}");
        }
        assert_eq!(sniff(b"status 200"), Some(Sniffed::Unknown));
        assert_eq!(sniff(b"\x89PNG\r\n"), Some(Sniffed::Unknown));
        // Not enough bytes yet.
        for short in ["", "  ", "<", "<?xml version", "<!-- long", "<!DOCTYPE", "<rs"] {
            assert_eq!(sniff(short.as_bytes()), None, "{short:?}");
        }
        assert!(is_page(Sniffed::Unknown, Some("text/html; charset=utf-8")));
        assert!(is_page(Sniffed::Unknown, Some("application/xhtml+xml")));
        assert!(!is_page(Sniffed::Unknown, Some("text/plain")));
        assert!(!is_page(Sniffed::Unknown, None));
        // A feed served as text/html stays a feed.
        assert!(!is_page(Sniffed::Feed, Some("text/html")));
        // No type, or a generic one: the markup decides.
        assert!(is_page(Sniffed::Page, None));
        assert!(is_page(Sniffed::Page, Some("application/octet-stream")));
        assert!(is_page(Sniffed::Page, Some("Text/Plain; charset=windows-1256")));
        assert!(!is_page(Sniffed::Feed, Some("text/plain")));
        // A feed type is a feed for the parser to judge.
        assert!(!is_page(Sniffed::Page, Some("application/rss+xml")));
        assert!(!is_page(Sniffed::Page, Some("text/xml")));
    }

    #[test]
    fn head_ends_at_its_close_or_the_body() {
        let html = b"<html><head><title>x</title></HEAD><body><p>";
        assert_eq!(head_end(html, 0), Some(28));
        assert_eq!(head_end(b"<html><head><link><BODY class=x>", 0), Some(18));
        assert_eq!(head_end(b"<html><head><link rel=x>", 0), None);
        assert_eq!(head_end(html, 29), Some(35));
        assert_eq!(head_end(html, 36), None);
    }

    #[test]
    fn feed_types_are_found_in_any_case() {
        let html =
            b"<link type=image/svg+xml><link type=application/RSS+xml><link type=application/feed+json>";
        assert_eq!(feed_type_at(html, 0), Some(55));
        assert_eq!(feed_type_at(html, 55), Some(html.len() - 1));
        assert_eq!(feed_type_at(b"<link type=application/atom+xml>", 0), Some(31));
        assert_eq!(feed_type_at(b"image/svg+xml application/json", 0), None);
        assert_eq!(feed_type_at(b"rss+xml", 8), None);
    }

    #[test]
    fn links_in_the_body_count() {
        let html = r#"<html><head><title>t</title></head><body><div></div><link rel="alternate" type="application/rss+xml" href="/rss/"></body>"#;
        assert_eq!(urls(html), ["https://news.example/rss/"]);
    }

    #[test]
    fn rel_tokens_and_types() {
        let html = r#"<head>
            <link rel="stylesheet" type="text/css" href="/s.css">
            <link rel="alternate" type="text/html" hreflang="en" href="/en/">
            <link rel="alternate" type="application/json+oembed" href="/oembed?u=1">
            <link rel="alternate" type="application/json" href="/api.json">
            <link rel="ALTERNATE home" type="Application/RSS+XML; charset=utf-8" href="/rss.xml">
            <link rel="feed alternate" type="application/atom+xml" href="/atom.xml">
            <link rel=" alternate " type="application/feed+json" href="/feed.json">
            <link rel="alternate-stylesheet" type="application/rss+xml" href="/not.xml">
            <link rel="alternate" type="application/rss+xml" href="/rss.xml">
            <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
            <link rel="alternate" type="application/rss+xml">
        </head>"#;
        assert_eq!(
            urls(html),
            [
                "https://news.example/rss.xml",
                "https://news.example/atom.xml",
                "https://news.example/feed.json"
            ]
        );
        let links = feed_links(html, &page());
        assert_eq!(links[0].media_type, "application/rss+xml");
        assert_eq!(links[2].media_type, "application/feed+json");
    }

    #[test]
    fn relative_hrefs_base_and_entities() {
        assert_eq!(
            urls(r#"<link rel="alternate" type="application/rss+xml" href="feed.xml?a=1&amp;b=2">"#),
            ["https://news.example/section/politics/feed.xml?a=1&b=2"]
        );
        assert_eq!(
            urls(r#"<link rel="alternate" type="application/rss+xml" href="//cdn.example/f.xml">"#),
            ["https://cdn.example/f.xml"]
        );
        // `<base href>` is itself relative to the page.
        let html = r#"<head><base href="/ar/"><link rel="alternate" type="application/rss+xml" href="rss/&#x627;.xml"></head>"#;
        assert_eq!(urls(html), ["https://news.example/ar/rss/%D8%A7.xml"]);
        // A link back to the page is no feed.
        assert!(urls(r#"<link rel="alternate" type="application/rss+xml" href="./">"#).is_empty());
    }

    #[test]
    fn comments_feeds_give_way() {
        let wordpress = r#"<head><meta charset="utf-8">
            <link rel="alternate" type="application/rss+xml" title="أخبار &raquo; تعليقات الخلاصة" href="https://news.example/comments/feed/">
            <link rel="alternate" type="application/rss+xml" title="أخبار  &raquo;  الخلاصة" href="https://news.example/feed/">
        </head>"#;
        let links = feed_links(wordpress, &page());
        assert_eq!(links.len(), 2);
        assert!(links[0].is_comments());
        assert_eq!(links[1].title.as_deref(), Some("أخبار » الخلاصة"));
        assert_eq!(choose(&links).unwrap().url.as_str(), "https://news.example/feed/");
        let english = r#"<link rel="alternate" type="application/rss+xml" title="Site » Comments Feed" href="/x/feed/">
            <link rel="alternate" type="application/atom+xml" title="Site" href="/atom">"#;
        assert_eq!(choose(&feed_links(english, &page())).unwrap().url.path(), "/atom");
        // Only comments feeds: the first is still a feed.
        let only = r#"<link rel="alternate" type="application/rss+xml" href="/comments/feed/">"#;
        assert_eq!(
            choose(&feed_links(only, &page())).unwrap().url.path(),
            "/comments/feed/"
        );
        // The first of two plain feeds.
        let two = r#"<link rel="alternate" type="application/rss+xml" href="/a.xml"><link rel="alternate" type="application/rss+xml" href="/b.xml">"#;
        assert_eq!(choose(&feed_links(two, &page())).unwrap().url.path(), "/a.xml");
        assert_eq!(choose(&[]), None);
    }
}
