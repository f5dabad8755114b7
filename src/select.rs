//! Which items an output publishes: its `categories`, `keywords`,
//! `exclude_keywords` and `languages` rules, compiled once into [`Rules`].
//! (The `tags` rule picks feeds, not items, and lives in `config`.)
//!
//! Pure: no I/O, no state, never panics. Matching always works on a
//! normalised copy of the text; the item itself is never changed.
//!
//! # Normalisation ([`normalize`])
//!
//! In this order:
//!
//! 1. Case folding with [`str::to_lowercase`] (full Unicode lower-casing, not
//!    the case-folding tables; the two differ only on rare letters such as
//!    `ß`, which stays `ß`).
//! 2. NFC, so composed and decomposed spellings agree (`é` vs `e` + U+0301,
//!    `أ` vs `ا` + U+0654).
//! 3. Per character:
//!    - removed: tashkeel U+064B–U+065F, superscript alef U+0670, Quranic
//!      marks U+06D6–U+06ED, tatweel U+0640;
//!    - removed: invisible characters that sit inside words, so they do not
//!      split them: soft hyphen U+00AD, Arabic letter mark U+061C, ZWNJ/ZWJ
//!      U+200C/U+200D, LRM/RLM U+200E/U+200F, word joiner U+2060, BOM U+FEFF,
//!      and the combining dot U+0307 after `i`/`j` (what lower-casing `İ`
//!      leaves, so "İstanbul" matches "Istanbul");
//!    - `أ` `إ` `آ` `ٱ` → `ا`; `ى` → `ي`; `ة` → `ه`;
//!    - Arabic-Indic digits `٠`–`٩` (U+0660–U+0669) and Persian digits
//!      `۰`–`۹` (U+06F0–U+06F9) → `0`–`9`.
//!
//! Latin accents are kept ("Erdoğan" does not match "Erdogan") and Persian
//! letter variants (`ی`, `ک`) are not mapped.
//!
//! # Words ([`words`])
//!
//! A word is a maximal run of Unicode alphanumeric characters of the
//! normalised text; everything else (spaces, `،` `؛` `؟`, Latin punctuation,
//! apostrophes, hyphens, ZWSP) separates words. So "Iran's" gives `iran`, `s`
//! and "Al-Aqsa" gives `al`, `aqsa`.
//!
//! A word also has *prefix forms*: the word with a leading attached prefix
//! removed, for every prefix of the shape
//! `(و|ف)? (ب|ك|ل)? (ال)?`, where `ل` + `ال` is written `لل`. A prefix is
//! removed only when at least [`MIN_STEM`] (3) characters remain, so `ولد`
//! never yields `لد` and `الله` never yields `له`. Examples:
//!
//! | word | forms |
//! | --- | --- |
//! | `والانتخابات` | `والانتخابات`, `الانتخابات`, `انتخابات` |
//! | `بالبرلمان` | `بالبرلمان`, `البرلمان`, `برلمان` |
//! | `للانتخابات` | `للانتخابات`, `لانتخابات`, `انتخابات` |
//! | `وبالانتخابات` | `وبالانتخابات`, `بالانتخابات`, `الانتخابات`, `انتخابات` |
//!
//! Light stemming of this kind has known false positives (a root letter
//! taken for a prefix: `وحدة` also yields `حده`); the minimum stem keeps
//! them to longer words. Nothing else is stemmed: no suffixes, no English
//! plurals.
//!
//! # Keywords and categories
//!
//! A configured keyword or category is normalised and split into words the
//! same way, but each of its words only gets one extra form: without a
//! leading `ال`. Write keywords in their base form, with or without the
//! article ("انتخابات" or "الانتخابات"), not with `و`/`ب`/`ل`... attached.
//! Stripping those from keywords too would turn "كابل" (Kabul) into `ابل`
//! (camels) and "والي" (governor) into `الي` (= "إلى", "to").
//!
//! Two words *match* when a form of one equals a form of the other.
//!
//! - A keyword of n words matches n consecutive matching words of the
//!   title, or of the summary (never across the two). It is a whole-word
//!   match: "war" matches "war" and "War," but not "award" or "wars";
//!   "Iran" matches "Iran's" but not "Iranian".
//! - A category matches an item category with the same number of words,
//!   each matching ("السياسة" = "سياسة", "Politics" = "politics"; "World
//!   Politics" ≠ "Politics").
//!
//! The summary is sanitised HTML: tags are removed for matching (each tag
//! counts as a word break, so `<p>a</p><p>b</p>` gives two words; a tag
//! inside a word splits it) and entities decoded.
//!
//! A keyword or category with no words at all (empty, or only punctuation)
//! can never match and is dropped by [`Rules::new`]; config validation
//! should reject it (test with `words(k).is_empty()`).

use unicode_normalization::UnicodeNormalization;

use crate::item::Item;

/// Fewest characters an Arabic prefix may leave behind.
pub const MIN_STEM: usize = 3;

/// Attached prefixes: `(و|ف)? (ب|ك|ل)? (ال)?`, with `ل` + `ال` written
/// `لل`. Normalised text only, so `ا` stands for every alef.
const PREFIXES: [&str; 23] = [
    "و", "ف", "ب", "ك", "ل", "ال", "بال", "كال", "لل", //
    "وب", "وك", "ول", "وال", "وبال", "وكال", "ولل", //
    "فب", "فك", "فل", "فال", "فبال", "فكال", "فلل",
];

/// Normalised copy of text for matching (never published). See the module
/// documentation for the exact steps.
pub fn normalize(text: &str) -> String {
    // Compose, drop, compose again: composition first keeps decomposed
    // hamza forms (ي + U+0654 = ئ), and a character dropped between a letter
    // and its combining mark must not leave the pair uncomposed.
    let lower: String = text
        .to_lowercase()
        .nfc()
        .filter(|c| fold_char(*c).is_some())
        .collect();
    let mut out = String::with_capacity(lower.len());
    let mut prev = None;
    for c in lower.nfc() {
        if c == '\u{0307}' && matches!(prev, Some('i' | 'j')) {
            continue;
        }
        if let Some(m) = fold_char(c) {
            out.push(m);
            prev = Some(m);
        }
    }
    out
}

/// The per-character step of [`normalize`]: `None` drops the character.
fn fold_char(c: char) -> Option<char> {
    match c {
        // Tashkeel, superscript alef, Quranic marks, tatweel.
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}' => None,
        // Invisible characters found inside words.
        '\u{00AD}' | '\u{061C}' | '\u{200C}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' => None,
        'أ' | 'إ' | 'آ' | 'ٱ' => Some('ا'),
        'ى' => Some('ي'),
        'ة' => Some('ه'),
        '\u{0660}'..='\u{0669}' => char::from_digit(c as u32 - 0x0660, 10),
        '\u{06F0}'..='\u{06F9}' => char::from_digit(c as u32 - 0x06F0, 10),
        _ => Some(c),
    }
}

/// Words of normalised text, in order; each word is followed by its Arabic
/// prefix forms (see the module documentation), so the result may hold more
/// entries than the text has words.
pub fn words(text: &str) -> Vec<String> {
    text_words(text).into_iter().flatten().collect()
}

/// The words of `text`, each as its list of forms (the word itself first).
fn text_words(text: &str) -> Vec<Vec<String>> {
    split(&normalize(text)).map(word_forms).collect()
}

fn split(normalized: &str) -> impl Iterator<Item = &str> {
    normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// A word of the text and the forms left by removing an attached prefix.
fn word_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_owned()];
    if !word.starts_with(['و', 'ف', 'ب', 'ك', 'ل', 'ا']) {
        return forms;
    }
    for prefix in PREFIXES {
        if let Some(stem) = word.strip_prefix(prefix) {
            if stem.chars().count() >= MIN_STEM && !forms.iter().any(|f| f == stem) {
                forms.push(stem.to_owned());
            }
        }
    }
    forms
}

/// A word of a keyword or category: itself and, if it has one, itself
/// without the article.
fn rule_word_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_owned()];
    if let Some(stem) = word.strip_prefix("ال") {
        if stem.chars().count() >= MIN_STEM {
            forms.push(stem.to_owned());
        }
    }
    forms
}

/// True when some form of one word equals some form of the other.
fn same_word(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.contains(x))
}

/// A compiled keyword or category: its words, each with its forms.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Phrase(Vec<Vec<String>>);

impl Phrase {
    /// `None` when the text has no words.
    fn new(text: &str) -> Option<Phrase> {
        let words: Vec<Vec<String>> = split(&normalize(text)).map(rule_word_forms).collect();
        (!words.is_empty()).then_some(Phrase(words))
    }

    /// Occurs as consecutive words of `text`.
    fn found_in(&self, text: &[Vec<String>]) -> bool {
        text.windows(self.0.len())
            .any(|window| window.iter().zip(&self.0).all(|(w, k)| same_word(w, k)))
    }

    /// Is the whole of `text`, word for word.
    fn equals(&self, text: &[Vec<String>]) -> bool {
        text.len() == self.0.len() && self.found_in(text)
    }
}

/// Compiled selection rules of one output. An empty rule list means no
/// constraint; an item passes when it passes every non-empty one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    categories: Vec<Phrase>,
    keywords: Vec<Phrase>,
    exclude_keywords: Vec<Phrase>,
    /// Primary language subtags, ASCII lower-case.
    languages: Vec<String>,
}

impl Rules {
    /// Compiles the rules. Keywords and categories without words and blank
    /// languages are dropped (see the module documentation).
    pub fn new(
        categories: &[String],
        keywords: &[String],
        exclude_keywords: &[String],
        languages: &[String],
    ) -> Rules {
        let phrases = |list: &[String]| list.iter().filter_map(|s| Phrase::new(s)).collect();
        Rules {
            categories: phrases(categories),
            keywords: phrases(keywords),
            exclude_keywords: phrases(exclude_keywords),
            languages: languages
                .iter()
                .map(|l| primary_subtag(l))
                .filter(|l| !l.is_empty())
                .collect(),
        }
    }

    /// True when the item passes categories, keywords, exclude_keywords and
    /// languages, in that order:
    ///
    /// - `categories`: one of the item's categories equals one of the rule's;
    /// - `keywords`: one keyword occurs in the title or the summary;
    /// - `exclude_keywords`: none occurs there (an exclude wins over a keep);
    /// - `languages`: the primary subtag of the item's language, else of
    ///   `default_language` (the output's), is listed; "ar-EG" and "AR"
    ///   count as "ar". An item with neither language fails this rule.
    pub fn matches(&self, item: &Item, default_language: Option<&str>) -> bool {
        if !self.categories.is_empty() {
            let found = item.categories.iter().any(|category| {
                let words = text_words(category);
                self.categories.iter().any(|rule| rule.equals(&words))
            });
            if !found {
                return false;
            }
        }

        if !self.keywords.is_empty() || !self.exclude_keywords.is_empty() {
            let title = text_words(&item.title);
            let summary = item
                .summary
                .as_deref()
                .map(|html| text_words(&html_to_text(html)))
                .unwrap_or_default();
            let occurs = |phrase: &Phrase| phrase.found_in(&title) || phrase.found_in(&summary);
            if !self.keywords.is_empty() && !self.keywords.iter().any(occurs) {
                return false;
            }
            if self.exclude_keywords.iter().any(occurs) {
                return false;
            }
        }

        if !self.languages.is_empty() {
            let language = [item.language.as_deref(), default_language]
                .into_iter()
                .flatten()
                .map(primary_subtag)
                .find(|l| !l.is_empty());
            match language {
                Some(l) if self.languages.contains(&l) => {}
                _ => return false,
            }
        }

        true
    }

    /// True when no rule constrains anything: every item passes.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
            && self.keywords.is_empty()
            && self.exclude_keywords.is_empty()
            && self.languages.is_empty()
    }
}

/// "ar-EG" → "ar", " EN_gb " → "en".
fn primary_subtag(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Text of an HTML fragment for matching. Each tag becomes a word break
/// (a space is put before every `<`), ammonia with no tags allowed keeps only
/// the text (dropping `script`/`style` content), and the entities it writes
/// back are decoded.
pub fn html_to_text(html: &str) -> String {
    thread_local! {
        // One per thread: building it allocates its (empty) allow-list sets,
        // and selection runs this on every candidate item of every render.
        static TEXT_ONLY: ammonia::Builder<'static> = ammonia::Builder::empty();
    }
    let spaced = html.replace('<', " <");
    TEXT_ONLY
        .with(|builder| crate::parse::document_html(&builder.clean(&spaced), spaced.len()))
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemKey;

    fn item(title: &str, summary: Option<&str>, categories: &[&str], language: Option<&str>) -> Item {
        Item {
            key: ItemKey::from_stored("//example.com/a".into()),
            link: Some("https://example.com/a".into()),
            title: title.into(),
            summary: summary.map(Into::into),
            content: None,
            authors: vec![],
            categories: categories.iter().map(|c| c.to_string()).collect(),
            published: None,
            updated: None,
            first_seen: 0,
            date: 0,
            language: language.map(Into::into),
            enclosure: None,
            sources: vec![],
            fingerprint: None,
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn keywords(keep: &[&str], exclude: &[&str]) -> Rules {
        Rules::new(&[], &strings(keep), &strings(exclude), &[])
    }

    /// Does keyword `k` select an item titled `title`?
    fn kw(k: &str, title: &str) -> bool {
        keywords(&[k], &[]).matches(&item(title, None, &[], None), None)
    }

    #[test]
    fn normalize_arabic_letters_and_marks() {
        let same: &[(&str, &str)] = &[
            // Hamza forms of alef.
            ("الإنتخابات", "الانتخابات"),
            ("أحمد", "احمد"),
            ("آمال", "امال"),
            ("ٱلله", "الله"),
            // Tashkeel.
            ("مُجلِس", "مجلس"),
            ("الحُكُومَةُ", "الحكومه"),
            ("مُحَمَّدٌ", "محمد"),
            ("رِسَالَةً", "رساله"),
            ("سُكُونْ", "سكون"),
            // Superscript alef and a Quranic mark.
            ("هٰذا", "هذا"),
            ("الرحمٰن\u{06DA}", "الرحمن"),
            // Tatweel.
            ("السـياسة", "السياسه"),
            ("مـــصر", "مصر"),
            // Ta marbuta, alef maqsura.
            ("وزارة", "وزاره"),
            ("مصطفى", "مصطفي"),
            ("على", "علي"),
            // Digits.
            ("٢٠٢٥", "2025"),
            ("۱۴۰۳", "1403"),
            // Case, invisible characters.
            ("Parliament", "parliament"),
            ("ISTANBUL İstanbul", "istanbul istanbul"),
            ("elec\u{00AD}tion", "election"),
            ("مجل\u{200C}س", "مجلس"),
            ("\u{200F}غزة", "غزه"),
        ];
        for (input, want) in same {
            assert_eq!(normalize(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn normalize_nfc() {
        // Decomposed é and decomposed alef with hamza above.
        assert_eq!(normalize("Cafe\u{0301}"), normalize("Café"));
        assert_eq!(normalize("\u{0627}\u{0654}حمد"), "احمد");
        // Decomposed yeh with hamza composes to ئ and is kept as such.
        assert_eq!(normalize("\u{064A}\u{0654}"), "ئ");
    }

    #[test]
    fn published_text_is_untouched() {
        let it = item(
            "الإنتخابات البرلمانية",
            Some("<p>مُجلِس</p>"),
            &["السياسة"],
            Some("ar"),
        );
        let before = it.clone();
        let rules = Rules::new(
            &strings(&["سياسة"]),
            &strings(&["انتخابات"]),
            &[],
            &strings(&["ar"]),
        );
        assert!(rules.matches(&it, None));
        assert_eq!(it, before);
    }

    #[test]
    fn splitting() {
        assert_eq!(
            words("Iran's war, U.S.-led"),
            ["iran", "s", "war", "u", "s", "led"]
        );
        assert_eq!(words("غزة،مصر؛ سوريا؟تونس"), ["غزه", "مصر", "سوريا", "تونس"]);
        assert!(words("  ،؛؟ !! ").is_empty());
        assert!(words("").is_empty());
    }

    #[test]
    fn prefix_forms() {
        let table: &[(&str, &[&str])] = &[
            ("والانتخابات", &["والانتخابات", "الانتخابات", "انتخابات"]),
            ("فالحكومة", &["فالحكومه", "الحكومه", "حكومه"]),
            ("بالبرلمان", &["بالبرلمان", "البرلمان", "برلمان"]),
            ("للانتخابات", &["للانتخابات", "لانتخابات", "انتخابات"]),
            (
                "وبالانتخابات",
                &["وبالانتخابات", "بالانتخابات", "الانتخابات", "انتخابات"],
            ),
            ("كالعادة", &["كالعاده", "العاده", "عاده"]),
            // Stems shorter than MIN_STEM are never produced.
            ("ولد", &["ولد"]),
            ("الله", &["الله"]),
            ("بلد", &["بلد"]),
            // Latin words have no prefix forms.
            ("wall", &["wall"]),
        ];
        for (input, want) in table {
            assert_eq!(words(input), *want, "input {input}");
        }
    }

    #[test]
    fn arabic_keywords_match_through_normalisation() {
        assert!(kw("الانتخابات", "الإنتخابات المقبلة"));
        assert!(kw("مجلس", "مُجلِس الوزراء"));
        assert!(kw("وزارة", "وزاره الخارجية"));
        assert!(kw("وزاره", "وزارة الخارجية"));
        assert!(kw("مصطفى", "تصريحات مصطفي مدبولي"));
        assert!(kw("سياسة", "السـياسة الخارجية"));
        assert!(kw("2025", "ميزانية ٢٠٢٥"));
        assert!(kw("٢٠٢٥", "Budget 2025"));
    }

    #[test]
    fn arabic_keywords_match_through_prefixes() {
        for title in [
            "الانتخابات",
            "انتخابات",
            "والانتخابات",
            "فالانتخابات",
            "بالانتخابات",
            "للانتخابات",
            "وبالانتخابات",
            "وللانتخابات",
            "موعد الانتخابات، والنتائج",
        ] {
            assert!(kw("انتخابات", title), "{title}");
            assert!(kw("الانتخابات", title), "{title}");
        }
        assert!(kw("الحكومة", "فالحكومة قررت"));
        assert!(kw("برلمان", "جلسة بالبرلمان اليوم"));
        assert!(kw("بغداد", "وصل إلى بغداد"));
        assert!(kw("بغداد", "وبغداد"));
        assert!(kw("مصر", "زيارة لمصر"));
    }

    #[test]
    fn false_positives_rejected() {
        assert!(!kw("war", "Film wins award"));
        assert!(!kw("war", "Two wars"));
        assert!(kw("war", "War, again"));
        assert!(!kw("Iran", "Iranian officials"));
        assert!(kw("Iran", "Iran's officials"));
        assert!(kw("İstanbul", "talks in Istanbul"));
        // ولد keeps its و: a keyword لد does not match it.
        assert!(!kw("لد", "ولد"));
        // Prefixes are not stripped from keywords: Kabul is not camels,
        // the governor is not "to".
        assert!(!kw("كابل", "تربية الإبل"));
        assert!(!kw("والي", "سافر إلى القاهرة"));
        assert!(kw("والي", "والي الخرطوم"));
        // Whole words only, in Arabic too.
        assert!(!kw("مصر", "مصرف"));
        assert!(!kw("سلام", "الإسلام"));
    }

    #[test]
    fn multi_word_keywords() {
        assert!(kw("White House", "Statement from the White House."));
        assert!(kw("white house", "WHITE-HOUSE briefing"));
        assert!(!kw("White House", "a white dog in the house"));
        assert!(!kw("White House", "the White Houses"));
        assert!(kw("مجلس النواب", "جلسة لمجلس النواب اليوم"));
        assert!(kw("مجلس النواب", "أقر مجلسُ النوّاب القانون"));
        assert!(kw("مجلس النواب", "مجلس نواب الشعب"));
        assert!(!kw("مجلس النواب", "مجلس الشيوخ والنواب"));
        // Never across title and summary.
        let it = item(
            "Statement from the White",
            Some("<p>House officials</p>"),
            &[],
            None,
        );
        assert!(!keywords(&["White House"], &[]).matches(&it, None));
    }

    #[test]
    fn keywords_in_summary_html() {
        let rules = keywords(&["election"], &[]);
        let it = item(
            "News",
            Some("<p>The <b>election</b> &amp; results</p>"),
            &[],
            None,
        );
        assert!(rules.matches(&it, None));
        // Tags separate words: paragraphs and list items do not run together.
        let it = item("News", Some("<p>Vote</p><p>election</p>"), &[], None);
        assert!(rules.matches(&it, None));
        let it = item("News", Some("<ul><li>Vote</li><li>Election</li></ul>"), &[], None);
        assert!(rules.matches(&it, None));
        // Markup and entities never count as words.
        let rules = keywords(&["amp"], &["nbsp", "quot", "href", "39"]);
        let it = item(
            "x",
            Some("<a href=\"https://x.example/amp\">AT&amp;T&nbsp;&quot;it&#39;s&quot;</a>"),
            &[],
            None,
        );
        assert!(!rules.matches(&it, None));
        assert!(keywords(&["it"], &["nbsp", "quot", "href", "39"]).matches(&it, None));
        // Arabic summary.
        let it = item(
            "خبر",
            Some("<p dir=\"rtl\">أعلنت <strong>الحكومة</strong> اليوم</p>"),
            &[],
            None,
        );
        assert!(keywords(&["حكومة"], &[]).matches(&it, None));
        // No summary: title only.
        assert!(!keywords(&["حكومة"], &[]).matches(&item("خبر", None, &[], None), None));
    }

    #[test]
    fn html_text() {
        let text = html_to_text("<p>a &amp; b &lt; c &gt; d \"e\" 'f'&nbsp;g &#169;</p><p>h</p>");
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["a", "&", "b", "<", "c", ">", "d", "\"e\"", "'f'", "g", "©", "h"]
        );
    }

    #[test]
    fn exclude_overrides_keep() {
        let rules = keywords(&["election"], &["football"]);
        assert!(rules.matches(&item("Election day", None, &[], None), None));
        assert!(!rules.matches(
            &item("Election day", Some("<p>Football club votes</p>"), &[], None),
            None
        ));
        assert!(!rules.matches(&item("Football", None, &[], None), None));

        let rules = keywords(&["انتخابات"], &["كرة القدم"]);
        assert!(rules.matches(&item("الانتخابات", None, &[], None), None));
        assert!(!rules.matches(&item("انتخابات اتحاد كرة القدم", None, &[], None), None));

        // Exclude alone keeps everything else.
        let rules = keywords(&[], &["رياضة"]);
        assert!(rules.matches(&item("سياسة", None, &[], None), None));
        assert!(!rules.matches(&item("أخبار الرياضة", None, &[], None), None));
    }

    #[test]
    fn categories() {
        let rules = Rules::new(&strings(&["Politics", "السياسة", "Middle East"]), &[], &[], &[]);
        let pass = |cats: &[&str]| rules.matches(&item("t", None, cats, None), None);
        assert!(pass(&["politics"]));
        assert!(pass(&["Sport", "POLITICS"]));
        assert!(pass(&["سياسة"]));
        assert!(pass(&["السياسة"]));
        assert!(pass(&["السـياسة"]));
        assert!(pass(&["middle-east"]));
        assert!(!pass(&["World Politics"]));
        assert!(!pass(&["Middle"]));
        assert!(!pass(&["رياضة"]));
        assert!(!pass(&[]));

        let rules = Rules::new(&strings(&["سياسة"]), &[], &[], &[]);
        assert!(rules.matches(&item("t", None, &["السياسة"], None), None));
        assert!(rules.matches(&item("t", None, &["سياسه"], None), None));
        assert!(!rules.matches(&item("t", None, &["سياسي"], None), None));
    }

    #[test]
    fn languages() {
        let rules = Rules::new(&[], &[], &[], &strings(&["ar"]));
        let lang = |l: Option<&str>, default: Option<&str>| rules.matches(&item("t", None, &[], l), default);
        assert!(lang(Some("ar"), None));
        assert!(lang(Some("ar-EG"), None));
        assert!(lang(Some("AR"), None));
        assert!(lang(Some("ar_SA"), None));
        assert!(!lang(Some("en"), None));
        assert!(!lang(Some("arc"), None));
        // The item's language wins over the default.
        assert!(!lang(Some("en-GB"), Some("ar")));
        // Default language when the item has none (or a blank one).
        assert!(lang(None, Some("ar")));
        assert!(lang(Some(" "), Some("ar-EG")));
        assert!(!lang(None, Some("en")));
        // Neither: fails a non-empty languages rule.
        assert!(!lang(None, None));
        assert!(!lang(Some(""), Some("")));

        let rules = Rules::new(&[], &[], &[], &strings(&["AR-eg", "en"]));
        assert!(rules.matches(&item("t", None, &[], Some("ar")), None));
        assert!(rules.matches(&item("t", None, &[], Some("en-US")), None));
        assert!(!rules.matches(&item("t", None, &[], Some("fr")), None));
    }

    #[test]
    fn all_rules_in_order() {
        let rules = Rules::new(
            &strings(&["Politics", "سياسة"]),
            &strings(&["election", "انتخابات"]),
            &strings(&["opinion", "رأي"]),
            &strings(&["ar", "en"]),
        );
        let ok = item("Election news", None, &["Politics"], Some("en"));
        assert!(rules.matches(&ok, None));
        let ok = item("نتائج الانتخابات", None, &["السياسة"], None);
        assert!(rules.matches(&ok, Some("ar")));
        let wrong_category = item("Election news", None, &["Sport"], Some("en"));
        assert!(!rules.matches(&wrong_category, None));
        let no_keyword = item("Budget news", None, &["Politics"], Some("en"));
        assert!(!rules.matches(&no_keyword, None));
        let excluded = item("Election opinion", None, &["Politics"], Some("en"));
        assert!(!rules.matches(&excluded, None));
        let excluded = item("رأي: الانتخابات", None, &["سياسة"], Some("ar"));
        assert!(!rules.matches(&excluded, None));
        let wrong_language = item("Election news", None, &["Politics"], Some("fr"));
        assert!(!rules.matches(&wrong_language, None));
        assert!(!rules.is_empty());
    }

    #[test]
    fn empty_rules_pass_everything() {
        let rules = Rules::new(&[], &[], &[], &[]);
        assert!(rules.is_empty());
        assert_eq!(rules, Rules::default());
        assert!(rules.matches(&item("", None, &[], None), None));
        assert!(rules.matches(
            &item("anything", Some("<p>x</p>"), &["Sport"], Some("fr")),
            Some("de")
        ));
    }

    #[test]
    fn wordless_entries_are_dropped() {
        let rules = Rules::new(
            &strings(&["", "  "]),
            &strings(&["!!", "،"]),
            &strings(&[""]),
            &strings(&[" "]),
        );
        assert!(rules.is_empty());
        assert!(rules.matches(&item("anything", None, &[], None), None));
        assert!(!Rules::new(&[], &strings(&["", "war"]), &[], &[]).is_empty());
    }

    #[test]
    fn never_panics() {
        let nasty = [
            "",
            "\u{0}",
            "<",
            "<<<>>>",
            "&",
            "&amp",
            "<p",
            "<script>election</script>",
            "\u{0654}\u{0654}",
            "ـــ",
            "ال",
            "لل",
            "وال",
            "İİİ\u{0307}",
            "\u{FFFF}\u{10FFFF}",
            "a\u{0301}\u{0301}\u{0301}",
            "ﷺ ﻻ",
        ];
        let rules = Rules::new(
            &strings(&nasty),
            &strings(&nasty),
            &strings(&["zzz"]),
            &strings(&["-", "_", "ar"]),
        );
        for s in nasty {
            let _ = normalize(s);
            let _ = words(s);
            let _ = html_to_text(s);
            let it = item(s, Some(s), &[s], Some(s));
            let _ = rules.matches(&it, Some(s));
            let _ = rules.matches(&it, None);
        }
        // Script content never counts as text.
        let it = item("x", Some("<script>election</script>"), &[], None);
        assert!(!keywords(&["election"], &[]).matches(&it, None));
    }

    /// Found by `item::props::normalize_is_idempotent`. `normalize` puts the
    /// text in NFC and then drops characters (tatweel, soft hyphen, ZWJ...).
    /// A dropped character between a letter and a combining mark was a
    /// boundary for NFC; without it the result is no longer NFC, so the
    /// composed and decomposed spellings the module promises to unify differ
    /// ("cafe" + soft hyphen + U+0301 does not match "café"), and
    /// normalising twice changes the text.
    #[test]
    fn removal_after_nfc() {
        assert_eq!(normalize("cafe\u{AD}\u{301}"), normalize("café"));
        assert_eq!(normalize("cafe\u{640}\u{301}"), normalize("café"));
        let n = normalize("\u{8D4}\u{640}\u{8CF}");
        assert_eq!(normalize(&n), n);
    }
}
