//! Full-text extraction: an article page (bytes) → the readable article as
//! sanitised HTML, with its title, byline, language and direction.
//!
//! Pure, like `parse`: no network, no store. The daemon's `fulltext` task
//! fetches pages through `fetch` and stores the result; `feedwire extract`
//! prints it. The readability step is `dom_smoothie` (a port of Mozilla's
//! readability.js; chosen over `readability`, `readabilityrs` and `legible` by
//! token F1 on the shared article corpus, see README). Around it we own what
//! a republished article needs: charset decisions (BOM, HTTP header, `<meta
//! charset>`), an optional per-feed CSS selector, second opinions when
//! readability keeps a fragment (JSON-LD `articleBody`, the densest block of
//! paragraphs, the story's HTML in a script-rendered page's data), removal
//! of share-button and "visit our site" debris in Arabic and English, of
//! photo credits, gallery counters and repeated captions, the same
//! sanitiser as feed content, `dir`/`lang` on the result, and the
//! attribution line naming the outlet.

use std::collections::HashMap;
use std::sync::LazyLock;

use dom_query::{Document, Matcher, Selection};
use dom_smoothie::{Config, Readability};
use regex::Regex;
use url::Url;

use crate::parse::{escape_html, sanitize};

mod debris;
mod decode;

use debris::{has_media, normalized, remove_debris};
pub use decode::decode;
use decode::{check_shape, html_text, looks_like_html};

/// Pages with more elements than this are refused rather than scored: real
/// articles have a few thousand, and scoring is quadratic in the worst case.
pub const MAX_ELEMENTS: usize = 60_000;

/// The readable article of one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    pub title: String,
    pub byline: Option<String>,
    /// Primary language subtag (`ar`, `en`), when known.
    pub lang: Option<String>,
    /// `rtl` or `ltr`.
    pub dir: String,
    /// The outlet named in the attribution line.
    pub outlet: String,
    /// The article body, sanitised, without the attribution line.
    pub body: String,
    /// What is published: the body wrapped with `dir`/`lang`, ending with
    /// the attribution line.
    pub html: String,
}

impl Extracted {
    /// The body's plain text, one space between elements (for scoring and
    /// logs).
    pub fn text(&self) -> String {
        html_text(&self.body)
    }
}

/// Why a page gave no article; the message is shown to operators.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("not an HTML page ({0})")]
    NotHtml(String),
    #[error("no article found on the page")]
    NoArticle,
    #[error("full_text_selector {0:?} matched nothing on the page")]
    SelectorMissed(String),
    #[error("invalid full_text_selector {0:?}")]
    BadSelector(String),
    #[error("page too complex: {0}")]
    TooComplex(String),
}

/// When `article` holds fewer letters and digits than `feed_html` (the
/// item's own content from its feed): `(article's, feed's)`. Then the page
/// showed a fragment (a teaser block, a paywall's first lines) and the
/// feed's content is the better text to publish.
pub fn shorter_than(article: &Extracted, feed_html: &str) -> Option<(usize, usize)> {
    let letters = |t: &str| t.chars().filter(|c| c.is_alphanumeric()).count();
    let (kept, feed) = (letters(&article.text()), letters(&html_text(feed_html)));
    (kept < feed).then_some((kept, feed))
}

/// Checks a `full_text_selector` (for config validation).
pub fn valid_selector(selector: &str) -> bool {
    Matcher::new(selector).is_ok()
}

/// Extracts the article from `body`, the page at `url`. `outlet` names the
/// source when the page does not (`og:site_name`).
pub fn extract(
    body: &[u8],
    content_type: Option<&str>,
    url: &Url,
    selector: Option<&str>,
    outlet: Option<&str>,
) -> Result<Extracted, ExtractError> {
    if let Some(ct) = content_type {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !mime.is_empty() && !mime.contains("html") {
            return Err(ExtractError::NotHtml(mime));
        }
    }
    let text = decode(body, content_type);
    if !looks_like_html(&text) {
        return Err(ExtractError::NotHtml("no HTML markup".into()));
    }
    check_shape(&text)?;
    let doc = Document::from(text.as_str());
    remove_consent_dialogs(&doc);
    remove_calls_to_action(&doc);
    let ld_body = json_ld_body(&doc);
    let scripts = script_payloads(&doc);
    let lead = lead_figure(&doc, url);
    let standfirst = standfirst(&doc);
    let cluster = if selector.is_none() {
        let (cluster, story_chars) = paragraph_cluster(&doc);
        if story_chars < SHORT_STORY {
            remove_chrome_boxes(&doc);
        }
        cluster
    } else {
        None
    };
    // Old pages declare their language in a `Content-Language` meta tag
    // rather than on `<html>`.
    let html_lang = doc
        .select_single("html")
        .attr("lang")
        .or_else(|| {
            doc.select_single(r#"meta[http-equiv="content-language" i]"#)
                .attr("content")
        })
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());

    let cfg = Config {
        max_elements_to_parse: MAX_ELEMENTS,
        ..Config::default()
    };
    let selected = match selector {
        None => None,
        Some(sel) => {
            let matcher = Matcher::new(sel).map_err(|_| ExtractError::BadSelector(sel.to_owned()))?;
            let found = doc.select_matcher(&matcher);
            if !found.exists() {
                return Err(ExtractError::SelectorMissed(sel.to_owned()));
            }
            Some(
                found
                    .nodes()
                    .iter()
                    .map(|n| n.html().to_string())
                    .collect::<String>(),
            )
        }
    };
    let mut readability = Readability::with_document(doc, Some(url.as_str()), Some(cfg))
        .map_err(|e| ExtractError::TooComplex(e.to_string()))?;
    let (title, byline, site_name, content, article_lang, article_dir) = match selected {
        Some(content) => {
            let meta = readability.get_article_metadata(readability.parse_json_ld());
            (
                meta.title,
                meta.byline,
                meta.site_name,
                content,
                meta.lang,
                meta.dir,
            )
        }
        None => {
            let article = match readability.parse() {
                Ok(a) => a,
                Err(e @ dom_smoothie::ReadabilityError::TooManyElements(..)) => {
                    return Err(ExtractError::TooComplex(e.to_string()))
                }
                Err(_) => match cluster.as_ref() {
                    // Readability found nothing it trusts; a block of real
                    // paragraphs is still the article.
                    Some(c) => {
                        return finish(
                            c.html.clone(),
                            title_of(&text),
                            None,
                            None,
                            html_lang,
                            None,
                            url,
                            outlet,
                            selector,
                        )
                    }
                    None => match script_article(&scripts) {
                        // The page renders its story from script data only
                        // (a Next.js page's streamed payload).
                        Some(html) => {
                            return finish(
                                html,
                                title_of(&text),
                                None,
                                None,
                                html_lang,
                                None,
                                url,
                                outlet,
                                selector,
                            )
                        }
                        None => return Err(ExtractError::NoArticle),
                    },
                },
            };
            (
                article.title,
                article.byline,
                article.site_name,
                article.content.to_string(),
                article.lang,
                article.dir,
            )
        }
    };

    // Readability sometimes keeps only a fragment of the story (a teaser
    // block, one of the boxes the paragraphs are spread over); the
    // publisher's own JSON-LD `articleBody`, or the page's densest block of
    // paragraphs, when much longer, is the better text.
    let kept = html_text(&content).chars().count();
    let ld_chars = ld_body.as_ref().map_or(0, |ld| ld.chars().count());
    let cluster_chars = cluster.as_ref().map_or(0, |c| c.chars);
    // Pages that render the story from script data (Next.js' `__NEXT_DATA__`
    // or streamed payload) show readability a shell; the data holds the
    // story's HTML.
    let from_script = if selector.is_none() && kept < SCRIPT_ARTICLE_BELOW {
        script_article(&scripts).filter(|s| {
            // Script data also holds other stories (the next one,
            // prefetched): the data's story must hold what the page shows.
            html_text(s).chars().count() > 2 * kept.max(250)
                && (kept < 150 || contains_share(s, &content, 0.8))
        })
    } else {
        None
    };
    let content = match (from_script, ld_body.filter(|_| selector.is_none()), cluster) {
        (Some(html), _, _) => html,
        (_, Some(ld), _) if ld_chars > 2 * kept && ld_chars >= cluster_chars => paragraphs(&ld),
        (_, _, Some(c)) if c.chars * 5 > kept * 9 && contains_most(&c.html, &content) => c.html,
        // The story's parts joined from sibling boxes of one kind, where
        // readability kept one part.
        (_, _, Some(c))
            if c.joined
                && c.chars * 10 > kept * 8
                && contains_most(&c.html, &content)
                && missing_paragraphs(&c.html, &content) >= 100 =>
        {
            c.html
        }
        // Readability settled on a block of headline links with blurbs.
        (_, _, Some(c)) if c.chars * 2 >= kept && fragment_link_density(&content) > 0.3 => c.html,
        _ => content,
    };
    // Readability often leaves the lead image out (it sits above the body,
    // beside the headline); the reader expects it, with its caption.
    let content = match lead {
        Some(figure) if selector.is_none() && !content.contains("<img") => figure + &content,
        _ => content,
    };
    // The standfirst often sits in the page's header beside the headline,
    // where readability does not look; the reader expects it first.
    let content = match standfirst {
        Some(lead)
            if selector.is_none() && !normalized(&html_text(&content)).contains(&lead_probe(&lead)) =>
        {
            format!("<p>{}</p>{content}", escape_html(&lead))
        }
        _ => content,
    };
    finish(
        content,
        title,
        byline,
        site_name,
        article_lang.or(html_lang),
        article_dir,
        url,
        outlet,
        selector,
    )
}

/// Characters of the paragraphs of `more` (HTML) that `kept` (HTML) does
/// not hold.
fn missing_paragraphs(more: &str, kept: &str) -> usize {
    let kept = normalized(&html_text(kept));
    Document::from(more)
        .select("p")
        .nodes()
        .iter()
        .map(|p| normalized(&p.text()))
        .filter(|t| !kept.contains(&t.chars().take(60).collect::<String>()))
        .map(|t| t.chars().count())
        .sum()
}

/// True when most words of `part` (HTML) occur in `whole` (HTML): the
/// paragraph block extends what readability kept rather than replacing it
/// with another part of the page.
fn contains_most(whole: &str, part: &str) -> bool {
    contains_share(whole, part, 0.6)
}

/// True when at least `share` of the distinct words of `part` (HTML)
/// occur in `whole` (HTML).
fn contains_share(whole: &str, part: &str, share: f64) -> bool {
    let words = |h: &str| {
        html_text(h)
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<std::collections::HashSet<_>>()
    };
    let (whole, part) = (words(whole), words(part));
    let inside = part.iter().filter(|w| whole.contains(*w)).count();
    inside as f64 >= part.len() as f64 * share
}

/// Removes cookie and consent dialogs before anything is scored: their
/// long legal paragraphs otherwise outweigh a short article. Wrappers that
/// merely mention a banner in a class (`body.cookie-banner-shown`) are
/// kept: anything holding the page's headline or an `article`.
fn remove_consent_dialogs(doc: &Document) {
    // One regex over each class and id: eleven case-insensitive substring
    // selectors cost eleven attribute scans per element.
    static DIALOG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)cookie|consent|onetrust|gdpr|didomi").expect("valid regex"));
    static DIALOG_ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)cookie|consent|onetrust|gdpr|didomi|usercentrics").expect("valid regex")
    });
    let dialogs: Vec<_> = doc
        .select("[class], [id]")
        .nodes()
        .iter()
        .filter(|n| {
            n.class().is_some_and(|c| DIALOG.is_match(&c))
                || n.id_attr().is_some_and(|i| DIALOG_ID.is_match(&i))
        })
        .copied()
        .collect();
    for node in &dialogs {
        let wrapper = ["html", "body", "main", "article"]
            .iter()
            .any(|n| node.has_name(n))
            || may_hold_article(node);
        if !wrapper {
            node.remove_from_parent();
        }
    }
}

/// Class and id words of boxes that sell, sign up or hide rather than
/// tell: paywall and registration prompts ("Subscribe to unlock more
/// articles", "Il vous reste 57% de cet article à lire"), newsletter
/// sign-ups, author bio cards, headline carousels, and blocks a page's own
/// CSS hides (`class="hidden"`, Bootstrap's `d-none`).
static CALL_TO_ACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(?:^|[\s_-])(?:
            pay-?wall | reg-?wall | subscri\w*
          | newsletter\w* | sign-?up\w* | sign-?in\w* | registration\w* | register\w*
          | author-?(?:bio|profile|info|box|card|about)\w* | authorprofile | about-?the-?author
          | carousel\w* | swiper\w* | rail
        )(?:$|[\s_-])",
    )
    .expect("valid regex")
});

/// A call to action is short: prompts, benefit lists and bio cards stay
/// under this many characters (not counting spaces).
const CALL_TO_ACTION_MAX: usize = 1_500;

/// Whole class names that hide a block (the page's own CSS says so).
const HIDDEN_CLASSES: &[&str] = &[
    "hidden",
    "d-none",
    "is-hidden",
    "u-hidden",
    "visually-hidden",
    "sr-only",
    "hide",
];

/// Removes calls to action ([`CALL_TO_ACTION`]) before anything is
/// scored: their short lines otherwise ride along with the paragraphs
/// around them. A box that may hold the article is kept: one with its
/// headline or an `article`, with more than [`CALL_TO_ACTION_MAX`]
/// characters, or with much of the page's paragraph text (sites wrap
/// metered stories in `div.paywalled` or `div.subscriber-content`).
fn remove_calls_to_action(doc: &Document) {
    let para_chars = |s: &Selection| -> usize {
        s.select("p")
            .nodes()
            .iter()
            .map(|p| p.text().chars().filter(|c| !c.is_whitespace()).count())
            .sum()
    };
    let total = para_chars(&doc.select("body"));
    let boxes = named_boxes(
        doc,
        |c| CALL_TO_ACTION.is_match(c) || c.split_whitespace().any(|t| HIDDEN_CLASSES.contains(&t)),
        |i| CALL_TO_ACTION.is_match(i),
    );
    for node in boxes {
        let chars = node.text().chars().filter(|c| !c.is_whitespace()).count();
        if chars > CALL_TO_ACTION_MAX
            || may_hold_article(&node)
            || para_chars(&Selection::from(node)) * 5 > total * 2
        {
            continue;
        }
        node.remove_from_parent();
    }
}

/// The boxes inside `<body>` whose class (`class`) or id (`id`) names
/// them, in document order; never `main`, `article` or `body` itself.
/// Callers remove the ones their own test lets go.
fn named_boxes<'a>(
    doc: &'a Document,
    class: impl Fn(&str) -> bool,
    id: impl Fn(&str) -> bool,
) -> Vec<dom_query::NodeRef<'a>> {
    // Selected below `body`, not with `body [class]`: a descendant
    // combinator walks every element's ancestors.
    doc.select("body")
        .select("[class], [id]")
        .nodes()
        .iter()
        .filter(|n| {
            !["html", "body", "main", "article"].iter().any(|t| n.has_name(t))
                && (n.class().is_some_and(|c| class(&c)) || n.id_attr().is_some_and(|i| id(&i)))
        })
        .copied()
        .collect()
}

/// True when `node` holds the page's headline, an `article` or `main`:
/// it may be the article's own box, however it is named.
fn may_hold_article(node: &dom_query::NodeRef) -> bool {
    Selection::from(*node).select("article, h1, main").exists()
}

/// The page's lead image: the `figure` (with its caption) that shows the
/// page's `og:image`, else the `og:image` alone.
fn lead_figure(doc: &Document, url: &Url) -> Option<String> {
    let og = doc
        .select(r#"meta[property="og:image"], meta[name="og:image"]"#)
        .attr("content")
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let file = |src: &str| {
        url.join(src)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
            })
            .filter(|f| !f.is_empty())
    };
    let og_file = og.as_deref().and_then(file);
    let figures = doc.select("figure");
    for fig in figures.nodes() {
        let in_chrome = fig
            .ancestors_it(None)
            .any(|a| ["nav", "aside", "footer"].iter().any(|n| a.has_name(n)));
        let img = Selection::from(*fig).select("img");
        let Some(src) = img.attr("src").or_else(|| img.attr("data-src")) else {
            continue;
        };
        if in_chrome {
            continue;
        }
        if og_file.is_some() && file(&src) == og_file {
            return Some(fig.html().to_string());
        }
    }
    if let Some(found) = og_file.as_ref().and_then(|f| captioned_image(doc, f, &file)) {
        return Some(found);
    }
    og.map(|src| format!("<figure><img src=\"{}\" alt=\"\"></figure>", escape_html(&src)))
}

/// The `og:image` shown outside a `figure`, with its caption beside it:
/// an element named for a caption (`div.caption`, `span.img-desc`,
/// `p.legend`) in the image's box. Old and Arabic news templates caption
/// their lead picture this way.
fn captioned_image(doc: &Document, og_file: &str, file: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    static CAPTION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)caption|desc|legend").expect("valid regex"));
    for img in doc.select("body img").nodes() {
        let Some(src) = img.attr("src").or_else(|| img.attr("data-src")) else {
            continue;
        };
        if file(&src).as_deref() != Some(og_file) {
            continue;
        }
        // The box: the image's parent, or above a link or `picture` round it.
        let mut holder = img.parent()?;
        if holder.has_name("a") || holder.has_name("picture") {
            holder = holder.parent()?;
        }
        if ["body", "main", "article"].iter().any(|n| holder.has_name(n)) {
            return None;
        }
        let caption = holder.element_children().into_iter().find(|c| {
            c.id != img.id
                && !has_media(c)
                && (c.class().is_some_and(|k| CAPTION.is_match(&k))
                    || c.id_attr().is_some_and(|k| CAPTION.is_match(&k)))
        })?;
        let text = caption.text().split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || text.chars().count() > 300 {
            return None;
        }
        return Some(format!(
            "<figure>{}<figcaption>{}</figcaption></figure>",
            img.html(),
            escape_html(&text)
        ));
    }
    None
}

/// The page's standfirst: an element shown in its body whose text is the
/// page's own summary (`og:description` or `<meta name=description>`),
/// of a sentence or more. Not link text (a teaser of this story
/// elsewhere on the page).
fn standfirst(doc: &Document) -> Option<String> {
    let description = doc
        .select(
            r#"meta[property="og:description"], meta[name="description"], meta[name="twitter:description"]"#,
        )
        .nodes()
        .iter()
        .filter_map(|m| m.attr("content"))
        .map(|c| normalized(&html_text(&c)))
        .find(|d| d.split_whitespace().count() >= 8)?;
    let cut = description.trim_end_matches(['…', '.', ' ']);
    // An element's text is a stretch of the body's text: when the body
    // does not hold the description, no element is the standfirst, and
    // the per-element search (each element's text gathered) is skipped.
    if !normalized(&doc.select("body").text()).contains(cut) {
        return None;
    }
    let found = doc
        .select("body")
        .select("p, div, h2, span, strong, em")
        .nodes()
        .iter()
        .find(|n| {
            // A standfirst is a line with a few inline children; wrappers
            // of many blocks are not (and their text is costly to gather).
            if n.element_children().len() > 4 {
                return false;
            }
            // Nor an element with much more text than the summary (counted
            // without gathering it).
            if n.normalized_char_count() > 3 * cut.len() + 16 {
                return false;
            }
            let text = normalized(&n.text());
            let text = text.trim();
            (text == description
                || (description.ends_with('…') || description.ends_with("..."))
                    && text.starts_with(cut)
                    && text.len() < cut.len() * 3)
                && !n.ancestors_it(None).any(|a| {
                    [
                        "a", "nav", "footer", "aside", "script", "noscript", "template", "button",
                    ]
                    .iter()
                    .any(|t| a.has_name(t))
                })
        })
        .map(|n| n.text().split_whitespace().collect::<Vec<_>>().join(" "));
    found
}

/// The words of a standfirst looked for in the article's text.
fn lead_probe(lead: &str) -> String {
    normalized(lead).chars().take(60).collect()
}

/// The page's `<title>`, for pages readability gave up on.
fn title_of(page: &str) -> String {
    static TITLE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<title[^>]*>(.*?)</title>").expect("valid regex"));
    TITLE.captures(page).map(|c| html_text(&c[1])).unwrap_or_default()
}

/// Debris removal, sanitising, language, direction and attribution for
/// the chosen content.
#[allow(clippy::too_many_arguments)]
fn finish(
    content: String,
    title: String,
    byline: Option<String>,
    site_name: Option<String>,
    declared_lang: Option<String>,
    article_dir: Option<String>,
    url: &Url,
    outlet: Option<&str>,
    selected: Option<&str>,
) -> Result<Extracted, ExtractError> {
    let cleaned = remove_debris(&content, selected.is_none(), &title);
    let body = sanitize(&cleaned, url);
    if html_text(&body).trim().is_empty() {
        return Err(ExtractError::NoArticle);
    }
    let text = html_text(&body);
    let lang = language(&text, declared_lang.as_deref());
    let dir = direction(&text, article_dir.as_deref(), lang.as_deref());
    let outlet = site_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| outlet.map(str::to_owned))
        .unwrap_or_else(|| {
            let host = url.host_str().unwrap_or_default();
            host.strip_prefix("www.").unwrap_or(host).to_owned()
        });
    let html = publishable(&body, &dir, lang.as_deref(), &outlet, url);
    Ok(Extracted {
        title: crate::parse::clean_text(&title),
        byline: byline
            .map(|b| crate::parse::clean_text(&b))
            .filter(|b| !b.is_empty()),
        lang,
        dir,
        outlet,
        body,
        html,
    })
}

/// The page's densest block of paragraphs, as readable HTML.
struct Cluster {
    html: String,
    /// Characters of paragraph text in it.
    chars: usize,
    /// The story was found split over sibling boxes of one kind (same tag
    /// and class) and joined: the page's own markup says the parts belong
    /// together.
    joined: bool,
}

/// Containers whose paragraphs are not the article.
static NOT_ARTICLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)comment|related|recommend|teaser|sidebar|footer|newsletter|promo|sponsor|outbrain|taboola|share|social|cookie|consent|login|modal|popup|banner")
        .expect("valid regex")
});

/// Finds the element holding the most paragraph text (each paragraph of
/// 40 characters or more, not mostly links, counts fully for its parent,
/// half for its grandparent, a third above that: articles whose paragraphs
/// sit in one box each are found at the boxes' common parent) and returns
/// its readable blocks in order. A second opinion for when readability
/// keeps a fragment.
fn paragraph_cluster(doc: &Document) -> (Option<Cluster>, usize) {
    let mut total = 0usize;
    let cluster = densest_paragraphs(doc, &mut total);
    (cluster, total)
}

/// Below this many characters of story paragraphs (as
/// [`paragraph_cluster`] counts them) a page holds a short story, and
/// readability falls short of its own 500-character threshold: it then
/// retries without dropping unlikely boxes and keeps its longest attempt,
/// which on a short story is the one with the site's footer, comment
/// thread or newsletter box.
const SHORT_STORY: usize = 500;

/// Removes the page's chrome boxes (class or id in [`NOT_ARTICLE`]) as
/// readability's first pass does, for short stories (see [`SHORT_STORY`]):
/// not boxes that may be the article (their class or id names an article,
/// body, content or main column, as readability spares them too), nor
/// boxes holding the headline, an `article` or `main`, nor boxes holding
/// [`SHORT_STORY`] characters of paragraphs or more (a story whose column
/// is named `sidebar-grid__container` is not short: readability finds it).
fn remove_chrome_boxes(doc: &Document) {
    static MAYBE_ARTICLE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)article|body|column|content|main|story|post|entry").expect("valid regex")
    });
    let chrome = |v: &str| NOT_ARTICLE.is_match(v) && !MAYBE_ARTICLE.is_match(v);
    for node in named_boxes(doc, chrome, chrome) {
        if !may_hold_article(&node) && story_paragraph_chars(&node) < SHORT_STORY {
            node.remove_from_parent();
        }
    }
}

/// Characters of `text` with its whitespace collapsed: each word and one
/// space after it. The measure every length in this module compares.
fn collapsed_len(text: &str) -> usize {
    text.split_whitespace().map(|w| w.chars().count() + 1).sum()
}

/// [`collapsed_len`] of the link text in `node`.
fn link_chars(node: &dom_query::NodeRef) -> usize {
    Selection::from(*node)
        .select("a")
        .nodes()
        .iter()
        .map(|a| collapsed_len(&a.text()))
        .sum()
}

/// Characters of the paragraphs of 40 characters or more in `node`.
fn story_paragraph_chars(node: &dom_query::NodeRef) -> usize {
    Selection::from(*node)
        .select("p")
        .nodes()
        .iter()
        .map(|p| collapsed_len(&p.text()))
        .filter(|len| *len >= 40)
        .sum()
}

/// The densest block of paragraphs; `total` gets the characters of all
/// the story paragraphs counted.
fn densest_paragraphs(doc: &Document, total_out: &mut usize) -> Option<Cluster> {
    const SKIP_ANCESTORS: &[&str] = &[
        "nav", "aside", "footer", "header", "form", "figure", "li", "button",
    ];
    let mut scores: HashMap<dom_query::NodeId, (f64, dom_query::NodeRef)> = HashMap::new();
    let mut within: HashMap<dom_query::NodeId, usize> = HashMap::new();
    // Per box, asked once for all the paragraphs it holds: is it chrome
    // (`SKIP_ANCESTORS`, a `NOT_ARTICLE` class or id), is it a teaser card.
    let mut chrome: HashMap<dom_query::NodeId, bool> = HashMap::new();
    let mut cards = TeaserCards::default();
    let mut total = 0usize;
    for p in doc.select("p").nodes() {
        let text = p.text();
        let len = collapsed_len(&text);
        if len < 40 {
            continue;
        }
        let links: usize = link_chars(p);
        if links * 2 > len {
            continue;
        }
        let excluded = p.ancestors_it(None).any(|a| {
            *chrome.entry(a.id).or_insert_with(|| {
                SKIP_ANCESTORS.iter().any(|n| a.has_name(n))
                    || a.class().is_some_and(|c| NOT_ARTICLE.is_match(&c))
                    || a.id_attr().is_some_and(|i| NOT_ARTICLE.is_match(&i))
            })
        });
        if excluded || cards.holds(p) {
            continue;
        }
        total += len;
        *total_out = total;
        for (depth, anc) in p.ancestors_it(None).enumerate() {
            *within.entry(anc.id).or_insert(0) += len;
            if depth < 3 {
                let entry = scores.entry(anc.id).or_insert((0.0, anc));
                entry.0 += len as f64 / (depth + 1) as f64;
            }
        }
    }
    if total < 500 {
        return None;
    }
    let (_, mut best) = scores.into_values().max_by(|a, b| a.0.total_cmp(&b.0))?;
    // Paragraphs spread over sibling boxes (one per paragraph or section):
    // climb while the parent holds clearly more of them.
    loop {
        let mine = within.get(&best.id).copied().unwrap_or(0);
        let larger = best
            .ancestors_it(Some(6))
            .take_while(|a| !a.has_name("body") && !a.has_name("html"))
            .find(|a| within.get(&a.id).copied().unwrap_or(0) * 4 >= mine * 5)
            // Not into a block of teasers (headline links with a blurb).
            .filter(|a| link_density(a) <= 0.25);
        match larger {
            Some(a) => best = a,
            None => break,
        }
    }
    if link_density_outside_link_lists(&best) > 0.25 {
        return None;
    }
    let parts = story_parts(&best, &mut cards);
    let joined = parts.len() > 1;
    let mut html = String::new();
    let mut chars = 0usize;
    for part in &parts {
        collect_blocks(part, &mut html, &mut chars);
    }
    (chars >= 500).then_some(Cluster { html, chars, joined })
}

/// The boxes a story is split over: `best` or one of its two nearest
/// ancestors, with the siblings of the same tag and class (a site that
/// breaks its story with an ad row or a teaser list reopens the same
/// container after it). Not `article` siblings or boxes with their own
/// `h1`: those are other stories (an endless-scroll page's next one), nor
/// boxes without a paragraph of the story.
fn story_parts<'a>(best: &dom_query::NodeRef<'a>, cards: &mut TeaserCards) -> Vec<dom_query::NodeRef<'a>> {
    let mut node = *best;
    for _ in 0..3 {
        if ["body", "html", "main", "article"]
            .iter()
            .any(|n| node.has_name(n))
        {
            break;
        }
        let (Some(class), Some(name), Some(parent)) = (node.class(), node.node_name(), node.parent()) else {
            match node.parent() {
                Some(p) => {
                    node = p;
                    continue;
                }
                None => break,
            }
        };
        let class = class.split_whitespace().collect::<Vec<_>>().join(" ");
        let own_h1 = Selection::from(node).select("h1").exists();
        let same: Vec<_> = parent
            .element_children()
            .into_iter()
            .filter(|c| {
                c.id == node.id
                    || (c.node_name().as_deref() == Some(&*name)
                        && c.class()
                            .is_some_and(|k| k.split_whitespace().collect::<Vec<_>>().join(" ") == class)
                        && (own_h1 || !Selection::from(*c).select("h1").exists())
                        && has_story_paragraph(c, cards))
            })
            .collect();
        if same.len() > 1 && !node.has_name("article") {
            return same;
        }
        match node.parent() {
            Some(p) => node = p,
            None => break,
        }
    }
    vec![*best]
}

/// True when `node` holds a paragraph of the story: 40 characters or
/// more, not mostly links, not a teaser card's blurb.
fn has_story_paragraph(node: &dom_query::NodeRef, cards: &mut TeaserCards) -> bool {
    Selection::from(*node).select("p").nodes().iter().any(|p| {
        let all = collapsed_len(&p.text());
        let links: usize = link_chars(p);
        all >= 40 && links * 2 <= all && !cards.holds(p)
    })
}

/// Teaser cards: a paragraph is the blurb of one when its box (parent
/// or grandparent, holding at most two paragraphs) also holds a headline
/// that is a link. Lists of other stories with a blurb each ("latest
/// news" under a short article) otherwise outweigh the story. Each box is
/// asked once: the paragraphs of a box share the answer, which costs a
/// walk of the box.
#[derive(Default)]
struct TeaserCards(HashMap<dom_query::NodeId, bool>);

impl TeaserCards {
    /// True when paragraph `p` is the blurb of a teaser card.
    fn holds(&mut self, p: &dom_query::NodeRef) -> bool {
        p.ancestors_it(Some(2)).any(|a| {
            *self.0.entry(a.id).or_insert_with(|| {
                let sel = Selection::from(a);
                !["body", "html", "main", "article"].iter().any(|n| a.has_name(n))
                    && sel.select("p").length() <= 2
                    && sel
                        .select("a h2, a h3, a h4, a h5, h2 a, h3 a, h4 a, h5 a")
                        .exists()
            })
        })
    }
}

/// Share of an element's text that is link text.
fn link_density(node: &dom_query::NodeRef) -> f64 {
    let all = collapsed_len(&node.text());
    let links: usize = link_chars(node);
    links as f64 / all.max(1) as f64
}

/// [`link_density`] of `node` leaving out its lists of links (a "more
/// stories" list inside the story's box, which [`collect_blocks`] drops
/// anyway).
fn link_density_outside_link_lists(node: &dom_query::NodeRef) -> f64 {
    let (mut all, mut links) = (collapsed_len(&node.text()), link_chars(node));
    for list in Selection::from(*node).select("ul, ol").nodes() {
        let nested = list
            .ancestors_it(None)
            .take_while(|a| a.id != node.id)
            .any(|a| a.has_name("ul") || a.has_name("ol"));
        let (l_all, l_links) = (collapsed_len(&list.text()), link_chars(list));
        if !nested && l_links * 10 >= l_all * 6 {
            all -= l_all.min(all);
            links -= l_links.min(links);
        }
    }
    links as f64 / all.max(1) as f64
}

fn fragment_link_density(html: &str) -> f64 {
    let doc = Document::from(html);
    let body = doc.select("body");
    body.nodes().first().map_or(0.0, link_density)
}

/// Appends `node`'s readable blocks (paragraphs, headings, lists, quotes,
/// figures, tables), leaving out navigation, forms, scripts and link lists.
fn collect_blocks(node: &dom_query::NodeRef, out: &mut String, chars: &mut usize) {
    const SKIP: &[&str] = &[
        "script", "style", "noscript", "template", "nav", "aside", "footer", "header", "form", "button",
        "svg", "iframe", "select", "input", "textarea", "h1",
    ];
    const KEEP: &[&str] = &[
        "p",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "blockquote",
        "figure",
        "pre",
        "table",
        "dl",
    ];
    for child in node.element_children() {
        let Some(name) = child.node_name() else { continue };
        let name = name.to_ascii_lowercase();
        if SKIP.contains(&name.as_str())
            || child.class().is_some_and(|c| NOT_ARTICLE.is_match(&c))
            || child.id_attr().is_some_and(|i| NOT_ARTICLE.is_match(&i))
        {
            continue;
        }
        if KEEP.contains(&name.as_str()) {
            let text = child.text();
            let len = collapsed_len(&text);
            let links: usize = Selection::from(child)
                .select("a")
                .nodes()
                .iter()
                .map(|a| collapsed_len(&a.text()))
                .sum();
            let media = name == "figure" || has_media(&child);
            if (len > 0 && links * 2 <= len) || (media && links * 2 <= len.max(1)) {
                out.push_str(&child.html());
                if name == "p" {
                    *chars += len;
                }
            }
        } else if name == "img" {
            out.push_str(&child.html());
        } else {
            collect_blocks(&child, out, chars);
        }
    }
}

/// The body wrapped in its direction and language, ending with the
/// attribution line in the article's language.
fn publishable(body: &str, dir: &str, lang: Option<&str>, outlet: &str, url: &Url) -> String {
    let label = attribution_label(lang);
    let lang_attr = lang
        .map(|l| format!(" lang=\"{}\"", escape_html(l)))
        .unwrap_or_default();
    format!(
        "<div dir=\"{dir}\"{lang_attr}>{body}<p>{label} <a href=\"{}\">{}</a></p></div>",
        escape_html(url.as_str()),
        escape_html(outlet)
    )
}

/// The longest `articleBody` in the page's JSON-LD (schema.org
/// `NewsArticle` and kin), if any.
fn json_ld_body(doc: &Document) -> Option<String> {
    fn find(v: &serde_json::Value, best: &mut Option<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(body)) = map.get("articleBody") {
                    if best.as_ref().is_none_or(|b| body.len() > b.len()) {
                        *best = Some(body.clone());
                    }
                }
                map.values().for_each(|v| find(v, best));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| find(v, best)),
            _ => {}
        }
    }
    let mut best = None;
    for script in doc.select(r#"script[type="application/ld+json"]"#).nodes() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(script.text().trim()) {
            find(&v, &mut best);
        }
    }
    best.filter(|b| !b.trim().is_empty())
}

/// `articleBody` as HTML: kept when it already is markup, else one
/// escaped paragraph per line.
fn paragraphs(text: &str) -> String {
    if text.contains("</p>") || text.contains("<br") {
        return text.to_owned();
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("<p>{}</p>", escape_html(l)))
        .collect()
}

/// Script data is looked at only when readability kept fewer characters
/// than this: a page that shows its story needs none of it.
const SCRIPT_ARTICLE_BELOW: usize = 2_000;

/// Inline scripts that may carry the story as HTML (escaped `<p`
/// markup in them), kept for [`script_article`].
fn script_payloads(doc: &Document) -> Vec<String> {
    doc.select("script:not([src])")
        .nodes()
        .iter()
        .filter(|n| {
            n.attr("type")
                .is_none_or(|t| !t.to_ascii_lowercase().contains("ld+json"))
        })
        .map(|n| n.text().to_string())
        .filter(|t| {
            t.contains("\\u003cp") || t.contains("\\u003cP") || t.contains("<p>") || t.contains("<p ")
        })
        .collect()
}

/// The longest HTML fragment held in a string of the page's script data
/// (a Next.js page's `__NEXT_DATA__` or `self.__next_f.push` payload, a
/// state object's `contentHtml`), when it has paragraphs: two `<p>` or
/// more and 500 characters of text, not a whole document.
fn script_article(scripts: &[String]) -> Option<String> {
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("valid regex"));
    let mut best: Option<(usize, String)> = None;
    for script in scripts {
        for m in STRING.find_iter(script) {
            let raw = m.as_str();
            if raw.len() < 600 {
                continue;
            }
            let Ok(html) = serde_json::from_str::<String>(raw) else {
                continue;
            };
            let lower = html.to_ascii_lowercase();
            if lower.matches("<p").count() < 2 || lower.contains("<html") || lower.contains("<body") {
                continue;
            }
            let chars = html_text(&html).chars().count();
            if chars >= 500 && best.as_ref().is_none_or(|(n, _)| chars > *n) {
                best = Some((chars, html));
            }
        }
    }
    best.map(|(_, html)| html)
}

/// "Source:" in the article's language.
fn attribution_label(lang: Option<&str>) -> &'static str {
    match lang.unwrap_or_default() {
        "ar" => "المصدر:",
        "fa" | "ur" => "منبع:",
        "he" => "מקור:",
        "fr" => "Source :",
        "de" => "Quelle:",
        "es" | "pt" | "it" => "Fuente:",
        _ => "Source:",
    }
}

fn is_rtl(lang: &str) -> bool {
    matches!(
        lang,
        "ar" | "fa" | "he" | "ur" | "ps" | "yi" | "ckb" | "sd" | "ug" | "dv"
    )
}

/// Letters of `text`: all, Arabic-script (Arabic, Persian, Urdu), Hebrew.
struct Letters {
    all: usize,
    arabic: usize,
    hebrew: usize,
}

impl Letters {
    fn of(text: &str) -> Letters {
        let mut l = Letters {
            all: 0,
            arabic: 0,
            hebrew: 0,
        };
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            l.all += 1;
            match c {
                '\u{0600}'..='\u{06FF}'
                | '\u{0750}'..='\u{077F}'
                | '\u{08A0}'..='\u{08FF}'
                | '\u{FB50}'..='\u{FDFF}'
                | '\u{FE70}'..='\u{FEFF}' => l.arabic += 1,
                '\u{0590}'..='\u{05FF}' | '\u{FB1D}'..='\u{FB4F}' => l.hebrew += 1,
                _ => {}
            }
        }
        l
    }

    /// Letters of right-to-left scripts, in thousandths of all letters.
    fn rtl_share(&self) -> usize {
        (self.arabic + self.hebrew) * 1000 / self.all.max(1)
    }
}

/// The page's language: Arabic when the text is mostly Arabic script, Hebrew
/// when mostly Hebrew (pages often keep a template's `lang="en"`), else the
/// declared primary subtag.
fn language(text: &str, declared: Option<&str>) -> Option<String> {
    let letters = Letters::of(text);
    let declared = declared
        .map(|l| {
            l.split(['-', '_'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|l| !l.is_empty() && l.len() <= 3 && l.chars().all(|c| c.is_ascii_alphabetic()));
    if letters.all > 0 && letters.arabic * 2 > letters.all {
        // Persian and Urdu share the script; trust a declaration of them.
        return Some(match declared.as_deref() {
            Some(l @ ("fa" | "ur" | "ps" | "ckb" | "sd" | "ug")) => l.to_owned(),
            _ => "ar".to_owned(),
        });
    }
    if letters.all > 0 && letters.hebrew * 2 > letters.all {
        // Yiddish shares the script.
        return Some(match declared.as_deref() {
            Some("yi") => "yi".to_owned(),
            _ => "he".to_owned(),
        });
    }
    declared.filter(|l| !(letters.all > 0 && letters.arabic + letters.hebrew == 0 && is_rtl(l)))
}

/// The published direction. The text's script decides when it is clear: an
/// Arabic article in a template marked `dir="ltr"` reads right to left, an
/// English one on an Arabic site's `dir="rtl"` template left to right.
/// Mixed text keeps the page's own `dir`, else its language's.
fn direction(text: &str, page_dir: Option<&str>, lang: Option<&str>) -> String {
    let share = Letters::of(text).rtl_share();
    let dir = if share >= 500 {
        "rtl"
    } else if share < 100 {
        "ltr"
    } else {
        match (page_dir, lang) {
            (Some(d @ ("rtl" | "ltr")), _) => d,
            (_, Some(l)) if is_rtl(l) => "rtl",
            _ => "ltr",
        }
    };
    dir.to_owned()
}

#[cfg(test)]
mod tests {
    use super::debris::is_debris_text;
    use super::*;

    /// Every `kept` text is in the article's body; no `dropped` text is
    /// anywhere in its published HTML.
    fn assert_kept_and_dropped(a: &Extracted, kept: &[&str], dropped: &[&str]) {
        for k in kept {
            assert!(a.body.contains(k), "{k:?} missing from {}", a.body);
        }
        for d in dropped {
            assert!(!a.html.contains(d), "{d:?} left in {}", a.html);
        }
    }

    #[test]
    fn debris_lines_in_arabic_and_english() {
        for t in [
            "حصة",
            "حصة Pinterest Hidden",
            "Share | Tweet | Email",
            "شارك فيسبوك تويتر واتساب",
            "للمزيد من الأخبار، زوروا موقعنا",
            "المصدر: اضغط هنا",
            "Source: click here",
            "Read more",
            "اقرأ أيضا: زيارة سابقة",
            "PUBLISHED: 10:48, Tue, Nov 19, 2019 | UPDATED: 11:05, Tue, Nov 19, 2019",
            "Updated 5:27 am CST Wednesday, November 20, 2019",
            "4 minute read",
            "Lesedauer: 4 Min.",
            "Foto: Nicolas Economou/Getty",
            "نشر في 20 نوفمبر 2025",
            "آخر تحديث: 20/11/2025 10:30",
            "GHULAM RASOOL/AFP via Getty Images",
            "Advertisement",
            "Story continues below advertisement",
            "Fehler gefunden? Jetzt melden",
            "Drucken Feedback Fehler melden",
            "إعلان",
            "Empfohlener redaktioneller Inhalt",
            "An dieser Stelle findest du einen externen Inhalt von YouTube, der den Artikel ergänzt.",
            "YouTube-Inhalte erlauben",
            "To view this content, please accept cookies.",
            "Join our Space Forums to keep talking space on the latest missions! And if you have a news tip, correction or comment, let us know at: community@example.com.",
            "Il vous reste 57% de cet article à lire. La suite est réservée aux abonnés.",
            "لعرض هذا المحتوى يرجى قبول ملفات تعريف الارتباط",
            "بغداد - صحيفة النهرين | 20 نوفمبر 2025",
            "20/11/2025 آخر تحديث: 20/11/2025 14:05 (توقيت مكة)",
        ] {
            assert!(is_debris_text(t), "{t:?} should be debris");
        }
        for t in [
            "وصل الرئيس إلى القاهرة صباح اليوم في زيارة رسمية تستمر يومين.",
            "Share prices fell sharply on Monday as investors weighed the news.",
            "المصدر الدبلوماسي قال إن المحادثات كانت صريحة",
            "Twitter said on Tuesday it would change its rules.",
            "Updated figures released on Monday show 40,000 more jobs than expected.",
            "Published in 1998, the book sold 2 million copies.",
            "Reuters reported the deal on Monday.",
            "Advertisement spending rose 4% last year, the agency said.",
            "نشر في الجريدة الرسمية قرار رقم 12 لسنة 2025 بشأن تنظيم الاستيراد، وبدأ العمل به أمس.",
            "Viewers can click to load the video on the museum's website, the curator said.",
            "وصل الوفد إلى بغداد - العاصمة - يوم 20 نوفمبر 2025 لبحث ملفات الطاقة والمياه مع الحكومة العراقية.",
        ] {
            assert!(!is_debris_text(t), "{t:?} is text, not debris");
        }
    }

    #[test]
    fn decodes_by_bom_header_meta() {
        let arabic = "القاهرة";
        let (cp1256, _, _) = encoding_rs::WINDOWS_1256.encode(arabic);
        let page = |meta: &str| {
            let mut v = format!("<html><head>{meta}</head><body><p>").into_bytes();
            v.extend_from_slice(&cp1256);
            v.extend_from_slice(b"</p></body></html>");
            v
        };
        assert!(decode(&page(r#"<meta charset="windows-1256">"#), None).contains(arabic));
        assert!(decode(
            &page(r#"<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">"#),
            None
        )
        .contains(arabic));
        assert!(decode(&page(""), Some("text/html; charset=windows-1256")).contains(arabic));
        // The header wins over a wrong meta.
        assert!(decode(
            &page(r#"<meta charset="utf-8">"#),
            Some("text/html; charset=cp1256")
        )
        .contains(arabic));
        // A UTF-8 page that kept a legacy label is read as UTF-8.
        let relabelled =
            format!(r#"<html><head><meta charset="windows-1256"></head><body><p>{arabic}</p></body></html>"#);
        assert!(decode(relabelled.as_bytes(), Some("text/html")).contains(arabic));
        assert!(decode(relabelled.as_bytes(), Some("text/html; charset=gb2312")).contains(arabic));
        // No label at all: the bytes decide.
        let sentence = "وصل الرئيس إلى القاهرة صباح اليوم في زيارة رسمية تستمر يومين يبحث خلالها ملفات الحدود والتعاون الأمني.";
        let (unlabelled, _, _) = encoding_rs::WINDOWS_1256.encode(sentence);
        let mut page = b"<html><body><p>".to_vec();
        page.extend_from_slice(&unlabelled);
        page.extend_from_slice(b"</p></body></html>");
        assert!(decode(&page, Some("text/html")).contains(sentence));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(format!("<p>{arabic}</p>").as_bytes());
        assert!(decode(&bom, Some("text/html; charset=windows-1252")).contains(arabic));
    }

    #[test]
    fn language_from_script() {
        assert_eq!(
            language("وصل الرئيس إلى القاهرة", Some("en")).as_deref(),
            Some("ar")
        );
        assert_eq!(
            language("The president arrived", Some("en-US")).as_deref(),
            Some("en")
        );
        assert_eq!(language("The president arrived", Some("ar")), None);
        assert_eq!(language("The president arrived", None), None);
        assert_eq!(language("ראש הממשלה הגיע לקהיר", None).as_deref(), Some("he"));
        assert_eq!(
            language("ראש הממשלה הגיע לקהיר", Some("en")).as_deref(),
            Some("he")
        );
        assert_eq!(
            language("نخست وزیر به قاهره رسید", Some("fa-IR")).as_deref(),
            Some("fa")
        );
    }

    /// The script decides the direction when it is clear, whatever the
    /// template says; mixed text keeps the page's `dir`.
    #[test]
    fn direction_from_script() {
        let arabic = "وصل الرئيس إلى القاهرة صباح اليوم في زيارة رسمية";
        assert_eq!(direction(arabic, Some("ltr"), Some("ar")), "rtl");
        assert_eq!(direction("ראש הממשלה הגיע לקהיר", None, None), "rtl");
        assert_eq!(
            direction("The president arrived in Cairo", Some("rtl"), Some("ar")),
            "ltr"
        );
        let mixed = "The president (الرئيس) arrived in Cairo القاهرة";
        assert_eq!(direction(mixed, Some("rtl"), None), "rtl");
        assert_eq!(direction(mixed, None, None), "ltr");
        assert_eq!(direction(mixed, None, Some("ar")), "rtl");
    }

    #[test]
    fn not_html_is_refused() {
        let url = Url::parse("https://example.com/a").unwrap();
        assert_eq!(
            extract(b"%PDF-1.4", Some("application/pdf"), &url, None, None),
            Err(ExtractError::NotHtml("application/pdf".into()))
        );
        let feed = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>"#;
        assert!(matches!(
            extract(feed, None, &url, None, None),
            Err(ExtractError::NotHtml(_))
        ));
    }

    #[test]
    fn keeps_article_structure() {
        let url = Url::parse("https://example.com/news/1").unwrap();
        let para = "The council met on Tuesday to discuss the new budget, which raises spending on schools and roads. ";
        let page = format!(
            r#"<html lang="en"><head><title>Budget passes</title></head><body><nav><a href="/">Home</a></nav>
            <article><h1>Budget passes</h1><p>{para}{para}</p><h2>Schools</h2><p>{para}</p>
            <figure><img src="/img/a.jpg" alt="The council"><figcaption>The council in session</figcaption></figure>
            <ul><li>{para}</li></ul><blockquote>{para}</blockquote><p>See <a href="/more">the plan</a>. {para}</p>
            <p>Share | Tweet | Email</p><p>Read more</p></article><footer>Copyright</footer></body></html>"#
        );
        let a = extract(
            page.as_bytes(),
            Some("text/html"),
            &url,
            None,
            Some("Example News"),
        )
        .unwrap();
        assert!(a.body.contains("<h2>Schools</h2>"), "{}", a.body);
        assert!(a.body.contains("https://example.com/img/a.jpg"), "{}", a.body);
        assert!(a.body.contains("alt=\"The council\""), "{}", a.body);
        assert!(a.body.contains("<figcaption>"), "{}", a.body);
        assert!(
            a.body.contains("<blockquote>") && a.body.contains("<li>"),
            "{}",
            a.body
        );
        assert!(a.body.contains("href=\"https://example.com/more\""), "{}", a.body);
        assert!(
            !a.body.contains("Tweet") && !a.body.contains("Read more"),
            "{}",
            a.body
        );
        assert_eq!(a.lang.as_deref(), Some("en"));
        assert_eq!(a.dir, "ltr");
        assert!(
            a.html
                .ends_with("<p>Source: <a href=\"https://example.com/news/1\">Example News</a></p></div>"),
            "{}",
            a.html
        );
    }

    /// Tracking pixels and spacers (1×1) go; the story's picture stays, and
    /// so does a picture whose declared size is only its aspect ratio.
    #[test]
    fn tracking_pixels_go() {
        let story = "<p>وقال المرصد السوري لحقوق الإنسان إن مقاتلين سيطروا على ثلاثة مستودعات للذخيرة بالقرب من بلدة قلدون في منطقة القلمون بريف دمشق، في وقت تجددت فيه الاشتباكات في مناطق أخرى.</p>".repeat(4);
        let page = format!(
            r#"<html lang="ar"><head><meta charset="utf-8"><title>معارضون يسيطرون على مخازن</title></head><body>
            <div class="story"><div class="img"><img src="/gal/syria.jpg" width="640" height="360" alt=""></div>{story}
            <img src="/img/1.gif" width="1" height="1" alt=""><img src="/img/map.jpg" width="16" height="9" alt="خريطة"></div>
            </body></html>"#
        );
        let url =
            Url::parse("http://arabic.cnn.example/2013/middle_east/8/3/syria.clashes/index.html").unwrap();
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        assert!(a.body.contains("syria.jpg"), "{}", a.body);
        assert!(a.body.contains("map.jpg"), "{}", a.body);
        assert!(!a.body.contains("1.gif"), "{}", a.body);
        assert_eq!(a.dir, "rtl");
    }

    /// The page tools of Arabic sites (an audio player, font-size buttons,
    /// a short link), a meta line in Arabic-Indic digits and "اقرأ أيضًا:" go
    /// (the "صورة أرشيفية" of a caption, which dates the picture, stays),
    /// and the article reads right to left though
    /// its template says `dir="ltr"`: in UTF-8 and in windows-1256 alike.
    #[test]
    fn arabic_page_tools_go_in_utf8_and_windows_1256() {
        let utf8 = include_str!("../../tests/fixtures/fulltext/arabic-tools-ltr-template.html");
        let labelled = utf8.replace(r#"<meta charset="utf-8">"#, r#"<meta charset="windows-1256">"#);
        let (cp1256, _, _) = encoding_rs::WINDOWS_1256.encode(&labelled);
        let url = Url::parse("https://www.arabiya-jadida.example/ar/aswaq/economy/2025/11/20/jordan-desal")
            .unwrap();
        let a = extract(utf8.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        let b = extract(&cp1256, Some("text/html"), &url, None, None).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.dir.as_str(), a.lang.as_deref()), ("rtl", Some("ar")));
        for gone in [
            "استمع",
            "حجم الخط",
            "رابط مختصر",
            "نشر في",
            "١١:٠٥",
            "اقرأ أيضًا",
            "انستغرام",
        ] {
            assert!(!a.body.contains(gone), "{gone:?} left: {}", a.body);
        }
        assert!(
            a.body
                .contains("ميناء العقبة على البحر الأحمر - صورة أرشيفية</figcaption>"),
            "{}",
            a.body
        );
        assert!(a.body.contains("لخفض التكلفة."), "{}", a.body);
    }

    /// The seed story: an Arabic report of a visit to Cairo with share
    /// buttons, "visit our site" and "source: click here" debris.
    #[test]
    fn arabic_cairo_visit_comes_out_rtl_clean_and_attributed() {
        let page = include_bytes!("../../tests/fixtures/fulltext/cairo-visit.html");
        let url = Url::parse("https://www.aljazeera.net/news/2025/11/20/haftar-cairo").unwrap();
        let a = extract(
            page,
            Some("text/html; charset=utf-8"),
            &url,
            None,
            Some("feed name"),
        )
        .unwrap();
        assert_eq!(a.lang.as_deref(), Some("ar"));
        assert_eq!(a.dir, "rtl");
        assert_eq!(a.outlet, "الجزيرة نت");
        assert!(a.title.contains("صدام حفتر يزور القاهرة"), "{}", a.title);
        assert_kept_and_dropped(
            &a,
            &[
                "وصل صدام حفتر",
                "<h2>ملف الحدود والتعاون الأمني</h2>",
                "<blockquote>",
                "<li>عودة العمالة المصرية",
                "alt=\"صدام حفتر لدى وصوله إلى مطار القاهرة الدولي\"",
                "src=\"https://www.aljazeera.net/images/2025/11/haftar-cairo.jpg\"",
                "<figcaption>",
                "href=\"https://www.aljazeera.net/news/2025/11/libya-talks\"",
            ],
            &[
                "حصة",
                "Pinterest",
                "واتساب",
                "زوروا موقعنا",
                "اضغط هنا",
                "سياسة الخصوصية",
                "<script",
            ],
        );
        assert!(a.html.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{}", a.html);
        assert!(
            a.html.ends_with(
                "<p>المصدر: <a href=\"https://www.aljazeera.net/news/2025/11/20/haftar-cairo\">الجزيرة نت</a></p></div>"
            ),
            "{}",
            a.html
        );
    }

    #[test]
    fn windows_1256_page_by_meta_charset() {
        let page = include_bytes!("../../tests/fixtures/fulltext/arabic-windows-1256.html");
        let url = Url::parse("http://wadi.example/economy/42").unwrap();
        // No charset in the header: the meta decides.
        let a = extract(page, Some("text/html"), &url, None, None).unwrap();
        assert!(
            a.body.contains("أعلنت وزارة الزراعة اليوم خطة جديدة"),
            "{}",
            a.body
        );
        assert!(a.body.contains("<h2>تفاصيل الدعم</h2>"), "{}", a.body);
        assert!(
            !a.html.contains("فيسبوك") && !a.html.contains("اقرأ المزيد"),
            "{}",
            a.html
        );
        assert_eq!((a.lang.as_deref(), a.dir.as_str()), (Some("ar"), "rtl"));
        assert!(
            a.html
                .contains("المصدر: <a href=\"http://wadi.example/economy/42\">أخبار الوادي</a>"),
            "{}",
            a.html
        );
    }

    #[test]
    fn selector_picks_the_block() {
        let page = include_bytes!("../../tests/fixtures/fulltext/cairo-visit.html");
        let url = Url::parse("https://www.aljazeera.net/a").unwrap();
        let a = extract(page, None, &url, Some("aside.related"), None).unwrap();
        assert!(a.body.contains("مجلس النواب الليبي"), "{}", a.body);
        assert!(!a.body.contains("وصل صدام حفتر"), "{}", a.body);
        assert_eq!(
            extract(page, None, &url, Some("div.nothing-here"), None),
            Err(ExtractError::SelectorMissed("div.nothing-here".into()))
        );
    }

    #[test]
    fn deep_nesting_and_element_floods_do_not_crash() {
        let url = Url::parse("https://example.com/a").unwrap();
        // Few tags, but deep: refused before the parser's depth² cost.
        let deep = format!("<html><body>{}<p>x</p></body></html>", "<div>".repeat(20_000));
        assert_eq!(
            extract(deep.as_bytes(), Some("text/html"), &url, None, None),
            Err(ExtractError::TooComplex("elements nested 20002 deep".into()))
        );
        let flood = format!("<html><body>{}</body></html>", "<span>a</span>".repeat(200_000));
        assert_eq!(
            extract(flood.as_bytes(), Some("text/html"), &url, None, None),
            Err(ExtractError::TooComplex("400004 tags".into()))
        );
    }

    #[test]
    fn json_ld_article_body_when_the_page_shows_a_fragment() {
        let url = Url::parse("https://example.com/news/1").unwrap();
        let line =
            "وصل الرئيس إلى القاهرة صباح اليوم في زيارة رسمية تستمر يومين يبحث خلالها ملفات الحدود والتعاون.";
        let body = (0..8)
            .map(|i| format!("{line} {i}"))
            .collect::<Vec<_>>()
            .join("\\n");
        let page = format!(
            r#"<html lang="ar"><head><script type="application/ld+json">{{"@context":"https://schema.org","@graph":[{{"@type":"NewsArticle","headline":"زيارة","articleBody":"{body}"}}]}}</script></head>
            <body><article><h1>زيارة</h1><p>{line} {line}</p><p>للمزيد من الأخبار، زوروا موقعنا</p></article></body></html>"#
        );
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        assert_eq!(a.body.matches("<p>").count(), 8, "{}", a.body);
        assert!(a.body.contains(&format!("<p>{line} 7</p>")), "{}", a.body);
        assert_eq!(a.dir, "rtl");
    }

    /// Streaming-rendered pages (React's `<div hidden>` chunks) and pages
    /// that put each paragraph in its own box: readability keeps the
    /// visible teaser only; the densest block of paragraphs brings back the
    /// whole story, and a block of teaser links does not replace it.
    #[test]
    fn paragraphs_in_hidden_chunks_and_boxes_are_found() {
        let url = Url::parse("https://example.com/news/1").unwrap();
        let lines = [
            "قال وزير الخارجية في مؤتمر صحفي عقده في القاهرة إن المحادثات تناولت ملفات الحدود والتجارة والطاقة بين البلدين.",
            "وأضاف أن الجانبين اتفقا على تشكيل لجنة مشتركة تجتمع كل ثلاثة أشهر لمتابعة تنفيذ ما تم الاتفاق عليه من مشاريع.",
            "وأشار إلى أن حجم التبادل التجاري بين البلدين ارتفع خلال العام الماضي بنسبة كبيرة رغم الظروف الاقتصادية الصعبة.",
            "ومن المقرر أن يزور وفد من رجال الأعمال العاصمة الشهر المقبل لبحث فرص الاستثمار في قطاعات الزراعة والصناعة.",
            "واختتم الوزير حديثه بالتأكيد على أن العلاقات بين البلدين تمر بأفضل مراحلها منذ سنوات طويلة وفق تعبيره.",
        ];
        let boxes: String = lines
            .iter()
            .map(|l| format!(r#"<div class="mod"><div class="box"><p class="text">{l}</p></div></div>"#))
            .collect();
        let teasers: String = (0..6)
            .map(|i| format!(r#"<div class="item"><h3><a href="/other/{i}">عنوان خبر آخر رقم {i} في قسم الأخبار</a></h3><p>ملخص قصير لخبر آخر لا علاقة له بالموضوع الرئيسي رقم {i}.</p></div>"#))
            .collect();
        let page = format!(
            r#"<html lang="ar"><head><title>محادثات في القاهرة</title></head><body>
            <article><h1>محادثات في القاهرة</h1><p class="lead">ملخص: وزير الخارجية يتحدث عن المحادثات في القاهرة.</p></article>
            <div hidden id="S:1"><div class="prose">{boxes}</div></div>
            <section class="more">{teasers}</section></body></html>"#
        );
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        for l in lines {
            assert!(a.body.contains(l), "{l:?} missing from {}", a.body);
        }
        assert!(!a.body.contains("عنوان خبر آخر"), "{}", a.body);
        assert_eq!(a.dir, "rtl");
    }

    /// An Arabic article spread over one box per paragraph, with ad
    /// labels, a dateline, a "read also" box of links, tags, share buttons
    /// and a cookie dialog longer than the article around them: every paragraph, the sub-heading,
    /// the quote and the captioned image come out, none of the furniture.
    #[test]
    fn arabic_article_in_boxes_comes_out_whole_and_clean() {
        let page = include_bytes!("../../tests/fixtures/fulltext/arabic-boxes.html");
        let url = Url::parse("https://news.example/economy/2025/11/20/power-line").unwrap();
        let a = extract(page, Some("text/html"), &url, None, None).unwrap();
        assert_kept_and_dropped(
            &a,
            &[
                "اتفقت مصر والسودان، الخميس",
                "وقال وزير الكهرباء المصري",
                "وأضاف أن المرحلة الأولى",
                "<h2>تمويل المشروع</h2>",
                "ويموَّل المشروع بقرض ميسر",
                "وقال الوزير السوداني",
                "<blockquote>",
                "ويأتي الاتفاق بعد سنوات",
                "<figcaption>أبراج خط الربط الكهربائي قرب أسوان</figcaption>",
            ],
            &[
                "إعلان",
                "آخر تحديث",
                "اقرأ أيضا",
                "مصر ترفع أسعار الكهرباء",
                "حصة",
                "واتساب",
                "اضغط هنا",
                "زوروا موقعنا",
                "الأكثر قراءة",
                "سياسة الخصوصية",
                "ملفات تعريف الارتباط",
            ],
        );
        assert_eq!((a.lang.as_deref(), a.dir.as_str()), (Some("ar"), "rtl"));
        assert_eq!(a.outlet, "سماء الأخبار");
        assert!(a.html.ends_with("\">سماء الأخبار</a></p></div>"), "{}", a.html);
    }

    /// Calls to action around an Arabic story: a newsletter sign-up, a
    /// block the page hides, the paywall prompt with its list of benefits,
    /// the author's bio card and the dateline go; the story, which the page
    /// wraps in `div.paywalled`, stays whole.
    #[test]
    fn arabic_calls_to_action_and_dateline_are_dropped() {
        let page = include_bytes!("../../tests/fixtures/fulltext/arabic-paywall.html");
        let url = Url::parse("https://alghad.example/economy/2025/11/20/farmers").unwrap();
        let a = extract(page, Some("text/html"), &url, None, None).unwrap();
        assert_kept_and_dropped(
            &a,
            &[
                "أطلقت وزارة الزراعة الأردنية",
                "وقال وزير الزراعة في مؤتمر صحفي",
                "<h2>شروط الاستفادة من البرنامج</h2>",
                "وأوضح الوزير أن المزارع المستفيد",
                "وأشار إلى أن الوزارة ستفتح باب التسجيل",
                "ورحبت نقابة المزارعين بالبرنامج",
            ],
            &[
                "النشرة البريدية",
                "أوافق على تلقي",
                "مخصص للمشتركين",
                "ثلاث مقالات مجانية",
                "وصول غير محدود",
                "صحفية متخصصة",
                "10:30",
                "بقلم سارة العلي",
            ],
        );
        assert_eq!((a.lang.as_deref(), a.dir.as_str()), (Some("ar"), "rtl"));
        assert!(
            a.html.ends_with("\">صحيفة الغد الرقمية</a></p></div>"),
            "{}",
            a.html
        );
    }

    #[test]
    fn datelines_go_sentences_with_dates_stay() {
        for t in [
            "By Justine Coleman - 11/18/19 11:04 PM EST",
            "January 28, 2025 11:30 am (Updated 11:54 am)",
            "03.05.2024 15:42 Uhr",
            "2024-02-14T16:15:30Z",
            "Yasmine Hassan · CBC News · Posted: Aug 08, 2024 4:00 AM EDT | Last Updated: August 8",
            "Publisert torsdag 09. mai 2024 - 13:26 Sist oppdatert torsdag 09. mai 2024 - 20:24",
            "الخميس 20 نوفمبر 2025 - 10:30",
            "By Paul Takahashi",
            "Von Marie Périer",
            "By Dolores Chang For Dailymail.Com",
            "بقلم سارة العلي",
        ] {
            assert!(is_debris_text(t), "{t:?} is a dateline or byline");
        }
        for t in [
            "The vote is on 12 May 2024 at 10:00.",
            "La Vieille Ferme 2025 Rosé, France ($14.99, #559393)",
            "— The Nigerian Senate (@NGRSenate) October 9, 2018",
            "وصل الرئيس إلى القاهرة يوم 20 نوفمبر 2025 في زيارة رسمية",
            "By March 2020, the company had 40 employees.",
            "By the end of May",
            "بقلم الرصاص كتب الطلاب رسائلهم إلى الوزير مطالبين بتحسين ظروف الدراسة في المدارس الحكومية",
        ] {
            assert!(!is_debris_text(t), "{t:?} is text, not a dateline");
        }
    }

    /// Captions lose their photo credits, in Arabic and English, and keep
    /// what the picture shows; a paragraph that is a row of headline links
    /// goes, a paragraph with a link in it stays.
    #[test]
    fn caption_credits_and_link_rows_go() {
        let url = Url::parse("https://example.com/news/1").unwrap();
        let para = "وقال وزير الخارجية في مؤتمر صحفي عقده في القاهرة إن المحادثات تناولت ملفات الحدود والتجارة والطاقة بين البلدين. ";
        let page = format!(
            r#"<html lang="ar"><head><title>محادثات</title></head><body><article><h1>محادثات</h1>
            <p>{para}{para}</p>
            <figure><img src="/a.jpg" alt="الوزيران"><figcaption>الوزيران في القاهرة الخميس الصورة: رويترز</figcaption></figure>
            <p>{para}</p>
            <figure><img src="/b.jpg" alt="port"><figcaption>Containers at the port of Alexandria <span class="credit">Credit: EPA</span></figcaption></figure>
            <figure><img src="/c.jpg" alt="map"><figcaption>The border crossing at Rafah (AP Photo/Amr Nabil)</figcaption></figure>
            <p><a href="/1">زيارة سابقة إلى القاهرة لبحث ملف المياه</a> | <a href="/2">ملف الحدود بين البلدين يعود إلى الواجهة</a> | <a href="/3">التبادل التجاري يرتفع خلال العام الماضي</a></p>
            <p>المدن: <a href="/c/1">القاهرة</a>، <a href="/c/2">الجيزة</a>، <a href="/c/3">أسوان</a>، <a href="/c/4">الأقصر</a></p>
            <p>{para} <a href="/talks">المحادثات السابقة</a> {para}</p>
            </article></body></html>"#
        );
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        for kept in [
            "<figcaption>الوزيران في القاهرة الخميس</figcaption>",
            "Containers at the port of Alexandria",
            "The border crossing at Rafah",
            "المحادثات السابقة",
            "الأقصر",
        ] {
            assert!(a.body.contains(kept), "{kept:?} missing from {}", a.body);
        }
        for dropped in [
            "رويترز",
            "EPA",
            "AP Photo",
            "زيارة سابقة",
            "التبادل التجاري يرتفع",
        ] {
            assert!(!a.body.contains(dropped), "{dropped:?} left in {}", a.body);
        }
    }

    /// A Next.js page shows a shell ("loading…") and streams its story as
    /// HTML inside script strings: the story comes out whole and cleaned,
    /// from a UTF-8 page and from the same page in windows-1256; the
    /// payload's other strings (a list of other stories) stay out.
    #[test]
    fn arabic_story_in_next_js_payload_comes_out() {
        let url = Url::parse("https://rafidain.example/economy/2025/11/basra-desalination").unwrap();
        for (page, content_type) in [
            (
                &include_bytes!("../../tests/fixtures/fulltext/arabic-nextjs.html")[..],
                "text/html; charset=utf-8",
            ),
            (
                &include_bytes!("../../tests/fixtures/fulltext/arabic-nextjs-windows-1256.html")[..],
                "text/html",
            ),
        ] {
            let a = extract(page, Some(content_type), &url, None, None).unwrap();
            assert_kept_and_dropped(
                &a,
                &[
                    "أعلنت وزارة الموارد المائية العراقية",
                    "وقال وزير الموارد المائية في مؤتمر صحفي",
                    "<h2>المرحلة الثانية</h2>",
                    "<blockquote><p>«المياه حق لكل مواطن",
                    "وتعاني البصرة منذ سنوات",
                    "src=\"https://rafidain.example/images/2025/11/basra-plant.jpg\"",
                    "<figcaption>محطة تحلية المياه الجديدة في البصرة</figcaption>",
                ],
                &[
                    "(رويترز)",
                    "زوروا موقعنا",
                    "حصة",
                    "واتساب",
                    "عنوان خبر آخر",
                    "جار التحميل",
                    "__next_f",
                ],
            );
            assert_eq!((a.lang.as_deref(), a.dir.as_str()), (Some("ar"), "rtl"));
            assert_eq!(a.outlet, "شبكة الرافدين");
            assert!(a.html.ends_with("\">شبكة الرافدين</a></p></div>"), "{}", a.html);
        }
        // A page that shows its story keeps it, whatever its scripts hold
        // (here, another story prefetched).
        let shown =
            "وصل الرئيس إلى القاهرة صباح اليوم في زيارة رسمية تستمر يومين يبحث خلالها ملفات الحدود والتعاون. ";
        let other = "<p>خبر آخر تماما عن أسعار النفط في الأسواق العالمية وتراجعها خلال الأسبوع الماضي بسبب المخاوف من تباطؤ الاقتصاد.</p>".repeat(12);
        let page = format!(
            r#"<html lang="ar"><body><article><h1>زيارة</h1><p>{shown}{shown}</p><p>{shown}</p></article>
            <script>self.__next_f.push([1,{}])</script></body></html>"#,
            serde_json::to_string(&other).unwrap().replace('<', "\\u003c")
        );
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        assert!(a.body.contains("وصل الرئيس إلى القاهرة"), "{}", a.body);
        assert!(!a.body.contains("أسعار النفط"), "{}", a.body);
    }

    /// Galleries: the counter ("1 of 4", "الصورة 2 من 5"), credits standing
    /// alone in the figure and a caption repeated as paragraphs go; two
    /// pictures' captions stay even when they are the same words, and
    /// paragraphs repeated on purpose (in bold, in lists) stay.
    #[test]
    fn gallery_counters_credits_and_repeated_captions_go() {
        let url = Url::parse("https://example.com/news/1").unwrap();
        let para = "وقال وزير الخارجية في مؤتمر صحفي عقده في القاهرة إن المحادثات تناولت ملفات الحدود والتجارة والطاقة بين البلدين. ";
        let caption = "أعضاء الوفدين خلال المحادثات في القاهرة الخميس";
        let page = format!(
            r#"<html lang="ar"><head><title>محادثات</title></head><body><article><h1>محادثات</h1>
            <p>{para}{para}</p>
            <figure><img src="/a.jpg" alt="الوفدان"><figcaption><span>1 من 4</span> {caption} - أ ف ب</figcaption><span>محمد علي/رويترز</span></figure>
            <p>{caption}</p><p>{caption}</p>
            <p>الصورة 2 من 5</p>
            <figure><img src="/b.jpg" alt="port"><figcaption>Containers at the port of Alexandria. THIS IMAGE HAS BEEN SUPPLIED BY A THIRD PARTY. MANDATORY CREDIT.</figcaption><p>Quelle: dpa</p></figure>
            <figure><img src="/c.jpg" alt="الوفدان"><figcaption>{caption}</figcaption></figure>
            <p>{para}</p>
            <p><strong>س: ما الذي تناولته المحادثات بين البلدين في القاهرة؟</strong></p><p>{para}</p>
            <h2>الجولة الثانية</h2><p>{para}</p>
            <p><strong>س: ما الذي تناولته المحادثات بين البلدين في القاهرة؟</strong></p>
            <p>reporter@example.com</p>
            </article></body></html>"#
        );
        let a = extract(page.as_bytes(), Some("text/html"), &url, None, None).unwrap();
        assert_eq!(a.body.matches(caption).count(), 2, "{}", a.body);
        assert_eq!(
            a.body
                .matches(&format!("<figcaption>{caption}</figcaption>"))
                .count(),
            2,
            "{}",
            a.body
        );
        assert!(
            a.body
                .contains("<figcaption>Containers at the port of Alexandria.</figcaption>"),
            "{}",
            a.body
        );
        assert_eq!(
            a.body.matches("ما الذي تناولته المحادثات").count(),
            2,
            "{}",
            a.body
        );
        // Repeated in its section: once; after a heading: again.
        assert_eq!(a.body.matches(para.trim()).count(), 4, "{}", a.body);
        for dropped in [
            "1 من 4",
            "أ ف ب",
            "رويترز",
            "محمد علي",
            "الصورة 2 من 5",
            "MANDATORY",
            "dpa",
            "reporter@",
        ] {
            assert!(!a.body.contains(dropped), "{dropped:?} left in {}", a.body);
        }
    }

    /// Token F1 of `got` against `expected`: the multisets of lower-cased
    /// words (as the corpus test scores pages).
    fn token_f1(got: &str, expected: &str) -> f64 {
        let bag = |t: &str| {
            let mut m: HashMap<String, usize> = HashMap::new();
            for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                *m.entry(w.to_lowercase()).or_insert(0) += 1;
            }
            m
        };
        let (g, e) = (bag(got), bag(expected));
        let (ng, ne): (usize, usize) = (g.values().sum(), e.values().sum());
        let tp: usize = g
            .iter()
            .map(|(k, v)| (*v).min(e.get(k).copied().unwrap_or(0)))
            .sum();
        if tp == 0 {
            return 0.0;
        }
        let (p, r) = (tp as f64 / ng as f64, tp as f64 / ne as f64);
        2.0 * p * r / (p + r)
    }

    /// Arabic pages in the shapes news sites use, each with the text we
    /// wrote as its expectation: a summary above a body of `<div>`
    /// paragraphs split by an ad slot and a "read also" box; a
    /// windows-1256 page whose paragraphs are `<br>`-separated text; a
    /// three-paragraph story under a long list of other stories with
    /// blurbs and a comment thread. Each comes out whole (token F1 ≥ 0.9
    /// against what we wrote), `dir="rtl" lang="ar"`, without debris and
    /// with the outlet named.
    #[test]
    fn arabic_pages_in_news_site_shapes_score_against_their_text() {
        /// Page, expected text, URL, outlet, debris that must not appear.
        type Case<'a> = (&'a [u8], &'a str, &'a str, &'a str, &'a [&'a str]);
        let cases: [Case; 3] = [
            (
                include_bytes!("../../tests/fixtures/fulltext/arabic-summary-divs.html"),
                include_str!("../../tests/fixtures/fulltext/arabic-summary-divs.expected.txt"),
                "https://www.ddaftain.example/economy/2025/11/20/aqaba-desalination",
                "شبكة الضفتين",
                &[
                    "إعلان",
                    "آخر تحديث",
                    "اقرأ أيضا",
                    "انقطاع المياه عن أحياء",
                    "واتساب",
                    "نسخ الرابط",
                    "اضغط هنا",
                    "زوروا موقعنا",
                    "الأكثر قراءة",
                    "الوسوم",
                    "عاجل",
                ],
            ),
            (
                include_bytes!("../../tests/fixtures/fulltext/arabic-br-windows-1256.html"),
                include_str!("../../tests/fixtures/fulltext/arabic-br-windows-1256.expected.txt"),
                "https://www.youm8.example/story/2025/11/20/alex-corniche/7012345",
                "اليوم الثامن",
                &[
                    "مشاركة",
                    "طباعة",
                    "اقرأ أيضا",
                    "الأرصاد تحذر",
                    "أخبار متعلقة",
                    "نوة المكنسة",
                    "كلمات البحث",
                    "اتصل بنا",
                ],
            ),
            (
                include_bytes!("../../tests/fixtures/fulltext/arabic-short-comments.html"),
                include_str!("../../tests/fixtures/fulltext/arabic-short-comments.expected.txt"),
                "https://nahrain.example/local/2025/11/20/school-libraries",
                "صحيفة النهرين",
                &[
                    "آخر الأخبار",
                    "معرض الكتاب",
                    "أسعار الفائدة",
                    "التعليقات",
                    "أبو خالد",
                    "خبر جميل جدا",
                    "أضف تعليقك",
                    "واتساب",
                    "تيليجرام",
                ],
            ),
        ];
        for (page, expected, url, outlet, debris) in cases {
            let url = Url::parse(url).unwrap();
            let a = extract(page, Some("text/html"), &url, None, None).unwrap();
            let f1 = token_f1(&a.text(), expected);
            assert!(f1 >= 0.9, "{url}: token F1 {f1:.3}: {}", a.body);
            assert_eq!((a.lang.as_deref(), a.dir.as_str()), (Some("ar"), "rtl"), "{url}");
            assert!(a.html.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{}", a.html);
            assert_eq!(a.outlet, outlet);
            assert!(
                a.html
                    .ends_with(&format!("<p>المصدر: <a href=\"{url}\">{outlet}</a></p></div>")),
                "{}",
                a.html
            );
            for d in debris {
                assert!(!a.html.contains(d), "{url}: {d:?} left in {}", a.html);
            }
        }
    }

    /// More pages in the shapes real news sites use, each written for this
    /// with its text as the expectation (`<name>.expected.txt`): one box per
    /// paragraph with hashed classes, a "suggested stories" list and its
    /// skip links mid-story, "صدر الصورة، Getty Images" under the picture
    /// (`arabic-textblocks`); windows-1256 with "اقرأ أيضا.." followed by
    /// paragraphs of links, tags, a comment count and a "follow us on
    /// Google News" line (`arabic-youm-windows-1256`); a two-paragraph
    /// story above a comment thread four times its length and teaser cards
    /// (`arabic-short-long-comments`); a one-paragraph story with a
    /// standfirst and "read also" cards (`arabic-one-paragraph`); related
    /// cards with blurbs inside the body and the author's bio card
    /// (`arabic-inline-cards-author`); an inline "اقرأ أيضاً:" line, a
    /// bulleted list, font-size tools and a held-back video embed
    /// (`arabic-inline-readalso`); an old table layout in windows-1256 with
    /// `<br>` text and no site name, where the feed names the outlet
    /// (`arabic-table-windows-1256`); and in English a two-paragraph brief
    /// above a newsletter box and blurbs longer than it (`short-brief`), and
    /// a story that is one long paragraph above its comments
    /// (`one-long-paragraph`). Seventh session: an Asharq-Al-Awsat-like
    /// page with a lead figure, sub-headings, an inline "اقرأ أيضاً" box,
    /// a date line with the Hijri date and the print issue's number, tags,
    /// a share bar and related cards with blurbs (`arabic-asharq-subheads`);
    /// an RT-Arabic-like page in windows-1256 with a summary, a captioned
    /// cover image, an inline "اقرأ المزيد" link box, tags and a news feed
    /// (`arabic-rt-windows-1256`); an Almasry-Alyoum-like page whose body
    /// is `<br>`-separated text with a "اقرأ أيضًا:" list inside it, the lead
    /// picture captioned by a `div.caption` beside it, a comment count and
    /// comments (`arabic-almasry-br`); in English an old table layout with
    /// its menu column of `<br>`-separated links, the headline in `<b>`,
    /// the story as `<br>`-separated text in a `<font>` cell and print/e-mail
    /// links (`en-table-br`), and a live blog of timed entries with share
    /// buttons per entry and a newsletter box (`en-liveblog`). Each comes
    /// out whole (token F1 ≥ 0.9), in its language and direction, without
    /// debris, the outlet named.
    #[test]
    fn news_site_shapes_score_against_their_text() {
        struct Shape<'a> {
            name: &'a str,
            page: &'a [u8],
            expected: &'a str,
            url: &'a str,
            /// The feed's name, for pages that do not name their outlet.
            feed: Option<&'a str>,
            outlet: &'a str,
            lang: &'a str,
            debris: &'a [&'a str],
        }
        macro_rules! fixture {
            ($name:literal) => {
                (
                    $name,
                    &include_bytes!(concat!("../../tests/fixtures/fulltext/", $name, ".html"))[..],
                    include_str!(concat!(
                        "../../tests/fixtures/fulltext/",
                        $name,
                        ".expected.txt"
                    )),
                )
            };
        }
        let shape = |(name, page, expected): (&'static str, &'static [u8], &'static str),
                     url: &'static str,
                     feed: Option<&'static str>,
                     outlet: &'static str,
                     lang: &'static str,
                     debris: &'static [&'static str]| Shape {
            name,
            page,
            expected,
            url,
            feed,
            outlet,
            lang,
            debris,
        };
        let shapes = [
            shape(
                fixture!("arabic-textblocks"),
                "https://www.nahar.example/arabic/articles/c1k2j3",
                None,
                "أخبار نهار عربي",
                "ar",
                &[
                    "قصص مقترحة",
                    "تخطى",
                    "نهاية",
                    "موجة حر تضرب العراق",
                    "صدر الصورة",
                    "Getty",
                    "التعليق على الصورة",
                    "مواضيع ذات صلة",
                    "الأكثر قراءة",
                    "سلمى الربيعي",
                    "شروط الاستخدام",
                ],
            ),
            shape(
                fixture!("arabic-youm-windows-1256"),
                "https://www.youm5.example/story/2025/11/20/7012999",
                None,
                "اليوم الخامس",
                "ar",
                &[
                    "اقرأ أيضا",
                    "ضبط 12 طن دقيق",
                    "أسعار الذهب",
                    "الكلمات المتعلقة",
                    "Google News",
                    "تعليقات (0)",
                    "لا توجد تعليقات",
                    "اضف تعليق",
                    "كتب محمد عبد الرحمن",
                    "فيس بوك",
                    "الأكثر قراءة",
                    "اتصل بنا",
                ],
            ),
            shape(
                fixture!("arabic-short-long-comments"),
                "https://www.hespress-jadida.example/regions/route-neige-123456.html",
                None,
                "هسبريس الجديدة",
                "ar",
                &[
                    "تعليقات الزوار",
                    "مواطن من تارودانت",
                    "سائق شاحنة",
                    "الطريق السيار ليس حلا",
                    "أضف تعليقك",
                    "12 تعليقات",
                    "موجة برد تجتاح",
                    "مقالات ذات صلة",
                    "الأكثر قراءة",
                ],
            ),
            shape(
                fixture!("arabic-one-paragraph"),
                "https://www.samanews.example/technology/1700001",
                None,
                "سماء نيوز عربية",
                "ar",
                &[
                    "اقرأ أيضاً",
                    "مسبار الأمل",
                    "مواضيع ذات صلة",
                    "تابعونا",
                    "المزيد من تكنولوجيا",
                    "هاتف قابل للطي",
                    "نشر في",
                    "واتساب",
                    "البث المباشر",
                ],
            ),
            shape(
                fixture!("arabic-inline-cards-author"),
                "https://www.sharq-jadid.example/economy/5012400",
                None,
                "الشرق الجديد",
                "ar",
                &[
                    "ذات صلة",
                    "ارتفاع حجم التجارة",
                    "موانئ البحر الأحمر تستعد",
                    "صحافي مصري يغطي",
                    "اقرأ أيضاً",
                    "أمطار غزيرة تضرب جدة",
                    "شارك",
                    "أعلن معنا",
                ],
            ),
            shape(
                fixture!("arabic-inline-readalso"),
                "https://www.arabiya-alaan.example/ar/gulf/2025/11/20/kuwait-power",
                None,
                "العربية الآن",
                "ar",
                &[
                    "اقرأ أيضاً",
                    "القطع المبرمج",
                    "حجم الخط",
                    "نشر في",
                    "آخر تحديث",
                    "لعرض هذا المحتوى",
                    "تابعونا",
                    "الأكثر قراءة",
                    "تأشيرة سياحية",
                ],
            ),
            shape(
                fixture!("arabic-table-windows-1256"),
                "http://www.wadi-jadid.example/news.asp?id=88123",
                Some("جريدة الوادي الجديد"),
                "جريدة الوادي الجديد",
                "ar",
                &[
                    "أخبار مصر",
                    "طباعة",
                    "أرسل لصديق",
                    "أخبار أخرى",
                    "طريق الهضبة",
                    "جميع الحقوق محفوظة",
                ],
            ),
            shape(
                fixture!("short-brief"),
                "https://www.harbourtimes.example/news/2025/11/20/ferry-suspended",
                None,
                "Harbour Times",
                "en",
                &[
                    "More local news",
                    "bus route",
                    "Lifeboat",
                    "newsletter",
                    "Coastal Media Group",
                    "Tweet",
                    "By Harbour Times staff",
                ],
            ),
            shape(
                fixture!("one-long-paragraph"),
                "https://valleyvoice.example/2025/11/20/shop",
                None,
                "Valley Voice",
                "en",
                &[
                    "Responses",
                    "Margaret",
                    "Sundays",
                    "Leave a Reply",
                    "Recent Posts",
                    "permalink",
                    "Posted on",
                    "WordPress",
                ],
            ),
            shape(
                fixture!("arabic-asharq-subheads"),
                "https://aawsat-yawmi.example/economy/5012345",
                None,
                "الشرق اليومي",
                "ar",
                &[
                    "اقرأ أيضاً",
                    "مؤتمر المياه العالمي",
                    "رقم العدد",
                    "جمادى",
                    "مواضيع",
                    "التعليقات (3)",
                    "مقالات ذات صلة",
                    "تدرس الحكومة المصرية",
                    "نسخ الرابط",
                    "الأكثر قراءة",
                    "جميع الحقوق محفوظة",
                ],
            ),
            shape(
                fixture!("arabic-rt-windows-1256"),
                "https://arabic.rt-jadida.example/world/1700250-grain",
                None,
                "روسيا اليوم الجديدة",
                "ar",
                &[
                    "اقرأ المزيد",
                    "أردوغان يدعو",
                    "الوسوم",
                    "تيليغرام",
                    "المزيد من الأخبار",
                    "الكرملين",
                    "منذ ساعة",
                    "14:32 GMT",
                    "جميع الحقوق محفوظة",
                ],
            ),
            shape(
                fixture!("arabic-almasry-br"),
                "https://www.masry-jadid.example/news/details/3500200",
                None,
                "المصري الجديد",
                "ar",
                &[
                    "اقرأ أيضًا",
                    "طقس الجمعة",
                    "ميناء العريش",
                    "(5) تعليقات",
                    "الكلمات المفتاحية",
                    "ربنا يستر",
                    "واتس اب",
                    "الأكثر قراءة",
                    "سياسة الخصوصية",
                ],
            ),
            // Al Jazeera's shape: an "اقرأ أيضا" box of headline links with
            // screen-reader counters inside the body, a date label, a
            // share bar of screen-reader labels, sub-headings.
            shape(
                fixture!("arabic-jazeera-moreon"),
                "https://www.jazira-jadida.example/ebusiness/2025/11/20/egypt-sudan-grid",
                None,
                "الجزيرة الجديدة",
                "ar",
                &[
                    "list of 4",
                    "end of list",
                    "نشر في",
                    "شارك عبر",
                    "حجم الخط",
                    "سد النهضة",
                    "(رويترز)",
                    "مواضيع:",
                    "الأكثر قراءة",
                    "جميع الحقوق محفوظة",
                ],
            ),
            // An Arabic article in a template marked `dir="ltr"`, with an
            // audio player, font-size buttons, a short link, a meta line in
            // Arabic-Indic digits, "اقرأ أيضًا:" (tanwin before the alef), an
            // archive-photo caption (kept: it dates the picture), "قد يهمك
            // أيضاً" cards, tags and a newsletter box.
            shape(
                fixture!("arabic-tools-ltr-template"),
                "https://www.arabiya-jadida.example/ar/aswaq/economy/2025/11/20/jordan-desal",
                None,
                "العربية الجديدة",
                "ar",
                &[
                    "عمّان</span>",
                    "نشر في",
                    "١٠:٣٠",
                    "استمع",
                    "حجم الخط",
                    "رابط مختصر",
                    "نسخ الرابط",
                    "اقرأ أيضًا",
                    "تعرفة المياه",
                    "قد يهمك",
                    "الكلمات المفتاحية",
                    "انستغرام",
                    "النشرة البريدية",
                    "الأكثر مشاهدة",
                ],
            ),
            // Persian: a "بیشتر بخوانید:" line, a share bar, Persian digits.
            shape(
                fixture!("persian-bbc-readalso"),
                "https://www.khabarnameh.example/persian/iran-2025-12-05",
                None,
                "خبرنامه فارسی",
                "fa",
                &[
                    "بیشتر بخوانید",
                    "ناترازی",
                    "اشتراک گذاری",
                    "کپی لینک",
                    "مطالب مرتبط",
                ],
            ),
            // Hebrew: a "קראו עוד:" line, a share bar, tags.
            shape(
                fixture!("hebrew-readmore"),
                "https://www.hadashot-tsafon.example/economy/haifa-port",
                None,
                "חדשות הצפון",
                "he",
                &[
                    "קראו עוד",
                    "השביתה",
                    "שתפו",
                    "העתק קישור",
                    "הכי נקראים",
                    "כל הזכויות",
                ],
            ),
            shape(
                fixture!("en-table-br"),
                "http://www.ridgewaycourier.example/news/2025/1120bridge.html",
                Some("The Ridgeway Courier"),
                "The Ridgeway Courier",
                "en",
                &[
                    "Local News",
                    "Obituaries",
                    "Classifieds",
                    "Contact Us",
                    "Printer friendly",
                    "Email this story",
                    "All rights reserved",
                    "<b>Mill Creek bridge to close for repairs</b>",
                ],
            ),
            shape(
                fixture!("en-liveblog"),
                "https://www.northernledger.example/news/live/2025/nov/20/storm-fiona",
                None,
                "Northern Ledger",
                "en",
                &[
                    ">Share<",
                    "Load more",
                    "Ledger Daily",
                    "Sign up",
                    "Most read",
                    "Council tax",
                    "Registered in England",
                ],
            ),
        ];
        let mut failed = Vec::new();
        for s in &shapes {
            let url = Url::parse(s.url).unwrap();
            let a = match extract(s.page, Some("text/html"), &url, None, s.feed) {
                Ok(a) => a,
                Err(e) => {
                    failed.push(format!("{}: {e}", s.name));
                    continue;
                }
            };
            let f1 = token_f1(&a.text(), s.expected);
            eprintln!("{}: {f1:.3}", s.name);
            let dir = if is_rtl(s.lang) { "rtl" } else { "ltr" };
            let mut wrong = Vec::new();
            if f1 < 0.9 {
                wrong.push(format!("token F1 {f1:.3}"));
            }
            if (a.lang.as_deref(), a.dir.as_str()) != (Some(s.lang), dir) {
                wrong.push(format!("lang {:?} dir {}", a.lang, a.dir));
            }
            if !a
                .html
                .starts_with(&format!("<div dir=\"{dir}\" lang=\"{}\">", s.lang))
            {
                wrong.push("not wrapped in its dir and lang".into());
            }
            let label = attribution_label(Some(s.lang));
            if a.outlet != s.outlet
                || !a.html.ends_with(&format!(
                    "<p>{label} <a href=\"{url}\">{}</a></p></div>",
                    s.outlet
                ))
            {
                wrong.push(format!("outlet {:?}", a.outlet));
            }
            for d in s.debris {
                if a.html.contains(d) {
                    wrong.push(format!("{d:?} left"));
                }
            }
            if !wrong.is_empty() {
                failed.push(format!("{}: {}: {}", s.name, wrong.join(", "), a.body));
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    /// Simple article pages in the shapes that lose text rather than keep
    /// debris: the story split over sibling boxes, a standfirst above
    /// the body, paragraphs as `<div>`s or `<br>`-separated text, a
    /// two-paragraph story beside a sidebar, an old table layout, a bare
    /// `<body>`. Each comes out whole (token F1 ≥ 0.9 against its text).
    #[test]
    fn simple_pages_keep_their_whole_story() {
        let en = [
            "The city council voted on Tuesday night to close the old river bridge to cars from next spring, ending a decade of debate about the crossing's future.",
            "Engineers told the council that the bridge's steel supports had corroded faster than expected and that heavy traffic could no longer be allowed on it safely.",
            "Cyclists and pedestrians will still be able to use the bridge while the city looks for money to build a replacement further downstream.",
            "Shop owners on the east bank said they feared losing customers, and asked the council to add a shuttle bus between the two halves of the old town.",
            "The mayor said a final decision on the shuttle would be taken in January, after the transport office has counted how many people cross each day.",
            "Work to fence off the road deck is due to start in March and should take about six weeks, the council said in a statement after the vote.",
        ];
        let ar = [
            "صوت مجلس المدينة مساء الثلاثاء على إغلاق الجسر القديم أمام السيارات اعتبارا من الربيع المقبل، منهيا عقدا من الجدل حول مستقبل المعبر.",
            "وقال المهندسون للمجلس إن الدعامات الحديدية للجسر تآكلت أسرع من المتوقع، وإن حركة المرور الثقيلة لم تعد آمنة عليه.",
            "وسيظل بإمكان راكبي الدراجات والمشاة استخدام الجسر بينما تبحث المدينة عن تمويل لبناء جسر بديل في موقع آخر على النهر.",
            "وقال أصحاب المتاجر على الضفة الشرقية إنهم يخشون خسارة زبائنهم، وطالبوا المجلس بتخصيص حافلة تربط شطري البلدة القديمة.",
        ];
        let nav = r#"<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>"#;
        let foot = r#"<footer><p>Copyright 2025 The River Gazette. All rights reserved.</p><a href="/privacy">Privacy</a></footer>"#;
        let p = |ps: &[&str]| ps.iter().map(|t| format!("<p>{t}</p>")).collect::<String>();
        let div = |ps: &[&str]| ps.iter().map(|t| format!("<div>{t}</div>")).collect::<String>();
        let br = |ps: &[&str]| ps.join("<br><br>\n");
        let cases: Vec<(&str, String, String)> = vec![
            (
                "split over sibling boxes",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body>{nav}<h1>Bridge to close</h1>
                    <div class="story"><div class="text-block">{}</div><div class="ad">Advertisement</div>
                    <div class="text-block">{}</div><div class="ad">Advertisement</div><div class="text-block">{}</div></div>{foot}</body></html>"#,
                    p(&en[..2]),
                    p(&en[2..4]),
                    p(&en[4..])
                ),
                en.join("\n"),
            ),
            (
                "split in two by teaser cards and an ad",
                format!(
                    r#"<html><head><title>Bridge to close</title><meta property="og:description" content="{lead}"></head><body>{nav}
                    <article class="story"><div class="story-head"><h1>Bridge to close</h1><p class="dek">{lead}</p></div>
                    <div class="story-part"><div class="part-inner">{}
                    <section class="more"><ol>{cards}</ol></section></div></div>
                    <div class="ad-row"><div class="ad">Advertisement</div><p>This advertisement has not loaded yet, but your article continues below.</p></div>
                    <div class="story-part"><div class="part-inner">{}
                    <section class="more"><ol>{cards}</ol></section></div></div></article>{foot}</body></html>"#,
                    en[1..]
                        .iter()
                        .map(|t| format!("<section class=\"el\"><div class=\"inline\"><p>{t}</p></div></section>"))
                        .collect::<String>(),
                    en[..1]
                        .iter()
                        .map(|t| format!("<section class=\"el\"><div class=\"inline\"><p>{t}</p></div></section>"))
                        .collect::<String>(),
                    lead = "Engineers found the supports corroded; shops on the east bank fear losing customers.",
                    cards = (0..6)
                        .map(|i| format!(r#"<li><article class="card"><a href="/s/{i}"><img src="/t/{i}.jpg" alt="">Headline number {i} about something else in town</a></article></li>"#))
                        .collect::<String>(),
                ),
                format!(
                    "Engineers found the supports corroded; shops on the east bank fear losing customers.\n{}\n{}",
                    en[1..].join("\n"),
                    en[0]
                ),
            ),
            (
                "standfirst above the body",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body>{nav}<header class="article-head"><h1>Bridge to close</h1>
                    <p class="standfirst">{}</p></header><div class="article-body">{}</div>{foot}</body></html>"#,
                    en[0],
                    p(&en[1..])
                ),
                en.join("\n"),
            ),
            (
                "paragraphs in divs",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body>{nav}<h1>Bridge to close</h1>
                    <div id="content">{}</div>{foot}</body></html>"#,
                    div(&en)
                ),
                en.join("\n"),
            ),
            (
                "br-separated text",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body>{nav}<h1>Bridge to close</h1>
                    <div class="entry">{}</div>{foot}</body></html>"#,
                    br(&en)
                ),
                en.join("\n"),
            ),
            (
                "two paragraphs beside a sidebar",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body>{nav}<div class="main"><h1>Bridge to close</h1>{}</div>
                    <div class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Flood warning for the valley this weekend</a></li>
                    <li><a href="/b">New head teacher for the primary school</a></li><li><a href="/c">Market square to get new lights</a></li></ul></div>{foot}</body></html>"#,
                    p(&en[..2])
                ),
                en[..2].join("\n"),
            ),
            (
                "table layout",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body><table width="100%"><tr>
                    <td width="150"><a href="/">Home</a><br><a href="/news">News</a><br><a href="/sport">Sport</a></td>
                    <td><font size="4"><b>Bridge to close</b></font><br><br>{}</td></tr></table></body></html>"#,
                    br(&en)
                ),
                format!("Bridge to close\n{}", en.join("\n")),
            ),
            (
                "bare body",
                format!(
                    r#"<html><head><title>Bridge to close</title></head><body><h1>Bridge to close</h1>{}</body></html>"#,
                    p(&en[..3])
                ),
                en[..3].join("\n"),
            ),
            (
                "Arabic, br-separated, in a table cell",
                format!(
                    r#"<html lang="ar" dir="rtl"><head><title>إغلاق الجسر</title></head><body><table><tr>
                    <td><a href="/">الرئيسية</a><br><a href="/news">أخبار</a></td><td><h1>إغلاق الجسر</h1>{}</td></tr></table></body></html>"#,
                    br(&ar)
                ),
                ar.join("\n"),
            ),
            (
                "Arabic, short, paragraphs in divs",
                format!(
                    r#"<html lang="ar" dir="rtl"><head><title>إغلاق الجسر</title></head><body>{nav}<h1>إغلاق الجسر</h1>
                    <div class="body">{}</div>{foot}</body></html>"#,
                    div(&ar[..2])
                ),
                ar[..2].join("\n"),
            ),
        ];
        let url = Url::parse("https://gazette.example/news/bridge").unwrap();
        let mut failed = Vec::new();
        for (shape, page, expected) in &cases {
            let got = extract(page.as_bytes(), Some("text/html"), &url, None, None)
                .map(|a| a.text())
                .unwrap_or_default();
            let f1 = token_f1(&got, expected);
            eprintln!("{shape}: {f1:.3}");
            if f1 < 0.9 {
                failed.push(format!("{shape}: {f1:.3}: {got}"));
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn bad_selector_is_named() {
        assert!(valid_selector("article .body > p"));
        assert!(!valid_selector("article[[["));
    }
}
