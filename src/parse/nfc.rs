//! The NFC quick check, made cheap for the text feeds are made of.
//!
//! Every title, summary and content is checked for NFC on its way into the
//! store ([`super::clean_text`]), and that check was a sixth of parsing a
//! document: `unicode_normalization::is_nfc_quick` looks up two properties
//! (combining class, NFC_QC) in hashed and searched tables for every
//! non-ASCII character, and an Arabic document is mostly non-ASCII. Nearly
//! all of those characters are *plain*: starters (combining class 0) whose
//! NFC_QC is Yes. A plain character affects the quick check exactly as an
//! ASCII letter does (the combining class seen last goes back to 0, the
//! answer stays Yes), so it is handed to the crate's check as `'a'`, after
//! one bit test in a table of the Basic Multilingual Plane built once from
//! the crate's own data. Every other character (combining marks such as
//! Arabic harakat, U+0653–U+0655, astral characters) goes to the crate as
//! it is. The answer is the crate's, for every string.

use std::sync::LazyLock;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{is_nfc_quick, IsNormalized};

/// One bit per BMP code point: set for plain characters (C1 controls
/// excepted, below).
struct Plain(Box<[u64; 1024]>);

static PLAIN: LazyLock<Plain> = LazyLock::new(|| {
    let mut bits = Box::new([0u64; 1024]);
    for cp in 0..=0xFFFFu32 {
        let Some(c) = char::from_u32(cp) else { continue };
        // C1 controls are left out: `clean_text` rewrites them (as
        // windows-1252), so text holding one must take the slow path.
        let c1 = ('\u{80}'..='\u{9F}').contains(&c);
        if !c1 && canonical_combining_class(c) == 0 && is_nfc_quick(std::iter::once(c)) == IsNormalized::Yes {
            bits[(cp >> 6) as usize] |= 1 << (cp & 63);
        }
    }
    Plain(bits)
});

impl Plain {
    fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        cp < 0x10000 && self.0[(cp >> 6) as usize] & (1 << (cp & 63)) != 0
    }
}

/// `is_nfc_quick` over `chars`, with plain characters answered by the table.
pub(crate) fn quick_check(chars: impl Iterator<Item = char>) -> IsNormalized {
    let plain = &*PLAIN;
    // ASCII stays ASCII; below U+0300 every character is a starter the
    // quick check passes (the crate's own data says so: see the test; the
    // table leaves out C1 controls for `clean_text`'s sake only), which
    // spares most Latin text the table lookup.
    is_nfc_quick(chars.map(|c| {
        if c < '\u{300}' || plain.contains(c) {
            'a'
        } else {
            c
        }
    }))
}

/// One pass over `s` for both of [`super::clean_text`]'s checks: `None`
/// when some character is not plain (a C1 control is not), or is one of
/// the non-characters U+FFFE/U+FFFF, which XML forbids (the text then goes to
/// [`quick_check`]); otherwise the text is in NFC (the quick check says
/// Yes), and `Some(legal)` says whether its ASCII is all legal in XML (no
/// C0 control other than tab, newline and carriage return), the only
/// characters of plain text that can be illegal.
///
/// Read a byte at a time without decoding characters, and ASCII eight
/// bytes at a time: this is what nearly all feed text is, Arabic included,
/// and the check runs over every content's sanitised HTML. (It was three
/// passes: `is_ascii`, the plain scan, then the control-character scan.)
/// The eight-byte step is tried only where an ASCII byte starts: in Arabic
/// text, where most characters are two bytes, trying it at every character
/// cost as much as the character's own check. A two-byte character is its
/// lead byte's word of the table and its continuation byte's bit (the code
/// point's bits, split as UTF-8 splits them), with no range test: every
/// two-byte character is below U+FFFE, and those below U+0300 are plain
/// in the table.
pub(crate) fn scan(s: &str) -> Option<bool> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let plain = &*PLAIN;
    let b = s.as_bytes();
    let mut legal = true;
    let mut i = 0;
    while let Some(&lead) = b.get(i) {
        match lead {
            0..=0x7F => {
                if let Some(word) = b.get(i..i + 8) {
                    let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                    // No high bit: eight ASCII bytes. Then a byte below 0x20
                    // sets its high bit in `w - SPACES` (a borrow can only
                    // add false alarms above a true one, which the byte
                    // path below settles).
                    if w & HIGH == 0 && w.wrapping_sub(SPACES) & HIGH == 0 {
                        i += 8;
                        continue;
                    }
                }
                legal &= lead >= b' ' || matches!(lead, b'\t' | b'\n' | b'\r');
                i += 1;
            }
            // `s` is valid UTF-8, so the continuation bytes are there.
            0xC0..=0xDF => {
                let word = plain.0[usize::from(lead & 0x1F)];
                if word & (1 << (b[i + 1] & 0x3F)) == 0 {
                    return None;
                }
                i += 2;
            }
            0xE0..=0xEF => {
                let cp = (u32::from(lead & 0x0F) << 12)
                    | (u32::from(b[i + 1] & 0x3F) << 6)
                    | u32::from(b[i + 2] & 0x3F);
                if cp >= 0xFFFE || plain.0[(cp >> 6) as usize] & (1 << (cp & 63)) == 0 {
                    return None;
                }
                i += 3;
            }
            _ => return None,
        }
    }
    Some(legal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn below_u0300_every_character_but_c1_controls_is_plain() {
        for cp in 0..0x300u32 {
            let c = char::from_u32(cp).unwrap();
            let c1 = (0x80..=0x9F).contains(&cp);
            assert_eq!(PLAIN.contains(c), !c1, "U+{cp:04X}");
            assert_eq!(canonical_combining_class(c), 0, "U+{cp:04X}");
            assert_eq!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes, "U+{cp:04X}");
        }
    }

    #[test]
    fn arabic_letters_are_plain_and_marks_are_not() {
        for c in "ابتثجحخدذرزسشصضطظعغفقكلمنهوي ءآأؤإئة،؛؟٠١٢٣٤٥٦٧٨٩".chars()
        {
            assert!(PLAIN.contains(c), "{c:?}");
        }
        // Harakat (combining class > 0), madda and hamza above/below (NFC_QC Maybe).
        for c in [
            '\u{064B}', '\u{064E}', '\u{0651}', '\u{0652}', '\u{0653}', '\u{0654}', '\u{0655}',
        ] {
            assert!(!PLAIN.contains(c), "{c:?}");
        }
    }

    #[test]
    fn same_answer_as_the_crate_on_arabic_shapes() {
        for s in [
            "السلام عليكم",
            "أيضاً",                             // tanween after alef: in order
            "\u{0627}\u{0654}\u{0645}\u{0629}", // alef + hamza above: Maybe
            "\u{0628}\u{0651}\u{064E}",         // shadda (33) then fatha (30): out of order
            "\u{0628}\u{064E}\u{0651}",         // in order
            "e\u{301}",                         // Latin, combining acute: Maybe
            "\u{0340}",                         // NFC_QC No
            "emoji 🗞️ and 𝒜",
            "\u{FFFF}\u{FFFE}",
        ] {
            assert_eq!(quick_check(s.chars()), is_nfc_quick(s.chars()), "{s:?}");
        }
    }

    proptest! {
        /// Any text, weighted to Arabic letters, marks and Latin combining
        /// sequences: the table never changes the crate's answer.
        #[test]
        fn same_answer_as_the_crate(s in "[\\u{0}-\\u{7f}\\u{0600}-\\u{06FF}\\u{0300}-\\u{036F}\\u{00A0}-\\u{024F}\\u{FB50}-\\u{FEFF}\\u{1F300}-\\u{1F5FF}\\u{AC00}-\\u{AC10}\\u{1100}-\\u{1112}\\u{1161}-\\u{1175}]{0,40}") {
            prop_assert_eq!(quick_check(s.chars()), is_nfc_quick(s.chars()));
        }

        #[test]
        fn same_answer_as_the_crate_any_text(s in any::<String>()) {
            prop_assert_eq!(quick_check(s.chars()), is_nfc_quick(s.chars()));
        }

        /// The byte-level scan agrees with the table read a character at a
        /// time and with a per-byte control-character check, and what it
        /// passes is NFC by the crate's own check. Controls and runs of
        /// ASCII longer than a word are weighted in, for the eight-byte path.
        #[test]
        fn scan_is_the_table_and_the_control_check_per_character(s in prop_oneof![
            any::<String>(),
            "[\\u{0}-\\u{7f}\\u{0600}-\\u{06FF}\\u{0300}-\\u{036F}\\u{00A0}-\\u{024F}\\u{0800}-\\u{0FFF}\\u{FB50}-\\u{FFFF}\\u{1F300}-\\u{1F310}]{0,40}",
            "([ -~]{0,20}[\\u{0}-\\u{1f}\\u{7f}-\\u{a0}]?[ -~]{0,12}[\\u{0621}-\\u{064A}\\u{0651}\\u{FFFE}]?){0,6}",
        ]) {
            let per_char = s.chars().all(|c| c < '\u{FFFE}' && PLAIN.contains(c));
            let legal = s.bytes().all(|b| b >= b' ' || matches!(b, b'\t' | b'\n' | b'\r'));
            prop_assert_eq!(scan(&s), per_char.then_some(legal), "{:?}", s);
            if per_char {
                prop_assert_eq!(is_nfc_quick(s.chars()), IsNormalized::Yes);
            }
        }
    }
}
