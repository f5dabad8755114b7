//! Which charset a document is in: BOM, HTTP `charset`, XML declaration,
//! and, when those are missing or do not fit the bytes, detection.
//!
//! Charsets are encoding_rs's (the WHATWG Encoding Standard's), plus the
//! ones feedparser reads that it leaves out, when a label or a byte order
//! mark names them: the IBM/DOS code pages (IBM864 for Arabic) and UTF-32
//! ([`Other`]).
//!
//! feed-rs decodes by the XML declaration only, so whenever our decision
//! differs from what the declaration says, the document is handed on
//! transcoded to UTF-8 with its declaration rewritten.

use std::borrow::Cow;

use encoding_rs::Encoding;

/// Any XML document (OPML, say) as text, decoded by the same rules as feeds:
/// BOM, declaration, then detection.
pub fn decode_xml_text(body: &[u8]) -> String {
    let decoded = decode(body, None);
    let utf8 = match decoded.bytes {
        // Transcoded already.
        Cow::Owned(bytes) => bytes,
        // Borrowed only when the bytes are UTF-8 and say so.
        Cow::Borrowed(bytes) => transcode(bytes, encoding_rs::UTF_8),
    };
    String::from_utf8_lossy(&utf8).into_owned()
}

/// The document after charset decisions: bytes feed-rs will read correctly.
pub(crate) struct Decoded<'a> {
    pub(crate) bytes: Cow<'a, [u8]>,
    /// The charset the document was read in (`UTF-8`, `windows-1256`,
    /// `IBM864`), for the feed's status.
    pub(crate) charset: &'static str,
}

/// Charsets outside the WHATWG Encoding Standard (so outside encoding_rs)
/// that feeds declare and feedparser, with Python's codecs, reads: the
/// IBM/DOS code pages and UTF-32. Only ever taken from a label or a byte
/// order mark, never detected.
#[derive(Clone, Copy)]
enum Other {
    Dos(&'static dyn yore::CodePage, &'static str),
    Utf32 { big_endian: bool },
}

impl Other {
    fn name(self) -> &'static str {
        match self {
            Other::Dos(_, name) => name,
            Other::Utf32 { big_endian: true } => "UTF-32BE",
            Other::Utf32 { big_endian: false } => "UTF-32LE",
        }
    }

    fn decode(self, body: &[u8]) -> String {
        match self {
            Other::Dos(page, "IBM864") => ibm864_text(&page.decode_lossy(body)),
            Other::Dos(page, _) => page.decode_lossy(body).into_owned(),
            Other::Utf32 { big_endian } => body
                .chunks(4)
                .map(|c| {
                    let mut b = [0u8; 4];
                    b[..c.len()].copy_from_slice(c);
                    let n = if big_endian {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    };
                    char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
        }
    }

    /// The charset a label names among these (`ibm864`, `cp437`, `850`,
    /// `cspc8codepage437`, `utf-32le`...: Python's aliases).
    fn for_label(label: &str) -> Option<Other> {
        use yore::code_pages::*;
        let label = label.trim().to_ascii_lowercase().replace('_', "-");
        let number = label
            .strip_prefix("csibm")
            .or_else(|| label.strip_prefix("ibm"))
            .or_else(|| label.strip_prefix("cp"))
            .unwrap_or(&label);
        let dos = |page: &'static dyn yore::CodePage, name| Some(Other::Dos(page, name));
        match number {
            "437" | "cspc8codepage437" => dos(&CP437, "IBM437"),
            "737" => dos(&CP737, "IBM737"),
            "850" | "cspc850multilingual" => dos(&CP850, "IBM850"),
            "852" | "cspcp852" => dos(&CP852, "IBM852"),
            "855" => dos(&CP855, "IBM855"),
            "857" => dos(&CP857, "IBM857"),
            "860" => dos(&CP860, "IBM860"),
            "861" | "-is" => dos(&CP861, "IBM861"),
            "862" | "cspc862latinhebrew" => dos(&CP862, "IBM862"),
            "863" => dos(&CP863, "IBM863"),
            "864" => dos(&CP864, "IBM864"),
            "865" => dos(&CP865, "IBM865"),
            "869" | "-gr" => dos(&CP869, "IBM869"),
            _ => match label.as_str() {
                "utf-32be" => Some(Other::Utf32 { big_endian: true }),
                "utf-32le" => Some(Other::Utf32 { big_endian: false }),
                _ => None,
            },
        }
    }
}

/// Text decoded from IBM864 as Arabic is written today. The code page
/// spells letters as presentation forms (one code point per letter shape:
/// `ﻡﺹﺭ`), which no keyword, reader search or story word matches; they
/// become the letters they show (`مصر`, the lam-alef ligature two letters).
/// And it puts the Arabic percent sign (U+066A) on byte 0x25, where every
/// other charset has `%`: in a feed that byte is markup and URL escapes
/// (`%D8%B3`), so it stays `%`.
fn ibm864_text(decoded: &str) -> String {
    let mut out = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        match c {
            '\u{066A}' => out.push('%'),
            '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}' => {
                unicode_normalization::char::decompose_compatible(c, |d| out.push(d))
            }
            c => out.push(c),
        }
    }
    out
}

/// UTF-32 by its byte order mark, or by the shape of `<` in its first four
/// bytes. Asked before UTF-16's mark, which is the first half of UTF-32LE's.
fn utf32(body: &[u8]) -> Option<Other> {
    match body {
        [0, 0, 0xFE, 0xFF, ..] | [0, 0, 0, b'<', ..] => Some(Other::Utf32 { big_endian: true }),
        [0xFF, 0xFE, 0, 0, ..] | [b'<', 0, 0, 0, ..] => Some(Other::Utf32 { big_endian: false }),
        _ => None,
    }
}

/// The document read in `other`, as UTF-8 with its declaration rewritten.
fn transcoded_other<'a>(body: &[u8], other: Other) -> Decoded<'a> {
    Decoded {
        bytes: Cow::Owned(rewrite(&other.decode(body))),
        charset: other.name(),
    }
}

/// Settles the charset: BOM first, then the HTTP charset, then the XML
/// declaration. A label that does not fit the bytes is overruled: valid
/// multi-byte UTF-8 labelled as a legacy charset is UTF-8, and bytes that are
/// not valid in the labelled charset are detected among the legacy charsets
/// Arab outlets use. Whenever the result differs from what the declaration
/// says, the document is transcoded to UTF-8 and its declaration rewritten,
/// since feed-rs offers no way to pass an external charset.
pub(crate) fn decode<'a>(body: &'a [u8], http_charset: Option<&str>) -> Decoded<'a> {
    if let Some(other) = utf32(body) {
        return transcoded_other(body, other);
    }
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return transcoded(body, enc);
    }
    // UTF-16 without a BOM still shows the shape of `<?` in its first bytes.
    match body {
        [0, b'<', 0, b'?', ..] => return transcoded(body, encoding_rs::UTF_16BE),
        [b'<', 0, b'?', 0, ..] => return transcoded(body, encoding_rs::UTF_16LE),
        _ => {}
    }
    let raw_declared = xml_declared_encoding(body);
    let declared = raw_declared.as_deref().and_then(encoding_for);
    let http = http_charset.and_then(encoding_for);
    // A declaration readable as ASCII cannot be UTF-16 (that was handled
    // above), whatever it says.
    let declared = declared.filter(|e| *e != encoding_rs::UTF_16BE && *e != encoding_rs::UTF_16LE);
    // The whole document, every time: with SIMD (most feeds are UTF-8 and
    // an Arabic one is mostly multi-byte, where std's check goes a character
    // at a time).
    let utf8_ok = simdutf8::basic::from_utf8(body).is_ok();
    // A DOS code page, named where encoding_rs knows no charset; as for a
    // single-byte label, bytes that are valid UTF-8 are UTF-8.
    let other = match http_charset {
        Some(l) if http.is_none() => Other::for_label(l),
        Some(_) => None,
        None => raw_declared
            .as_deref()
            .filter(|_| declared.is_none())
            .and_then(Other::for_label),
    };
    if let Some(other @ Other::Dos(..)) = other {
        if !utf8_ok || body.is_ascii() {
            return transcoded_other(body, other);
        }
    }
    let label = http.or(declared).unwrap_or(encoding_rs::UTF_8);

    let enc = if label == encoding_rs::UTF_8 {
        if utf8_ok || mostly_utf8(body) {
            // A stray bad byte in a UTF-8 feed costs that byte (replaced by
            // U+FFFD), not every Arabic letter around it.
            encoding_rs::UTF_8
        } else {
            detect_legacy(body)
        }
    } else if utf8_ok && !body.is_ascii() && label.is_single_byte() {
        // Random legacy-charset text is almost never valid UTF-8.
        encoding_rs::UTF_8
    } else if label
        .decode_without_bom_handling_and_without_replacement(body)
        .is_some()
    {
        label
    } else {
        detect_legacy(body)
    };
    // feed-rs gets the raw bytes only when they are UTF-8 and the declaration
    // (if any) says so; anything else is transcoded here, so its XML reader
    // never has to act on a declaration itself.
    let declaration_says_utf8 = raw_declared.is_none() || declared == Some(encoding_rs::UTF_8);
    if enc == encoding_rs::UTF_8 && declaration_says_utf8 && utf8_ok && !has_late_declaration(body) {
        Decoded {
            bytes: Cow::Borrowed(body),
            charset: enc.name(),
        }
    } else {
        transcoded(body, enc)
    }
}

/// The name of the charset a label names, as the feed status gives it
/// (`windows-1256`, `IBM864`, `UTF-32LE`), or `None` for a label we cannot
/// read.
pub fn charset_name(label: &str) -> Option<&'static str> {
    encoding_for(label)
        .map(Encoding::name)
        .or_else(|| Other::for_label(label).map(Other::name))
}

/// The encoding a charset label names, accepting the spellings found in
/// feeds beside the WHATWG ones (`windows_1256`, `ms-arab`, `macroman`...).
fn encoding_for(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().to_ascii_lowercase();
    if let Some(e) = Encoding::for_label(label.as_bytes()) {
        return Some(e);
    }
    let dashed = label.replace('_', "-");
    if let Some(e) = Encoding::for_label(dashed.as_bytes()) {
        return Some(e);
    }
    let alias = match dashed.as_str() {
        "ms-arab" | "cp-1256" | "arabic" => "windows-1256",
        "ms-cyrl" => "windows-1251",
        "ms-ee" => "windows-1250",
        "ms-greek" => "windows-1253",
        "ms-turk" => "windows-1254",
        "ms-hebr" => "windows-1255",
        "ms-ansi" => "windows-1252",
        "mac-cyrillic" | "maccyrillic" => "x-mac-cyrillic",
        "macroman" | "mac-roman" => "macintosh",
        _ => return None,
    };
    Encoding::for_label(alias.as_bytes())
}

fn transcoded<'a>(body: &[u8], enc: &'static Encoding) -> Decoded<'a> {
    Decoded {
        bytes: Cow::Owned(transcode(body, enc)),
        charset: enc.name(),
    }
}

/// True when `body` is UTF-8 with a few bad bytes rather than a legacy
/// charset: valid multi-byte characters far outnumber invalid sequences
/// (legacy text almost never forms valid UTF-8 sequences by chance).
fn mostly_utf8(body: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut rest = body;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                valid += s.chars().filter(|c| !c.is_ascii()).count();
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                valid += std::str::from_utf8(good).map_or(0, |s| s.chars().filter(|c| !c.is_ascii()).count());
                invalid += 1;
                rest = &bad[e.error_len().unwrap_or(bad.len()).max(1).min(bad.len())..];
                if rest.is_empty() {
                    break;
                }
            }
        }
    }
    valid > invalid * 4
}

/// Picks the legacy charset of a document whose label is missing or does
/// not fit its bytes, on evidence: chardetng (Firefox's detector for
/// unlabelled legacy web content) scores every legacy charset by the byte
/// and letter-pair frequencies of each script, so undeclared Latin-1 /
/// windows-1252 text (Portuguese, French, German) is no longer read as
/// Arabic, and Cyrillic, Greek, Hebrew or CJK documents get their own
/// charset. Between the two Arabic charsets, which chardetng scores close
/// together, the one under which more of the bytes are Arabic letters wins:
/// ISO-8859-6 puts letters where windows-1256 has Latin ones.
fn detect_legacy(body: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    if guess != encoding_rs::WINDOWS_1256 && guess != encoding_rs::ISO_8859_6 {
        return guess;
    }
    let arabic = |t: &str| {
        t.chars()
            .filter(|c| ('\u{0621}'..='\u{064A}').contains(c))
            .count()
    };
    let (as_1256, _) = encoding_rs::WINDOWS_1256.decode_without_bom_handling(body);
    let ar_1256 = arabic(&as_1256);
    match encoding_rs::ISO_8859_6.decode_without_bom_handling_and_without_replacement(body) {
        Some(t) if arabic(&t) > ar_1256 => encoding_rs::ISO_8859_6,
        _ => encoding_rs::WINDOWS_1256,
    }
}

/// Decodes `body` as `enc` (a BOM wins, as the XML spec says) and returns
/// UTF-8 bytes with the declaration rewritten to say so.
fn transcode(body: &[u8], enc: &'static Encoding) -> Vec<u8> {
    let (text, _, _) = enc.decode(body);
    rewrite(&text)
}

/// Decoded text as UTF-8 bytes, its XML declaration saying so and any other
/// declaration in it removed.
fn rewrite(text: &str) -> Vec<u8> {
    let text = text.trim_start_matches('\u{FEFF}');
    let mut out = String::with_capacity(text.len() + 40);
    match text
        .trim_start()
        .strip_prefix("<?xml")
        .and_then(|r| r.find("?>").map(|i| &r[i + 2..]))
    {
        Some(rest) => {
            out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
            push_without_declarations(&mut out, rest);
        }
        None => push_without_declarations(&mut out, text),
    }
    out.into_bytes()
}

/// True for `<?xml ` anywhere past the document's start: a second
/// declaration (concatenated templates) makes feed-rs's XML reader switch
/// encodings mid-document, which quick-xml refuses with a panic.
fn has_late_declaration(body: &[u8]) -> bool {
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0) + 1;
    body.get(start..).is_some_and(|rest| {
        memchr::memmem::find_iter(rest, b"<?xml")
            .any(|i| rest.get(i + 5).is_some_and(u8::is_ascii_whitespace))
    })
}

/// Appends `text` without any `<?xml ...?>` declaration in it (other
/// processing instructions such as `<?xml-stylesheet?>` stay).
fn push_without_declarations(out: &mut String, mut text: &str) {
    loop {
        let found = text
            .match_indices("<?xml")
            .find(|(i, _)| text[i + 5..].chars().next().is_some_and(char::is_whitespace));
        match found.and_then(|(i, _)| text[i..].find("?>").map(|end| (i, i + end + 2))) {
            Some((start, end)) => {
                out.push_str(&text[..start]);
                text = &text[end..];
            }
            None => {
                out.push_str(text);
                return;
            }
        }
    }
}

/// The `encoding="..."` of an XML declaration, if the document starts with
/// one. Declarations are ASCII in every charset we care about but UTF-16,
/// which always carries a BOM and is handled before this.
fn xml_declared_encoding(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &body[start..body.len().min(start + 200)];
    let head = std::str::from_utf8(&head[..head.iter().position(|&b| b == b'>')? + 1]).ok()?;
    let decl = head.strip_prefix("<?xml")?;
    let idx = decl.find("encoding")?;
    let rest = decl[idx + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}
