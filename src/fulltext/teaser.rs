//! Whether an item's own text is a teaser, for `full_text = "auto"`.
//!
//! Pure: looks at the stored item only. A feed that carries whole articles
//! (a blog's `content:encoded`) costs its publisher no page fetches and its
//! items no wait; a news feed's one-line summaries, a headline alone, or a
//! few paragraphs cut short with "…" or a "read more" link get the page.
//!
//! The bounds come from the real corpus (`../shared/corpus/realworld`,
//! BENCHMARKS.md, Run 18 "full text where the feed has only a teaser"):
//! summaries of news feeds sit at a median of 41 words and a tenth of them
//! pass 600, but those long ones are whole articles or posts; the teasers
//! between 60 and 300 words nearly all end in an ellipsis ("…", "...",
//! "[…]", Arabic ".."), or in a short link ("Continue reading…", "Read more
//! of this story at Slashdot", "קרא את הכתבה המלאה ←").

use crate::item::Item;
use crate::select::html_to_text;

/// Fewer words than this and the text is a teaser, however it ends: a
/// headline, a lead sentence, "التفاصيل بعد قليل..".
pub const TEASER_WORDS: usize = 100;

/// Up to this many words, a text that ends cut short is a teaser too.
pub const CUT_WORDS: usize = 400;

/// The most words of a trailing link that reads as "read more".
const MORE_LINK_WORDS: usize = 10;

/// Whether `item`'s own text (its content, else its summary) is a teaser
/// rather than the article: fewer than [`TEASER_WORDS`] words, or fewer
/// than [`CUT_WORDS`] ending in an ellipsis or in a short link.
pub fn is_teaser(item: &Item) -> bool {
    let html = item.content.as_deref().or(item.summary.as_deref()).unwrap_or("");
    let text = html_to_text(html);
    let words = word_count(&text);
    words < TEASER_WORDS || (words < CUT_WORDS && (ends_cut_short(&text) || ends_with_more_link(html)))
}

/// Runs of letters and digits, in any script.
fn word_count(text: &str) -> usize {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count()
}

/// The text ends in an ellipsis, bracketed or not: "…", "...", "[…]",
/// "(...)", Arabic "..".
fn ends_cut_short(text: &str) -> bool {
    let end = text.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ']' | ')' | '»' | '"' | '\''));
    end.ends_with('…') || end.ends_with("..")
}

/// The HTML ends (past closing tags and white space) in a link of at most
/// [`MORE_LINK_WORDS`] words: "Continue reading...", "اقرأ المزيد".
fn ends_with_more_link(html: &str) -> bool {
    let mut end = html.trim_end();
    // Closing tags of the blocks the link sits in: `</a></p></div>`.
    while let Some(rest) = end.strip_suffix('>') {
        let Some(open) = rest.rfind('<') else { return false };
        let tag = &rest[open + 1..];
        if tag.eq_ignore_ascii_case("/a") {
            let inner = &rest[..open];
            let Some(start) = inner.rfind("<a ").or_else(|| inner.rfind("<a>")) else {
                return false;
            };
            let link_text = html_to_text(&inner[start..]);
            let n = word_count(&link_text);
            return n > 0 && n <= MORE_LINK_WORDS;
        }
        if !tag.starts_with('/') {
            return false;
        }
        end = rest[..open].trim_end();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemKey;

    fn item(summary: Option<&str>, content: Option<&str>) -> Item {
        Item {
            key: ItemKey::from_link(&url::Url::parse("https://www.aljazeera.net/news/1").unwrap()),
            link: Some("https://www.aljazeera.net/news/1".into()),
            title: "عنوان".into(),
            summary: summary.map(str::to_owned),
            content: content.map(str::to_owned),
            authors: vec![],
            categories: vec![],
            published: None,
            updated: None,
            first_seen: 0,
            date: 0,
            language: None,
            enclosure: None,
            sources: vec![],
            fingerprint: None,
        }
    }

    /// `n` Arabic words, as sentences.
    fn arabic(n: usize) -> String {
        let words = [
            "أعلنت",
            "وزارة",
            "الخارجية",
            "المصرية",
            "اليوم",
            "أن",
            "الوفد",
            "وصل",
            "إلى",
            "القاهرة",
        ];
        let mut s = String::new();
        for i in 0..n {
            s.push_str(words[i % words.len()]);
            s.push(if i % 10 == 9 { '.' } else { ' ' });
            if i % 10 == 9 {
                s.push(' ');
            }
        }
        s.trim_end().to_owned()
    }

    #[test]
    fn short_texts_are_teasers() {
        assert!(is_teaser(&item(Some("التفاصيل بعد قليل.."), None)));
        assert!(is_teaser(&item(None, None)), "a headline alone");
        assert!(is_teaser(&item(Some(&format!("<p>{}</p>", arabic(60))), None)));
        assert!(is_teaser(&item(Some(&arabic(99)), None)));
        assert!(!is_teaser(&item(Some(&format!("<p>{}</p>", arabic(100))), None)));
    }

    #[test]
    fn the_content_is_judged_before_the_summary() {
        let article = format!("<p>{}</p><p>{}</p>", arabic(150), arabic(150));
        assert!(!is_teaser(&item(Some("ملخص قصير"), Some(&article))));
        assert!(is_teaser(&item(Some(&article), Some("<p>ملخص قصير</p>"))));
    }

    #[test]
    fn longer_texts_cut_short_are_teasers() {
        for end in ["…", "...", " [&#8230;]", " [...]", "..", "…»"] {
            let cut = format!("<p>{}{end}</p>", arabic(250));
            assert!(is_teaser(&item(Some(&cut), None)), "{end:?}");
        }
        assert!(
            !is_teaser(&item(Some(&format!("<p>{}</p>", arabic(250))), None)),
            "ends with a full stop"
        );
        // Past `CUT_WORDS` an ellipsis is the writer's, not the feed's.
        assert!(!is_teaser(&item(Some(&format!("<p>{}…</p>", arabic(400))), None)));
    }

    #[test]
    fn a_closing_read_more_link_marks_a_teaser() {
        let long = arabic(200);
        for more in [
            r#"<a href="https://www.theguardian.com/x">Continue reading</a>"#,
            r#"<p><a href="https://www.aljazeera.net/news/1" rel="noopener noreferrer">اقرأ المزيد</a></p>"#,
            r#"<p>📡 מקור: Ynet <a href="https://www.ynet.co.il/1">קרא את הכתבה המלאה ←</a></p>"#,
        ] {
            assert!(
                is_teaser(&item(Some(&format!("<p>{long}</p>{more}")), None)),
                "{more}"
            );
        }
        // A link inside the last sentence, or a long one, is the text's own.
        let cited = format!("<p>{long} <a href=\"https://example.com/\">المصدر</a> قال ذلك.</p>");
        assert!(!is_teaser(&item(Some(&cited), None)));
        let long_link = format!(
            "<p>{long}</p><p><a href=\"https://example.com/\">{}</a></p>",
            arabic(12)
        );
        assert!(!is_teaser(&item(Some(&long_link), None)));
    }
}
