//! `parse_feed` on any bytes, with a `Content-Type` chosen by the first
//! byte: never panics, and when the bytes are a feed, the items render as
//! RSS, Atom and JSON Feed, the RSS and Atom documents parse back with
//! feed-rs with one entry per item, and the JSON Feed is valid JSON.
//!
//! The same bytes also go through the parse recovery layer on its own
//! (`parse::recover::recover`, the repair pass `parse_feed` runs when strict
//! parsing fails): its output must be well-formed XML (quick-xml reads it to
//! the end with every element closed and one root at most) and stay within a
//! constant factor of the input, so that a hostile document cannot make the
//! repair expensive.
//!
//! One panic is already reported (`parse::tests::later_xml_declaration_does_not_panic`:
//! feed-rs/quick-xml panic on a later XML declaration naming another
//! encoding). It is caught and skipped so that a run explores further
//! instead of stopping on it; set `FEEDWIRE_FUZZ_KNOWN_BUGS=1` to crash on it
//! too (see `fuzz/README.md`). Any other panic still aborts.

#![no_main]

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use feedwire::config::OutputConfig;
use feedwire::generate::{render_atom, render_json, render_rss, OutputMeta};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use libfuzzer_sys::fuzz_target;
use url::Url;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("text/xml; charset=windows-1256"),
    Some("application/rss+xml; charset=iso-8859-6"),
    Some("text/xml; charset=utf-8"),
    Some("application/xml; charset=utf-16"),
    Some("application/atom+xml; charset=\"UTF-16LE\""),
    Some("text/xml; charset=ISO-8859-1"),
    Some("application/feed+json; charset=utf-8"),
    Some("text/xml; charset=bogus"),
];

struct Fixed {
    feed_url: Url,
    base_url: Url,
    output: OutputConfig,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| Fixed {
        feed_url: Url::parse("https://feeds.example/news/rss.xml").unwrap(),
        base_url: Url::parse("https://news.example/").unwrap(),
        output: OutputConfig {
            name: "politics".into(),
            title: "سياسة".into(),
            description: "كل الأخبار".into(),
            language: Some("ar".into()),
            max_items: 50,
            tags: vec![],
            categories: vec![],
            keywords: vec![],
            exclude_keywords: vec![],
            languages: vec![],
            strip: vec![r"(?i)read more".into()],
            file: None,
            hubs: vec![Url::parse("https://hub.example/").unwrap()],
            ..Default::default()
        },
    })
}

/// The message of the known quick-xml panic.
const KNOWN_PANIC: &str = "set_encoding() called after prefix buffer was drained";

fn skip_known_bugs() -> bool {
    static SKIP: OnceLock<bool> = OnceLock::new();
    *SKIP.get_or_init(|| {
        let skip = std::env::var_os("FEEDWIRE_FUZZ_KNOWN_BUGS").is_none_or(|v| v != "1");
        if skip {
            // libFuzzer's hook aborts on any panic; let the known one unwind
            // to the `catch_unwind` below instead.
            let abort = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                let msg = info
                    .payload()
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| info.payload().downcast_ref::<&str>().copied())
                    .unwrap_or("");
                if !msg.starts_with(KNOWN_PANIC) {
                    abort(info);
                }
            }));
        }
        skip
    })
}

/// The repair pass's promises on any input.
fn check_recover(body: &[u8]) {
    let r = feedwire::parse::recover::recover(body);
    // `&` becomes `&amp;` (5 bytes), `"` in an attribute `&quot;` (6), and
    // each open element gets an end tag no longer than its start tag.
    assert!(
        r.xml.len() <= 8 * body.len() + 64,
        "repair output of {} bytes from {} input bytes",
        r.xml.len(),
        body.len()
    );
    let mut reader = quick_xml::Reader::from_str(&r.xml);
    let (mut depth, mut roots) = (0usize, 0usize);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(quick_xml::events::Event::Empty(_)) => roots += usize::from(depth == 0),
            Ok(quick_xml::events::Event::End(_)) => {
                depth = depth.checked_sub(1).expect("end tag with nothing open")
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("repair output is not well-formed: {e}\n{}", r.xml),
        }
    }
    assert_eq!(depth, 0, "elements left open:\n{}", r.xml);
    assert!(roots <= 1, "{roots} roots:\n{}", r.xml);
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    check_recover(body);
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    let f = fixed();
    let now = Utc.timestamp_opt(1_764_000_000, 0).unwrap();
    let feed = FeedRef {
        url: &f.feed_url,
        name: "fuzz",
    };
    let parse = || parse_feed(feed, body, content_type, now, Limits { max_items: 50 });
    let parsed = if skip_known_bugs() {
        match panic::catch_unwind(AssertUnwindSafe(parse)) {
            Ok(parsed) => parsed,
            // Only the known panic gets here: the hook aborts on any other.
            Err(_) => return,
        }
    } else {
        parse()
    };
    let Ok(parsed) = parsed else {
        return;
    };
    let meta = OutputMeta::new(&f.output, &f.base_url);
    let items = &parsed.items;
    for (format, doc) in [
        ("RSS", render_rss(&meta, items)),
        ("Atom", render_atom(&meta, items)),
    ] {
        let back = feed_rs::parser::parse(&doc[..]).unwrap_or_else(|e| {
            panic!(
                "{format} output does not parse back: {e}\n{}",
                String::from_utf8_lossy(&doc)
            )
        });
        assert_eq!(back.entries.len(), items.len(), "{format} entries");
    }
    let json = render_json(&meta, items);
    serde_json::from_slice::<serde_json::Value>(&json).expect("JSON Feed output is JSON");
});
