//! Cuts a `feeds.toml` into its `[[feed]]` tables and the rest, so that a
//! config of 100,000 feeds is never held as one spanned TOML document.
//!
//! toml parses a whole document into a token list, an event list and a tree
//! of spanned tables before serde sees any of it: for a 10 MB file of
//! 100,000 `[[feed]]` tables that was ~290 MB of peak, most of a large
//! restart's memory (BENCHMARKS.md, Run 6 "per-feed cost"). Each table is
//! instead parsed on its own, and the rest of the file once with the tables
//! blanked out (same byte offsets, so every span still points into the
//! original text). The caller parses the whole file as before whenever a
//! piece fails, so error messages are exactly toml's.

use std::ops::Range;

use toml_parser::lexer::TokenKind;
use toml_parser::Source;

/// A config file cut at its top-level table headers.
pub(super) struct Split {
    /// The text with every `[[feed]]` table replaced by spaces.
    pub rest: String,
    /// Byte ranges of the `[[feed]]` tables (header to the next top-level
    /// header that is not a `feed.` sub-table), in file order.
    pub feeds: Vec<Range<usize>>,
}

/// What a top-level header line opens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Header {
    /// `[[feed]]`: a new feed table.
    Feed,
    /// `[feed.x]` or `[[feed.x]]`: belongs to the feed table above it.
    FeedSub,
    /// Any other table.
    Other,
}

/// A top-level table header: `[name]` or `[[name]]`.
pub(super) struct HeaderLine<'a> {
    /// Byte offset of its first `[`.
    pub start: usize,
    /// `[[name]]`: one entry of an array of tables.
    pub array: bool,
    /// The dotted name as written, whitespace left out: `feed`, `feed.x`.
    pub name: String,
    /// The header's tokens, whitespace and comments left out.
    kinds: Vec<TokenKind>,
    /// Its first bare key.
    key: Option<&'a str>,
}

/// The table headers of `text` in file order: only a `[` that opens a line
/// outside any value starts one, so a `[[feed]]` line inside a multi-line
/// string or an array is not a header.
pub(super) fn headers(text: &str) -> Vec<HeaderLine<'_>> {
    let mut found = Vec::new();
    let mut tokens = Source::new(text).lex();
    // Only whitespace since the last newline outside any value.
    let mut line_start = true;
    // Brackets and braces open in a value (arrays, inline tables); newlines
    // inside them do not end the value.
    let mut depth = 0usize;
    while let Some(token) = tokens.next() {
        let kind = token.kind();
        if line_start && depth == 0 && kind == TokenKind::LeftSquareBracket {
            let start = token.span().start();
            let mut kinds = vec![kind];
            let mut key = None;
            let mut name = String::new();
            for t in tokens.by_ref() {
                let piece = &text[t.span().start()..t.span().end()];
                match t.kind() {
                    TokenKind::Newline | TokenKind::Eof => break,
                    TokenKind::Whitespace | TokenKind::Comment => {}
                    k => {
                        if k == TokenKind::Atom && key.is_none() {
                            key = Some(piece);
                        }
                        if !matches!(k, TokenKind::LeftSquareBracket | TokenKind::RightSquareBracket) {
                            name.push_str(piece);
                        }
                        kinds.push(k);
                    }
                }
            }
            let array = kinds.get(1) == Some(&TokenKind::LeftSquareBracket);
            found.push(HeaderLine {
                start,
                array,
                name,
                kinds,
                key,
            });
            line_start = true;
            continue;
        }
        match kind {
            TokenKind::Newline => line_start = depth == 0,
            TokenKind::Whitespace => {}
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                depth += 1;
                line_start = false;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.saturating_sub(1);
                line_start = false;
            }
            _ => line_start = false,
        }
    }
    found
}

/// Cuts `text`, or answers `None` when it has no `[[feed]]` table (nothing
/// to gain: the caller parses it whole).
pub(super) fn split(text: &str) -> Option<Split> {
    let mut feeds: Vec<Range<usize>> = Vec::new();
    // Start of the feed table being read, if any.
    let mut open: Option<usize> = None;
    let mut close = |open: &mut Option<usize>, end: usize| {
        if let Some(start) = open.take() {
            feeds.push(start..end);
        }
    };

    for h in headers(text) {
        use TokenKind::{Atom, Dot, LeftSquareBracket as L, RightSquareBracket as R};
        let header = match (h.kinds.as_slice(), h.key) {
            ([L, L, Atom, R, R], Some("feed")) => Header::Feed,
            ([L, L, Atom, Dot, ..] | [L, Atom, Dot, ..], Some("feed")) => Header::FeedSub,
            _ => Header::Other,
        };
        match header {
            Header::Feed => {
                close(&mut open, h.start);
                open = Some(h.start);
            }
            Header::FeedSub => {}
            Header::Other => close(&mut open, h.start),
        }
    }
    close(&mut open, text.len());
    if feeds.is_empty() {
        return None;
    }

    let mut rest = text.as_bytes().to_vec();
    for r in &feeds {
        rest[r.clone()].fill(b' ');
    }
    // Whole UTF-8 characters were replaced (every range starts at `[` and
    // ends at another `[` or the end), so the bytes are still UTF-8.
    let rest = String::from_utf8(rest).expect("blanked ranges end on character boundaries");
    Some(Split { rest, feeds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        split(text)
            .map(|s| s.feeds.iter().map(|r| &text[r.clone()]).collect())
            .unwrap_or_default()
    }

    #[test]
    fn cuts_feed_tables_at_the_next_other_header() {
        let text = "[poll]\ninterval = \"15m\"\n\n[[feed]]\nurl = \"https://a.example/\"\n\n\
                    [[feed]] # second\nurl = \"https://b.example/\"\n[feed.x]\ny = 1\n\
                    [[output]]\nname = \"o\"\n[[ feed ]]\nurl = \"https://ج.example/\"\n";
        assert_eq!(
            pieces(text),
            [
                "[[feed]]\nurl = \"https://a.example/\"\n\n",
                "[[feed]] # second\nurl = \"https://b.example/\"\n[feed.x]\ny = 1\n",
                "[[ feed ]]\nurl = \"https://ج.example/\"\n",
            ]
        );
        let s = split(text).unwrap();
        assert_eq!(s.rest.len(), text.len());
        assert!(s.rest.starts_with("[poll]\ninterval = \"15m\"\n\n   "));
        assert!(s.rest.contains("[[output]]\nname = \"o\"\n"));
        assert!(!s.rest.contains("feed"));
    }

    #[test]
    fn headers_inside_values_and_strings_do_not_cut() {
        let text = "[[feed]]\nurl = \"https://a.example/\"\nname = \"\"\"\n[[output]]\n[[feed]]\n\"\"\"\n\
                    tags = [\n[\"x\"],\n]\n[[output]]\nname = \"o\"\n";
        assert_eq!(
            pieces(text),
            ["[[feed]]\nurl = \"https://a.example/\"\nname = \"\"\"\n[[output]]\n[[feed]]\n\"\"\"\ntags = [\n[\"x\"],\n]\n"]
        );
    }

    #[test]
    fn no_feed_table_no_split() {
        assert!(split("[poll]\ninterval = \"15m\"\nfeed = []\n").is_none());
        assert!(split("[\"feed\"]\nurl = 1\n").is_none());
    }
}
