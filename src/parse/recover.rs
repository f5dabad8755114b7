//! The recovery layer: turns a damaged or old-dialect feed document into
//! well-formed XML that feed-rs reads, and says what it changed.
//!
//! feed-rs (like any XML parser) rejects a whole document for one bare `&`
//! in a link, and reads nothing from dialects it does not know (Atom 0.3,
//! RSS 0.90, RSS 2.0 with a default namespace). Publishers serve all of
//! these; feedparser, the reference parser of the field, reads them. So when
//! the strict parse fails, or succeeds with no entry although the bytes show
//! entries, `parse` runs [`recover`] once and parses its output again.
//!
//! [`recover`] is a lenient tokenizer written for this job (no crate offers
//! one for XML that re-emits well-formed text; xml5ever builds a DOM of its
//! own, which we would then have to serialise again). It makes one pass over
//! the bytes, keeps a stack of open elements bounded by [`MAX_DEPTH`], and
//! every search it does is bounded, so time and memory are linear in the
//! document, whatever a hostile one holds. It
//!
//! - escapes a stray `&` and resolves HTML entities (`&nbsp;`) that XML
//!   does not define; unknown ones are kept as text;
//! - escapes a `<` that does not start markup (`a < b`);
//! - closes an unclosed CDATA section and elements left open, drops end
//!   tags that close nothing, and drops a damaged tail (a tag cut short);
//! - drops junk before the root element (`-<rss`, an IE "view source" copy)
//!   and after it, the DOCTYPE, comments and processing instructions;
//! - drops empty extension elements (`<media:description/>`): feed-rs 3.0
//!   rejects the whole document for them ("missing text at position ..."),
//!   where 2.x read them as empty text (`mediarss::handle_text` moved from
//!   `children_as_string`, always `Some`, to `child_as_text`, `None` when
//!   empty). 3.0.0 is the newest release, so the fix lives here;
//! - normalises namespaces: RSS 2.0 with a default namespace on `<rss>`
//!   (and a missing or unknown RSS version) is read as RSS 2.0, RSS 0.90's
//!   Netscape namespaces as RSS 1.0's, Atom 0.3 as Atom 1.0 (`modified`,
//!   `issued`, `tagline`/`info`, `copyright`, MIME `type`s and
//!   `mode="escaped"`).

use std::fmt::Write as _;

/// Deepest element nesting kept; deeper elements are dropped (with their
/// tags, not their text). Real feeds nest a dozen deep.
pub const MAX_DEPTH: usize = 256;
/// Longest entity name looked for after a `&`.
const MAX_ENTITY: usize = 32;

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";
const RSS_090: [&str; 2] = [
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://channel.netscape.com/rdf/simple/0.9/",
];
const RSS_10: &str = "http://purl.org/rss/1.0/";
const MRSS: &str = "http://search.yahoo.com/mrss";

/// What [`recover`] had to mend. Namespace normalisation is not damage and
/// is not listed; see [`Repairs::dialect`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repairs {
    pub stray_ampersands: usize,
    pub html_entities: usize,
    pub unknown_entities: usize,
    pub stray_less_than: usize,
    pub unclosed_cdata: bool,
    pub closed_elements: usize,
    pub stray_end_tags: usize,
    /// Bytes dropped from a damaged tail (a tag, comment or CDATA cut short).
    pub dropped_tail: usize,
    pub junk_before_root: bool,
    pub empty_elements: usize,
    pub too_deep: usize,
    /// An entry cut short before its link, dropped.
    pub dropped_entries: usize,
    /// Character references to characters XML forbids (`&#0;`), dropped.
    pub illegal_references: usize,
    /// `&#X41;`: HTML's spelling of a hexadecimal reference, not XML's.
    pub upper_hex_references: usize,
    /// Atom text constructs with a `type` Atom does not define
    /// (`text/plain`, `application/xhtml+xml`, `""`), which make feed-rs
    /// reject the whole document: read as `text`, `html` or `xhtml`.
    pub text_types: usize,
    /// `<rss>` without a `<channel>`: one is put around its items.
    pub missing_channel: bool,
    /// The old dialect read as a current one, if any (`Atom 0.3`).
    pub dialect: Option<&'static str>,
}

impl Repairs {
    /// `1 stray '&', unclosed CDATA closed`, or `None` when nothing was damaged.
    pub fn describe(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        let mut count = |n: usize, one: &str, many: &str| {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        count(self.stray_ampersands, "stray '&'", "stray '&'s");
        count(self.html_entities, "HTML entity", "HTML entities");
        count(self.unknown_entities, "unknown entity", "unknown entities");
        count(self.stray_less_than, "stray '<'", "stray '<'s");
        count(self.closed_elements, "unclosed element", "unclosed elements");
        count(self.stray_end_tags, "stray end tag", "stray end tags");
        count(
            self.empty_elements,
            "empty element ignored",
            "empty elements ignored",
        );
        count(
            self.too_deep,
            "element nested too deep",
            "elements nested too deep",
        );
        count(
            self.dropped_entries,
            "entry cut short dropped",
            "entries cut short dropped",
        );
        count(
            self.illegal_references,
            "illegal character reference dropped",
            "illegal character references dropped",
        );
        count(self.upper_hex_references, "'&#X' reference", "'&#X' references");
        count(self.text_types, "unknown text type", "unknown text types");
        if self.unclosed_cdata {
            parts.push("unclosed CDATA".into());
        }
        if self.dropped_tail > 0 {
            parts.push(format!("damaged tail of {} bytes dropped", self.dropped_tail));
        }
        if self.missing_channel {
            parts.push("no channel".into());
        }
        if self.junk_before_root {
            parts.push("junk before the root element".into());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A document made well-formed, and what that took.
#[derive(Debug)]
pub struct Recovered {
    pub xml: String,
    pub repairs: Repairs,
}

/// What an RSS item links to. feed-rs reads an item's link from `<link>`
/// text only; publishers also give it as an Atom link (`<atom:link
/// href>`, any prefix bound to Atom 1.0, as .NET's `a10:` does), as an
/// Atom-style `<link href/>`, or as an `href` attribute on the item (CDF,
/// which feedparser reads on any item). The first of these is written out
/// as `<link>` text when the item closes without one.
#[derive(Debug, Default)]
struct ItemLinks {
    /// A `<link>` with text seen.
    has_link: bool,
    /// The first other link, escaped for element text.
    fallback: Option<String>,
}

struct Open {
    /// The name as the document spells it, matched by end tags.
    name: String,
    /// The name written out (an Atom 0.3 element renamed for Atom 1.0).
    out_name: String,
    /// Output length just after the start tag, to drop the element again if
    /// it turns out empty.
    content_at: usize,
    /// Output length before the start tag.
    start_at: usize,
    droppable_if_empty: bool,
    /// Set on RSS items.
    item: Option<ItemLinks>,
    /// A `<link>` (no Atom prefix) directly inside an RSS item.
    rss_link: bool,
    /// An Atom `<link>` without `href`: its text, if a plain URL, is
    /// written as the `href` when it closes.
    text_link: bool,
    /// An element the document does not have (the `<rss>` around a CDF
    /// channel): matched by no end tag, closed with its child.
    synthetic: bool,
}

impl Open {
    fn synthetic(out_name: &str) -> Open {
        Open {
            name: String::new(),
            out_name: out_name.to_owned(),
            content_at: 0,
            start_at: 0,
            droppable_if_empty: false,
            item: None,
            rss_link: false,
            text_link: false,
            synthetic: true,
        }
    }
}

/// Re-emits `doc` (UTF-8, invalid sequences replaced) as well-formed XML.
pub fn recover(doc: &[u8]) -> Recovered {
    let text = String::from_utf8_lossy(doc);
    let mut r = Recoverer {
        s: &text,
        out: String::with_capacity(text.len() + 64),
        stack: Vec::new(),
        repairs: Repairs::default(),
        root_done: false,
        atom03_prefixes: Vec::new(),
        atom10_prefixes: Vec::new(),
        mrss_prefixes: Vec::new(),
        rss_prefix: None,
        cdf: false,
        rss_like: false,
        saw_channel: false,
    };
    r.run();
    Recovered {
        xml: r.out,
        repairs: r.repairs,
    }
}

struct Recoverer<'a> {
    s: &'a str,
    out: String,
    stack: Vec<Open>,
    repairs: Repairs,
    root_done: bool,
    /// Prefixes bound to Atom 0.3 (`""` for the default namespace).
    atom03_prefixes: Vec<String>,
    /// Prefixes bound to Atom 1.0.
    atom10_prefixes: Vec<String>,
    /// Prefixes bound to Media RSS (besides `media`).
    mrss_prefixes: Vec<String>,
    /// The prefix of a prefixed `<P:rss>` root: dropped from every element.
    rss_prefix: Option<String>,
    /// The root is a CDF `<CHANNEL>`.
    cdf: bool,
    /// The root is `<rss>` or `<rdf:RDF>` (or CDF): items are RSS items.
    rss_like: bool,
    /// A `<channel>` was opened.
    saw_channel: bool,
}

fn find(hay: &str, from: usize, needle: &str) -> Option<usize> {
    hay.get(from..)?.find(needle).map(|i| from + i)
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.' | '\u{B7}')
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

impl Recoverer<'_> {
    /// Writes the reference `&fragment;` as XML can read it (kept, resolved
    /// from HTML's table, escaped, or dropped when it names a character XML
    /// forbids), counting each repair.
    fn push_entity(&mut self, fragment: &str) {
        match resolve_entity(fragment) {
            Entity::Keep => {
                self.out.push('&');
                match fragment.strip_prefix("#X") {
                    // HTML allows `&#X41;`, XML only `&#x41;`.
                    Some(hex) => {
                        self.repairs.upper_hex_references += 1;
                        self.out.push_str("#x");
                        self.out.push_str(hex);
                    }
                    None => self.out.push_str(fragment),
                }
                self.out.push(';');
            }
            Entity::Html(chars) => {
                self.repairs.html_entities += 1;
                push_escaped(&mut self.out, &chars);
            }
            Entity::Unknown => {
                self.repairs.unknown_entities += 1;
                self.out.push_str("&amp;");
                self.out.push_str(fragment);
                self.out.push(';');
            }
            Entity::Illegal => self.repairs.illegal_references += 1,
        }
    }

    fn inside_root(&self) -> bool {
        !self.stack.is_empty()
    }

    fn run(&mut self) {
        let s = self.s;
        let mut i = 0;
        let mut text_start = 0;
        while i < s.len() {
            let b = s.as_bytes()[i];
            if b != b'<' && b != b'&' {
                i += 1;
                continue;
            }
            self.text(&s[text_start..i]);
            let next = if b == b'&' {
                self.reference(i)
            } else {
                self.markup(i)
            };
            match next {
                Some(n) => {
                    i = n;
                    text_start = n;
                }
                None => {
                    // A damaged tail: markup cut short.
                    if self.inside_root() {
                        self.repairs.dropped_tail = s.len() - i;
                    }
                    text_start = s.len();
                    break;
                }
            }
        }
        let rest = &s[text_start.min(s.len())..];
        self.text(rest);
        self.drop_unusable_last_entry();
        if !self.stack.is_empty() {
            self.repairs.closed_elements += self.stack.iter().filter(|o| !o.synthetic).count();
            while let Some(open) = self.stack.pop() {
                self.close(open);
            }
        }
    }

    /// An entry still open at the end of the document was cut short. It is
    /// kept when it already holds a complete link or guid (an article a
    /// reader can open, cut in its description), and dropped otherwise: a
    /// title cut mid-word with nothing to link is not an item.
    fn drop_unusable_last_entry(&mut self) {
        let Some(at) = self.stack.iter().rposition(|o| {
            let local = o.name.rsplit(':').next().unwrap_or_default();
            local.eq_ignore_ascii_case("item") || local.eq_ignore_ascii_case("entry")
        }) else {
            return;
        };
        let inner = &self.out[self.stack[at].content_at..];
        let linked = ["</link>", "<link ", "</guid>", "<link/>", "</id>"]
            .iter()
            .any(|t| inner.contains(t))
            || self.stack[at].item.as_ref().is_some_and(|l| l.fallback.is_some());
        if linked {
            return;
        }
        let start = self.stack[at].start_at;
        self.out.truncate(start);
        self.stack.truncate(at);
        self.repairs.dropped_entries += 1;
    }

    /// Plain text between markup.
    fn text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if !self.inside_root() {
            if !self.root_done && !t.trim().is_empty() {
                self.repairs.junk_before_root = true;
            }
            return;
        }
        for c in t.chars() {
            match c {
                '>' => self.out.push_str("&gt;"),
                c if is_xml_char(c) => self.out.push(c),
                _ => {}
            }
        }
    }

    /// A `&` at `i`: a reference kept, resolved or escaped. Returns where the
    /// text goes on.
    fn reference(&mut self, i: usize) -> Option<usize> {
        let s = self.s;
        let rest = &s[i + 1..];
        let end = rest
            .char_indices()
            .take(MAX_ENTITY + 1)
            .find(|(_, c)| !(is_name_char(*c) || *c == '#'));
        let (consumed, fragment) = match end {
            Some((j, ';')) if j > 0 => (j + 2, &rest[..j]),
            _ => {
                self.repairs.stray_ampersands += usize::from(self.inside_root());
                if self.inside_root() {
                    self.out.push_str("&amp;");
                }
                return Some(i + 1);
            }
        };
        if self.inside_root() {
            self.push_entity(fragment);
        }
        Some(i + consumed)
    }

    /// Markup at `i` (a `<`). `None` when it is cut short by the end.
    fn markup(&mut self, i: usize) -> Option<usize> {
        let s = self.s;
        let rest = &s[i..];
        if rest.starts_with("<!--") {
            return find(s, i + 4, "-->").map(|e| e + 3);
        }
        if rest.starts_with("<![CDATA[") {
            let body_at = i + 9;
            return match find(s, body_at, "]]>") {
                Some(e) => {
                    if self.inside_root() {
                        self.cdata(&s[body_at..e]);
                    }
                    Some(e + 3)
                }
                None => {
                    if self.inside_root() {
                        self.repairs.unclosed_cdata = true;
                        self.cdata(&s[body_at..]);
                    }
                    Some(s.len())
                }
            };
        }
        if rest.starts_with("<!") {
            return self.skip_declaration(i);
        }
        if rest.starts_with("<?") {
            return find(s, i + 2, "?>").map(|e| e + 2);
        }
        if let Some(after) = rest.strip_prefix("</") {
            if !after.starts_with(is_name_start) {
                return Some(self.stray_lt(i));
            }
            let close = find(s, i, ">")?;
            let name = s[i + 2..close].trim();
            self.end_tag(name);
            return Some(close + 1);
        }
        if !rest[1..].starts_with(is_name_start) {
            return Some(self.stray_lt(i));
        }
        self.start_tag(i)
    }

    fn stray_lt(&mut self, i: usize) -> usize {
        if self.inside_root() {
            self.repairs.stray_less_than += 1;
            self.out.push_str("&lt;");
        }
        i + 1
    }

    fn cdata(&mut self, body: &str) {
        self.out.push_str("<![CDATA[");
        self.out.extend(body.chars().filter(|c| is_xml_char(*c)));
        self.out.push_str("]]>");
    }

    /// `<!DOCTYPE ...>` with an optional internal subset in brackets.
    fn skip_declaration(&mut self, i: usize) -> Option<usize> {
        let s = self.s.as_bytes();
        let mut depth = 0usize;
        let mut j = i + 2;
        while j < s.len() {
            match s[j] {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => return Some(j + 1),
                _ => {}
            }
            j += 1;
        }
        None
    }

    fn start_tag(&mut self, i: usize) -> Option<usize> {
        let s = self.s;
        let name_end = s[i + 1..]
            .char_indices()
            .find(|(_, c)| !is_name_char(*c))
            .map_or(s.len(), |(j, _)| i + 1 + j);
        let name = &s[i + 1..name_end];
        let (attrs, self_closing, end) = parse_attributes(s, name_end)?;
        if self.root_done {
            // Markup after the root element: ignored.
            return Some(end);
        }
        if self.stack.len() >= MAX_DEPTH {
            self.repairs.too_deep += 1;
            return Some(end);
        }
        self.close_before_entry(name);
        let is_root = self.stack.is_empty();
        let mut attrs = attrs;
        let local = name.rsplit(':').next().unwrap_or(name);
        let prefix = name
            .strip_suffix(local)
            .map(|p| p.trim_end_matches(':'))
            .unwrap_or("");
        if is_root && !prefix.is_empty() && local == "rss" {
            // `<r:rss xmlns:r="http://backend.userland.com/rss2">`: RSS 2.0
            // in a namespace of its own, which feed-rs does not know.
            self.rss_prefix = Some(prefix.to_owned());
            self.repairs.dialect = Some("RSS 2.0 in a prefixed namespace");
        }
        if is_root && prefix.is_empty() && local.eq_ignore_ascii_case("channel") {
            // Channel Definition Format (CDF): read as the RSS 2.0 it maps to.
            self.cdf = true;
            self.repairs.dialect = Some("CDF");
            self.out.push_str("<rss version=\"2.0\">");
            self.stack.push(Open::synthetic("rss"));
        }
        let unprefixed = self.rss_prefix.as_deref() == Some(prefix);
        let cdf_name = if self.cdf && prefix.is_empty() {
            cdf_rename(local)
        } else {
            None
        };
        self.normalise(if unprefixed { local } else { name }, is_root, &mut attrs);
        if is_root {
            self.rss_like = self.cdf || matches!(local, "rss" | "RDF");
        }
        let renamed_to = if self.atom03_prefixes.iter().any(|p| p == prefix) {
            atom03_rename(local)
        } else {
            None
        };
        let text_construct = matches!(
            renamed_to.unwrap_or(local),
            "title" | "subtitle" | "summary" | "content" | "rights"
        );
        if text_construct && self.atom03_prefixes.iter().any(|p| p == prefix) {
            atom03_attributes(&mut attrs);
        } else if text_construct
            && !self.rss_like
            && (prefix.is_empty() || self.atom10_prefixes.iter().any(|p| p == prefix))
        {
            self.atom10_text_type(local, &mut attrs);
        }
        if self.rss_like
            && !self.cdf
            && self.stack.len() == 1
            && self.stack[0].out_name == "rss"
            && out_local_is(&cdf_name, local, "item")
        {
            // Items straight under `<rss>`, no `<channel>`: feedparser
            // reads them, feed-rs needs the channel.
            self.out.push_str("<channel>");
            self.stack.push(Open::synthetic("channel"));
            self.repairs.missing_channel = true;
        }
        if out_local_is(&cdf_name, local, "channel") {
            self.saw_channel = true;
        }
        let media = prefix == "media" || self.mrss_prefixes.iter().any(|p| p == prefix);
        if media && matches!(local, "title" | "description") {
            self.media_text_type(&mut attrs);
        }
        // An empty Atom text construct (`<summary type="xhtml"/>`, a
        // `<content type="image/png"/>` with no body) makes feed-rs reject
        // the document: dropped like empty extension elements.
        let empty_atom_text = !self.rss_like
            && text_construct
            && (prefix.is_empty() || self.atom10_prefixes.iter().any(|p| p == prefix))
            && !attrs.iter().any(|(k, _)| k == "src");
        let droppable_if_empty = !is_root
            && (empty_atom_text
                || (name.contains(':')
                    && !unprefixed
                    && (attrs.is_empty()
                        || (media
                            && matches!(
                                local,
                                "title" | "description" | "text" | "credit" | "keywords" | "copyright"
                            )))));
        // The link an RSS item would otherwise lack (see `ItemLinks`).
        let in_item = self.rss_like && self.stack.last().is_some_and(|o| o.item.is_some());
        let link_like = in_item && local == "link" && !self.atom03_prefixes.iter().any(|p| p == prefix);
        let atom_link = link_like && self.atom10_prefixes.iter().any(|p| p == prefix);
        let rss_link = link_like && !atom_link;
        if (atom_link || rss_link) && alternate(&attrs) {
            if let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href") {
                let href = self.escaped_attr(href);
                let item = self
                    .stack
                    .last_mut()
                    .and_then(|o| o.item.as_mut())
                    .expect("in_item");
                item.fallback.get_or_insert(href);
            }
        }
        // Atom `<link>http://...</link>`: text where `href` belongs.
        let text_link = !self.rss_like
            && local == "link"
            && (prefix.is_empty() || self.atom10_prefixes.iter().any(|p| p == prefix))
            && !attrs.iter().any(|(k, _)| k == "href");
        let out_local = cdf_name.unwrap_or(local);
        let is_item = self.rss_like && out_local == "item";
        let mut item = is_item.then(ItemLinks::default);
        let mut cdf_children = String::new();
        if self.cdf && matches!(out_local, "channel" | "item") {
            // CDF keeps in attributes what RSS keeps in elements.
            let mut kept = Vec::new();
            for (k, v) in std::mem::take(&mut attrs) {
                match k.to_ascii_lowercase().as_str() {
                    "base" => kept.push(("xml:base".to_owned(), v)),
                    "href" if out_local == "channel" => {
                        let _ = write!(cdf_children, "<link>{}</link>", self.escaped_attr(&v));
                    }
                    "lastmod" if out_local == "item" => {
                        let _ = write!(cdf_children, "<pubDate>{}</pubDate>", self.escaped_attr(&v));
                    }
                    _ => kept.push((k, v)),
                }
            }
            attrs = kept;
        }
        if let Some(item) = item.as_mut() {
            // `<item href="...">`: CDF, and feedparser reads it on any item.
            // `<item rdf:about="...">`: RSS 1.0's name for the item, its
            // page by the spec's convention; feed-rs drops an RSS 1.0 item
            // without a `<link>`.
            let href = attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("href"))
                .or_else(|| attrs.iter().find(|(k, _)| k == "rdf:about"));
            if let Some((_, href)) = href {
                item.fallback = Some(self.escaped_attr(href));
            }
            attrs.retain(|(k, _)| !k.eq_ignore_ascii_case("href") && !k.eq_ignore_ascii_case("lastmod"));
        }
        let start_at = self.out.len();
        self.out.push('<');
        let out_name = match renamed_to {
            Some(new) if prefix.is_empty() => new.to_owned(),
            Some(new) => format!("{prefix}:{new}"),
            None if unprefixed || cdf_name.is_some() => out_local.to_owned(),
            None => name.to_owned(),
        };
        self.out.push_str(&out_name);
        let mut seen: Vec<&str> = Vec::with_capacity(attrs.len());
        for (k, v) in &attrs {
            if seen.contains(&k.as_str()) || !k.starts_with(is_name_start) {
                continue;
            }
            seen.push(k);
            let _ = write!(self.out, " {k}=\"");
            self.attr_value(v);
            self.out.push('"');
        }
        if self_closing && item.is_none() && cdf_children.is_empty() {
            if droppable_if_empty {
                self.out.truncate(start_at);
                self.repairs.empty_elements += 1;
            } else {
                self.out.push_str("/>");
            }
            if is_root {
                self.root_done = true;
            }
            return Some(end);
        }
        self.out.push('>');
        self.out.push_str(&cdf_children);
        self.stack.push(Open {
            name: name.to_owned(),
            out_name,
            content_at: self.out.len(),
            start_at,
            droppable_if_empty,
            item,
            rss_link,
            text_link,
            synthetic: false,
        });
        if self_closing {
            let open = self.stack.pop().expect("just pushed");
            self.close(open);
        }
        Some(end)
    }

    /// `v` as it goes between quotes or tags, references resolved; what
    /// that repairs is counted where the value is written out.
    fn escaped_attr(&mut self, v: &str) -> String {
        let (start, repairs) = (self.out.len(), self.repairs.clone());
        self.attr_value(v);
        let escaped = self.out[start..].to_owned();
        self.out.truncate(start);
        self.repairs = repairs;
        escaped
    }

    /// An entry starts where entries live (a channel, a feed, the RDF
    /// root): elements left open before it (`<itunes:category text='x'>`
    /// never closed, an entry cut short by the next) are closed first, so
    /// that the entries do not end up inside them. At most the stack's
    /// depth of work, once per entry.
    fn close_before_entry(&mut self, name: &str) {
        let local = |n: &str| n.rsplit(':').next().unwrap_or(n).to_ascii_lowercase();
        if !matches!(local(name).as_str(), "item" | "entry") {
            return;
        }
        let Some(home) = self
            .stack
            .iter()
            .rposition(|o| matches!(local(&o.out_name).as_str(), "channel" | "feed" | "rdf"))
        else {
            return;
        };
        let unclosed = self.stack[home + 1..].iter().filter(|o| !o.synthetic).count();
        if self.stack.len() == home + 1 {
            return;
        }
        self.repairs.closed_elements += unclosed;
        while self.stack.len() > home + 1 {
            let open = self.stack.pop().expect("len > home + 1");
            self.close(open);
        }
    }

    fn end_tag(&mut self, name: &str) {
        match self.stack.iter().rposition(|o| o.name == name) {
            Some(at) => {
                let unclosed = self.stack[at + 1..].iter().filter(|o| !o.synthetic).count();
                self.repairs.closed_elements += unclosed;
                while self.stack.len() > at {
                    let open = self.stack.pop().expect("len > at");
                    self.close(open);
                }
            }
            None => {
                if self.inside_root() {
                    self.repairs.stray_end_tags += 1;
                }
            }
        }
    }

    fn close(&mut self, open: Open) {
        let empty = self.out[open.content_at..].trim().is_empty();
        if open.text_link && !empty && !self.out[open.content_at..].contains('<') {
            let href = self.out[open.content_at..].trim().replace('"', "&quot;");
            self.out.truncate(open.content_at - 1);
            let _ = write!(self.out, " href=\"{href}\"/>");
            if self.stack.is_empty() {
                self.root_done = true;
            }
            return;
        }
        if open.droppable_if_empty && empty {
            self.out.truncate(open.start_at);
            self.repairs.empty_elements += 1;
        } else {
            if let Some(ItemLinks {
                has_link: false,
                fallback: Some(href),
            }) = &open.item
            {
                let _ = write!(self.out, "<link>{href}</link>");
            }
            if self.stack.is_empty() && open.out_name == "rss" && !self.saw_channel {
                // `<rss version="0.92"></rss>`: an empty feed, not "no
                // root element".
                self.out.push_str("<channel/>");
                self.repairs.missing_channel = true;
            }
            self.out.push_str("</");
            self.out.push_str(&open.out_name);
            self.out.push('>');
        }
        if open.rss_link && !empty {
            if let Some(item) = self.stack.last_mut().and_then(|o| o.item.as_mut()) {
                item.has_link = true;
            }
        }
        if self.stack.len() == 1 && self.stack[0].synthetic {
            let root = self.stack.pop().expect("len 1");
            self.close(root);
        }
        if self.stack.is_empty() {
            self.root_done = true;
        }
    }

    fn attr_value(&mut self, v: &str) {
        let mut i = 0;
        while i < v.len() {
            let c = v[i..].chars().next().expect("in bounds");
            match c {
                '&' => {
                    let rest = &v[i + 1..];
                    let end = rest
                        .char_indices()
                        .take(MAX_ENTITY + 1)
                        .find(|(_, c)| !(is_name_char(*c) || *c == '#'));
                    match end {
                        Some((j, ';')) if j > 0 => {
                            let fragment = &rest[..j];
                            self.push_entity(fragment);
                            i += j + 2;
                            continue;
                        }
                        _ => {
                            self.repairs.stray_ampersands += 1;
                            self.out.push_str("&amp;");
                        }
                    }
                }
                '<' => self.out.push_str("&lt;"),
                '"' => self.out.push_str("&quot;"),
                c if is_xml_char(c) => self.out.push(c),
                _ => {}
            }
            i += c.len_utf8();
        }
    }

    /// A Media RSS `<media:title>`/`<media:description>` `type`: feed-rs
    /// knows `plain` and `html` and rejects the whole document for any
    /// other (`text`, `text/html`).
    fn media_text_type(&mut self, attrs: &mut [(String, String)]) {
        let Some((_, ty)) = attrs.iter_mut().find(|(k, _)| k == "type") else {
            return;
        };
        if matches!(ty.as_str(), "plain" | "html") {
            return;
        }
        *ty = if ty.to_ascii_lowercase().contains("html") {
            "html"
        } else {
            "plain"
        }
        .to_owned();
        self.repairs.text_types += 1;
    }

    /// An Atom 1.0 text construct's `type`: feed-rs knows `text`, `html`
    /// and `xhtml` (and `text/html`), and rejects the whole document for
    /// any other. Content may be any MIME type, except an empty one.
    fn atom10_text_type(&mut self, local: &str, attrs: &mut [(String, String)]) {
        let Some((_, ty)) = attrs.iter_mut().find(|(k, _)| k == "type") else {
            return;
        };
        let t = ty.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "text" | "html" | "xhtml" | "text/html") {
            return;
        }
        if local == "content" && t.contains('/') {
            return;
        }
        *ty = match t.as_str() {
            "application/xhtml+xml" => "xhtml",
            t if t.contains("html") => "html",
            _ => "text",
        }
        .to_owned();
        self.repairs.text_types += 1;
    }

    /// Namespace normalisation on a start tag's attributes.
    fn normalise(&mut self, name: &str, is_root: bool, attrs: &mut Vec<(String, String)>) {
        if is_root {
            // `<feed xmlns="http://www.w3.org/2005/atom">` (a typo) or RSS
            // 1.0 in a namespace of its own: feedparser reads the elements
            // by their names, and so do we.
            let (known, dialect): (&[&str], _) = match name.rsplit(':').next().unwrap_or(name) {
                "feed" => (&[ATOM_10, ATOM_03], "Atom in an unknown namespace"),
                "RDF" => (
                    &[RSS_10, RSS_090[0], RSS_090[1]],
                    "RSS 1.0 in an unknown namespace",
                ),
                _ => (&[], ""),
            };
            if let Some((_, v)) = attrs.iter_mut().find(|(k, _)| k == "xmlns") {
                if !known.is_empty() && !known.contains(&v.trim()) {
                    *v = known[0].to_owned();
                    self.repairs.dialect = Some(dialect);
                }
            }
        }
        for (k, v) in attrs.iter_mut() {
            if k != "xmlns" && !k.starts_with("xmlns:") {
                continue;
            }
            let prefix = k.strip_prefix("xmlns:").unwrap_or("");
            if v.trim().trim_end_matches('/') == MRSS {
                remember(&mut self.mrss_prefixes, prefix);
            }
            if v.trim() == ATOM_10 {
                remember(&mut self.atom10_prefixes, prefix);
            } else if v.trim() == ATOM_03 {
                *v = ATOM_10.to_owned();
                remember(&mut self.atom03_prefixes, prefix);
                self.repairs.dialect = Some("Atom 0.3");
            } else if RSS_090.contains(&v.trim()) {
                *v = RSS_10.to_owned();
                self.repairs.dialect = Some("RSS 0.90");
            }
        }
        if is_root && name == "rss" {
            // feed-rs reads `<rss>` children in no namespace only, and only
            // versions 2.0, 0.91 and 0.92; 0.93/0.94 and a missing version
            // are RSS 2.0 for every reader.
            let before = attrs.len();
            attrs.retain(|(k, _)| k != "xmlns");
            if attrs.len() != before {
                self.repairs.dialect = Some("RSS 2.0 with a default namespace");
            }
            match attrs.iter_mut().find(|(k, _)| k == "version") {
                Some((_, v)) if matches!(v.trim(), "2.0" | "0.91" | "0.92") => {}
                Some((_, v)) => *v = "2.0".into(),
                None => attrs.push(("version".into(), "2.0".into())),
            }
        }
    }
}

/// Most prefixes remembered per namespace: each start tag looks its
/// prefix up in these lists, so a hostile document declaring thousands must
/// not make that quadratic. Real feeds bind a namespace to one or two.
const MAX_PREFIXES: usize = 16;

fn remember(prefixes: &mut Vec<String>, prefix: &str) {
    if prefixes.len() < MAX_PREFIXES && !prefixes.iter().any(|p| p == prefix) {
        prefixes.push(prefix.to_owned());
    }
}

/// The element's name as written out is `want`.
fn out_local_is(cdf_name: &Option<&str>, local: &str, want: &str) -> bool {
    cdf_name.unwrap_or(local) == want
}

/// CDF element names and the RSS 2.0 names they map to.
fn cdf_rename(local: &str) -> Option<&'static str> {
    Some(match local.to_ascii_lowercase().as_str() {
        "channel" => "channel",
        "item" => "item",
        "title" => "title",
        "abstract" => "description",
        _ => return None,
    })
}

/// A link's `rel` is absent or `alternate` (its web page, as opposed to
/// `self`, `enclosure`, `related`, ...).
fn alternate(attrs: &[(String, String)]) -> bool {
    attrs
        .iter()
        .find(|(k, _)| k == "rel")
        .is_none_or(|(_, v)| v.trim().eq_ignore_ascii_case("alternate"))
}

/// Atom 0.3 element names that Atom 1.0 renamed.
fn atom03_rename(local: &str) -> Option<&'static str> {
    Some(match local {
        "modified" => "updated",
        "issued" => "published",
        "tagline" | "info" => "subtitle",
        "copyright" => "rights",
        _ => return None,
    })
}

/// Atom 0.3 text constructs: a MIME `type` and a `mode` become Atom 1.0's
/// `text`, `html` or `xhtml`.
fn atom03_attributes(attrs: &mut Vec<(String, String)>) {
    let mode = attrs
        .iter()
        .find(|(k, _)| k == "mode")
        .map(|(_, v)| v.trim().to_owned());
    let ty = attrs
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.trim().to_ascii_lowercase());
    if mode.is_none() && ty.is_none() {
        return;
    }
    let new_type = match (mode.as_deref(), ty.as_deref()) {
        (Some("base64"), _) => return,
        (Some("xml"), _) => "xhtml",
        (_, Some("text/html" | "html")) => "html",
        (Some("escaped"), Some(t)) if t.contains("html") => "html",
        (Some("escaped"), None) => "html",
        (_, Some("application/xhtml+xml" | "xhtml")) => "xhtml",
        (_, Some("text/plain" | "text")) => "text",
        (_, Some(t)) if t.contains('/') && !t.starts_with("text/") => return,
        _ => "text",
    };
    attrs.retain(|(k, _)| k != "mode" && k != "type");
    attrs.push(("type".into(), new_type.into()));
}

/// The attributes of a start tag from `at` (just after its name), leniently:
/// unquoted values, values without a name, a `<` inside are all accepted.
/// Returns them, whether the tag closes itself, and where it ends; `None`
/// when the document ends inside the tag.
#[allow(clippy::type_complexity)]
fn parse_attributes(s: &str, at: usize) -> Option<(Vec<(String, String)>, bool, usize)> {
    let b = s.as_bytes();
    let mut attrs = Vec::new();
    let mut i = at;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i)? {
            b'>' => return Some((attrs, false, i + 1)),
            b'/' if b.get(i + 1) == Some(&b'>') => return Some((attrs, true, i + 2)),
            b'/' | b'"' | b'\'' | b'=' => {
                i += 1;
                continue;
            }
            b'<' => {
                // A tag cut short by the next one: end it here.
                return Some((attrs, false, i));
            }
            _ => {}
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/' | b'<') {
            i += 1;
        }
        let name = &s[name_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            // An attribute without a value (`<td nowrap>`) is dropped.
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match b.get(i)? {
            q @ (b'"' | b'\'') => {
                let close = find(s, i + 1, if *q == b'"' { "\"" } else { "'" })?;
                let v = &s[i + 1..close];
                i = close + 1;
                v
            }
            _ => {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                &s[start..i]
            }
        };
        if name.chars().all(is_name_char) && !name.is_empty() {
            attrs.push((name.to_owned(), value.to_owned()));
        }
    }
}

enum Entity {
    /// An XML reference (predefined or numeric, to a legal character).
    Keep,
    /// An HTML entity XML does not define, resolved to its text.
    Html(String),
    Unknown,
    /// A character reference to a character XML forbids (`&#0;`).
    Illegal,
}

fn resolve_entity(fragment: &str) -> Entity {
    if let Some(num) = fragment.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        return match n.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => Entity::Keep,
            Some(_) => Entity::Illegal,
            None => Entity::Unknown,
        };
    }
    if matches!(fragment, "lt" | "gt" | "amp" | "quot" | "apos") {
        return Entity::Keep;
    }
    let key = format!("{fragment};");
    match markup5ever::data::NAMED_ENTITIES.get(key.as_str()) {
        Some(&(a, b)) => {
            let chars: String = [a, b]
                .into_iter()
                .filter(|&c| c != 0)
                .filter_map(char::from_u32)
                .collect();
            Entity::Html(chars)
        }
        None => Entity::Unknown,
    }
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// True when the document's head declares Atom 0.3 or RSS 0.90, which
/// feed-rs reads as an empty feed (not even its title) without
/// normalisation.
pub fn old_dialect(doc: &[u8]) -> bool {
    let head = &doc[..doc.len().min(4096)];
    let has = |n: &str| head.windows(n.len()).any(|w| w == n.as_bytes());
    has(ATOM_03) || has("/rdf/simple/0.9/")
}

/// True when the bytes show entry markup: an `<item` or `<entry` start tag,
/// with or without a prefix, in any case.
pub fn shows_entries(doc: &[u8]) -> bool {
    entry_tags(doc).next().is_some()
}

/// How many `<item`/`<entry` start tags the bytes show (see
/// [`shows_entries`]).
pub fn count_entries(doc: &[u8]) -> usize {
    entry_tags(doc).count()
}

fn entry_tags(doc: &[u8]) -> impl Iterator<Item = ()> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(j) = doc[i..].iter().position(|&b| b == b'<' || b == b':') {
            let at = i + j + 1;
            i = at;
            let rest = &doc[at..];
            for tag in [&b"item"[..], b"entry"] {
                if rest.len() > tag.len()
                    && rest[..tag.len()].eq_ignore_ascii_case(tag)
                    && matches!(rest[tag.len()], b' ' | b'>' | b'/' | b'\t' | b'\n' | b'\r')
                {
                    return Some(());
                }
            }
        }
        None
    })
}

/// The root element's name and namespace, for a `no entries understood`
/// reason.
pub fn describe_root(doc: &[u8]) -> String {
    let text = String::from_utf8_lossy(&doc[..doc.len().min(64 * 1024)]);
    let mut rest: &str = &text;
    loop {
        let Some(at) = rest.find('<') else {
            return "no root element".into();
        };
        rest = &rest[at..];
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[1..];
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[1..end];
        let name = tag.split_whitespace().next().unwrap_or_default();
        let ns = tag.split_once("xmlns=").and_then(|(_, v)| {
            let v = v.trim_start();
            // Only a quote opens the value: found by the fuzz target, a
            // multi-byte character there made `v[1..]` cut inside it.
            let q = v.chars().next().filter(|c| matches!(c, '"' | '\''))?;
            v[1..].split(q).next().map(str::to_owned)
        });
        return match ns {
            Some(ns) => format!("root <{name}> in namespace {ns}"),
            None => format!("root <{name}>"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(s: &str) -> Recovered {
        recover(s.as_bytes())
    }

    #[test]
    fn stray_ampersand_and_entities() {
        let r = fix("<rss version=\"2.0\"><channel><item><link>http://x/?a=1&b=2</link><title>A&nbsp;B &copy &foo; &amp; &#233;</title></item></channel></rss>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><item><link>http://x/?a=1&amp;b=2</link><title>A\u{a0}B &amp;copy &amp;foo; &amp; &#233;</title></item></channel></rss>"
        );
        assert_eq!(r.repairs.stray_ampersands, 2);
        assert_eq!(r.repairs.html_entities, 1);
        assert_eq!(r.repairs.unknown_entities, 1);
        assert_eq!(
            r.repairs.describe().unwrap(),
            "2 stray '&'s, 1 HTML entity, 1 unknown entity"
        );
    }

    #[test]
    fn truncated_tail_and_cdata() {
        // Cut in the description of an entry that has its link: kept.
        let r = fix(
            "<rss><channel><item><title>a</title></item><item><link>http://x/b</link><description><![CDATA[b",
        );
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><item><title>a</title></item><item><link>http://x/b</link><description><![CDATA[b]]></description></item></channel></rss>"
        );
        assert!(r.repairs.unclosed_cdata);
        assert_eq!(r.repairs.closed_elements, 4);
        // Cut before its link: the entry goes, the ones before stay.
        let r = fix("<rss version=\"2.0\"><channel><item><title>a</title></item><item><title>hal");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>"
        );
        assert_eq!(r.repairs.dropped_entries, 1);
        let r = fix("<rss version=\"2.0\"><channel><item><title>a</title></item><item><tit");
        assert!(r.xml.ends_with("</item></channel></rss>"), "{}", r.xml);
        assert_eq!(r.repairs.dropped_tail, 4);
        // A reference to a character XML forbids is dropped, not escaped.
        let r = fix("<r>a&#0;b&#x41;</r>");
        assert_eq!(r.xml, "<r>ab&#x41;</r>");
        assert_eq!(r.repairs.illegal_references, 1);
    }

    #[test]
    fn entries_never_nest_in_what_was_left_open() {
        let r = fix("<rss version=\"2.0\"><channel><itunes:category text='Tech'><itunes:category text='Gadgets'/><item><link>http://x/1</link></item><item><title>cut<item><link>http://x/2</link></item></channel></rss>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><itunes:category text=\"Tech\"><itunes:category text=\"Gadgets\"/></itunes:category><item><link>http://x/1</link></item><item><title>cut</title></item><item><link>http://x/2</link></item></channel></rss>"
        );
        assert_eq!(r.repairs.closed_elements, 3);
        assert_eq!(r.repairs.stray_end_tags, 0);
    }

    #[test]
    fn junk_empty_media_and_stray_tags() {
        let r = fix("\n -<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY x \"y\">]><rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><media:description/><media:credit role=\"author\"></media:credit><media:content url=\"http://x/i.jpg\"/>a < b</b></item></channel></rss>trailing");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><media:content url=\"http://x/i.jpg\"/>a &lt; b</item></channel></rss>"
        );
        assert!(r.repairs.junk_before_root);
        assert_eq!(r.repairs.empty_elements, 2);
        assert_eq!(r.repairs.stray_end_tags, 1);
    }

    #[test]
    fn dialects() {
        let r =
            fix("<rss version=\"0.94\" xmlns=\"https://cyber.harvard.edu/rss/rss.html\"><channel/></rss>");
        assert_eq!(r.xml, "<rss version=\"2.0\"><channel/></rss>");
        assert_eq!(r.repairs.describe(), None);
        let r = fix("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><item/></rdf:RDF>");
        assert!(r.xml.contains("xmlns=\"http://purl.org/rss/1.0/\""), "{}", r.xml);
        let r = fix("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline type=\"text/plain\">t</tagline><entry><issued>2004-01-01T00:00:00Z</issued><content type=\"text/html\" mode=\"escaped\">&lt;p&gt;x</content></entry></feed>");
        assert_eq!(
            r.xml,
            "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><subtitle type=\"text\">t</subtitle><entry><published>2004-01-01T00:00:00Z</published><content type=\"html\">&lt;p&gt;x</content></entry></feed>"
        );
        assert_eq!(r.repairs.dialect, Some("Atom 0.3"));
    }

    #[test]
    fn cdf_reads_as_rss() {
        let r = fix("<!-- c --><CHANNEL BASE=\"http://base.example/\" HREF=\"http://site.example/\" LASTMOD=\"2004-04-06T23:05:43-05:00\"><TITLE>قناة</TITLE><ABSTRACT>a &amp; b</ABSTRACT><ITEM HREF=\"/item/1?a=1&b=2\" LASTMOD=\"2004-04-06T23:05:43-05:00\" PRECACHE=\"No\"><TITLE>خبر</TITLE><ABSTRACT>x</ABSTRACT></ITEM><ITEM HREF=\"/item/2\"/><LOGO HREF=\"l.gif\"/></CHANNEL>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel xml:base=\"http://base.example/\" LASTMOD=\"2004-04-06T23:05:43-05:00\"><link>http://site.example/</link><title>قناة</title><description>a &amp; b</description><item PRECACHE=\"No\"><pubDate>2004-04-06T23:05:43-05:00</pubDate><title>خبر</title><description>x</description><link>/item/1?a=1&amp;b=2</link></item><item><link>/item/2</link></item><LOGO HREF=\"l.gif\"/></channel></rss>"
        );
        assert_eq!(r.repairs.dialect, Some("CDF"));
        assert_eq!(r.repairs.closed_elements, 0);
        // Cut short: the synthetic `<rss>` is closed, not counted.
        let r = fix("<CHANNEL><ITEM HREF=\"http://x/1\"><TITLE>a</TITLE>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><item><title>a</title><link>http://x/1</link></item></channel></rss>"
        );
        assert_eq!(r.repairs.closed_elements, 2);
    }

    #[test]
    fn prefixed_rss_loses_its_prefix() {
        let r = fix("<r:rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><r:channel><r:item><r:title>t</r:title><dc:date>2002-09-28T21:00:02Z</dc:date><r:link>http://x/1</r:link></r:item></r:channel></r:rss>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><item><title>t</title><dc:date>2002-09-28T21:00:02Z</dc:date><link>http://x/1</link></item></channel></rss>"
        );
        assert_eq!(r.repairs.describe(), None);
    }

    #[test]
    fn item_links_of_other_shapes() {
        let r = fix("<rss version=\"2.0\" xmlns:a10=\"http://www.w3.org/2005/Atom\"><channel><a10:link rel=\"self\" href=\"http://x/feed\"/>\
<item><a10:link rel=\"related\" href=\"http://x/rel\"/><a10:link href=\"http://x/1?a&amp;b\"/><a10:link href=\"http://x/1b\"/></item>\
<item><link>http://x/2</link><a10:link href=\"http://x/related\"/></item>\
<item><a10:link href=\"http://x/3\"/><link>http://x/3-own</link></item>\
<item><link href=\"http://x/4\"/><link rel=\"enclosure\" href=\"http://x/4.mp3\"/></item>\
<item><link></link><guid>g</guid></item></channel></rss>");
        let items: Vec<&str> = r.xml.split("<item>").skip(1).collect();
        assert!(
            items[0].ends_with("<link>http://x/1?a&amp;b</link></item>"),
            "{}",
            items[0]
        );
        assert!(
            items[1].ends_with("<a10:link href=\"http://x/related\"/></item>"),
            "{}",
            items[1]
        );
        assert!(
            items[2].ends_with("<link>http://x/3-own</link></item>"),
            "{}",
            items[2]
        );
        assert!(
            items[3].contains("<link>http://x/4</link></item>"),
            "{}",
            items[3]
        );
        assert!(!items[4].contains("<link>h"), "{}", items[4]);
        assert_eq!(r.repairs.describe(), None);
    }

    #[test]
    fn unknown_namespaces_and_text_links() {
        let r = fix("<feed xmlns=\"http://www.w3.org/2005/atom\"><entry><link>http://x/1?a=\"b\"&amp;c</link><link rel=\"alternate\"> http://x/2 </link><link href=\"http://x/3\">t</link><link><![CDATA[http://x/4]]></link></entry></feed>");
        assert_eq!(
            r.xml,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><link href=\"http://x/1?a=&quot;b&quot;&amp;c\"/><link rel=\"alternate\" href=\"http://x/2\"/><link href=\"http://x/3\">t</link><link><![CDATA[http://x/4]]></link></entry></feed>"
        );
        assert_eq!(r.repairs.dialect, Some("Atom in an unknown namespace"));
        let r = fix("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"https://unknown.example/rss/0.1/\"><item rdf:about=\"http://x/1\"><title>t</title></item><item rdf:about=\"http://x/2\"><link>http://x/2b</link></item></rdf:RDF>");
        assert_eq!(
            r.xml,
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><item rdf:about=\"http://x/1\"><title>t</title><link>http://x/1</link></item><item rdf:about=\"http://x/2\"><link>http://x/2b</link></item></rdf:RDF>"
        );
        // RSS keeps its `<link>` text.
        let r = fix("<rss version=\"2.0\"><channel><link>http://x/</link></channel></rss>");
        assert_eq!(
            r.xml,
            "<rss version=\"2.0\"><channel><link>http://x/</link></channel></rss>"
        );
    }

    #[test]
    fn entry_markup_and_roots() {
        assert!(shows_entries(b"<rss><channel><item>"));
        assert!(shows_entries(b"<rdf:RDF><rss:item rdf:about='x'>"));
        assert!(shows_entries(b"<feed><ENTRY>"));
        assert!(!shows_entries(b"<rss><channel><items/><entryway>"));
        assert_eq!(
            describe_root(b"<?xml version='1.0'?><!-- c --><rdf:RDF xmlns=\"http://x/\">"),
            "root <rdf:RDF> in namespace http://x/"
        );
        // Found by the fuzz target: no quote, a multi-byte character instead.
        assert_eq!(
            describe_root("<feed xmlns=\u{FFFD}http://www.w3.org/2005/Atom\">".as_bytes()),
            "root <feed>"
        );
    }

    /// Hostile shapes stay linear: deep nesting, endless `&`s and `<`s.
    #[test]
    fn hostile_input_is_bounded() {
        let deep = "<a>".repeat(100_000);
        let r = recover(deep.as_bytes());
        assert_eq!(r.repairs.too_deep, 100_000 - MAX_DEPTH);
        assert!(r.xml.len() < 10 * MAX_DEPTH);
        let amps = format!("<r>{}</r>", "&".repeat(200_000));
        assert_eq!(recover(amps.as_bytes()).repairs.stray_ampersands, 200_000);
        let lts = format!("<r>{}</r>", "</x>".repeat(100_000));
        assert_eq!(recover(lts.as_bytes()).repairs.stray_end_tags, 100_000);
        // Namespace declarations by the thousand: the prefix lists stay short.
        let decls: String = (0..20_000)
            .map(|i| format!("<a{i}:x xmlns:a{i}=\"http://www.w3.org/2005/Atom\" xmlns:b=\"http://purl.org/atom/ns#\"/>"))
            .collect();
        let r = recover(format!("<feed>{decls}</feed>").as_bytes());
        assert!(r.xml.len() > 20_000);
    }

    /// Reads `xml` to the end: every element closed, one root at most.
    fn well_formed(xml: &str) -> Result<(), String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let (mut depth, mut roots) = (0usize, 0usize);
        loop {
            match reader.read_event().map_err(|e| e.to_string())? {
                Event::Start(_) => {
                    roots += usize::from(depth == 0);
                    depth += 1;
                }
                Event::Empty(_) => roots += usize::from(depth == 0),
                Event::End(_) => depth = depth.checked_sub(1).ok_or("end tag with nothing open")?,
                Event::GeneralRef(r) => {
                    let ok = r.resolve_char_ref().ok().flatten().is_some()
                        || quick_xml::escape::resolve_predefined_entity(&r).is_some();
                    if !ok {
                        return Err(format!("undefined entity &{};", &*r));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        match (depth, roots) {
            (0, 0 | 1) => Ok(()),
            (0, n) => Err(format!("{n} roots")),
            (n, _) => Err(format!("{n} elements open")),
        }
    }

    const PIECES: &[&str] = &[
        "<rss version=\"2.0\">",
        "</rss>",
        "<channel>",
        "</channel>",
        "<item>",
        "</item>",
        "<title>",
        "</title>",
        "<a b='1' c=\"x&y\" d=e>",
        "</a>",
        "&",
        "&nbsp;",
        "&amp;",
        "&#0;",
        "&#x41;",
        "&#X41;",
        "<title type=\"text/plain\">",
        "&bogus;",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<",
        ">",
        "\"",
        "text",
        "عنوان",
        "<x/>",
        "</x>",
        "<?xml version='1.0'?>",
        "<!DOCTYPE rss [",
        "]>",
        "<media:description/>",
        "<media:title>",
        "</media:title>",
        " ",
        "\u{1}",
        "<feed xmlns=\"http://purl.org/atom/ns#\">",
        "<issued>",
        "</issued>",
        "</feed>",
        "<br",
        "=\"",
        "<<",
        "</",
        "<CHANNEL BASE='http://b/'>",
        "</CHANNEL>",
        "<ITEM HREF='/i?a&b'>",
        "<ITEM HREF=\"x\"/>",
        "</ITEM>",
        "<ABSTRACT>",
        "<r:rss xmlns:r='http://backend.userland.com/rss2'>",
        "<r:item>",
        "</r:item>",
        "</r:rss>",
        "<rss xmlns:a10=\"http://www.w3.org/2005/Atom\">",
        "<a10:link href='http://x/&'/>",
        "<link href=\"h\"/>",
        "<link>",
        "</link>",
        "<feed xmlns='http://www.w3.org/2005/atom'>",
        "<entry>",
        "</entry>",
        "<link rel='alternate'>",
        "http://x/\"q\"",
    ];

    proptest::proptest! {
        #[test]
        fn output_is_well_formed_and_linear(picks in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let doc: String = picks.iter().map(|&i| PIECES[i]).collect();
            let r = recover(doc.as_bytes());
            proptest::prop_assert!(r.xml.len() <= 8 * doc.len() + 64);
            if let Err(e) = well_formed(&r.xml) {
                proptest::prop_assert!(false, "{e}: {doc:?} -> {:?}", r.xml);
            }
        }

        #[test]
        fn any_text_is_well_formed(doc in "\\PC{0,200}") {
            let r = recover(doc.as_bytes());
            if let Err(e) = well_formed(&r.xml) {
                proptest::prop_assert!(false, "{e}: {doc:?} -> {:?}", r.xml);
            }
        }
    }
}
