//! `feedwire::parse::decode_xml_text`: any bytes decode without panicking
//! (the result is a `String`, so valid UTF-8 by construction), and UTF-8
//! text without a BOM or XML declaration comes back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = feedwire::parse::decode_xml_text(data);
    if let Ok(s) = std::str::from_utf8(data) {
        if !s.starts_with('\u{FEFF}') && !s.trim_start().starts_with("<?xml") {
            assert_eq!(text, s, "plain UTF-8 must pass through unchanged");
        }
    }
});
