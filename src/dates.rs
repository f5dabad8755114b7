//! Dates as publishers write them, turned into instants.
//!
//! feed-rs reads RFC 3339 and RFC 2822. Our sources, mostly Arab outlets,
//! also write Arabic month names, Arabic-Indic digits, 12-hour clocks marked
//! ص/م, day-first numeric dates and zone abbreviations. [`parse_date`] is
//! plugged into feed-rs as its timestamp parser (see `parse`). That *replaces*
//! feed-rs's own lenient parser rather than backing it up, so the standard
//! formats are handled here too.
//!
//! # How
//!
//! 1. Well-formed RFC 3339 and RFC 2822 go to chrono's own parsers.
//! 2. Anything else is folded (Arabic digits to ASCII, the alef forms أ إ آ
//!    to ا, diacritics and tatweel dropped, lower case, RFC 2822
//!    `(comments)` removed), split into numbers, words and the symbols
//!    `: . / - +`, and scanned for one date, one time, an AM/PM marker and a
//!    zone. Words that carry nothing (weekdays, "الساعة", "الموافق", "at")
//!    are skipped. The remaining numbers and month names must form exactly
//!    one date, or the answer is `None`: no date is better than a wrong one.
//!
//! A scanner rather than a list of chrono formats, because the same pieces
//! come in many orders and spacings, chrono's `%y` pivots at 70 where
//! RFC 2822 pivots at 50, and م means PM only right after a time (after a
//! year, "2025م", it means AD).
//!
//! # Reading rules
//!
//! - No zone means UTC.
//! - Numeric dates are read day-first (`28/11/2025`), as Arab and European
//!   outlets write them, except when the year comes first (`2025-11-28`,
//!   `2025/11/28`). A month-first date fails when its day exceeds 12, and is
//!   misread below 13.
//! - With a month name: `28 Nov 2025`, `Nov 28, 2025` and `2025 Nov 28`.
//! - Two-digit years as in RFC 2822: 00–49 are 20xx, 50–99 are 19xx.
//!   Three-digit years are refused (chrono's strict RFC 2822 parser alone
//!   adds 1900 to them, as that RFC says).
//! - Results outside the years 1..=9999 (in UTC) are `None`.
//! - Ambiguous zone abbreviations take the meaning an Arab outlet would
//!   mean: AST is Arabia Standard Time (+03:00, not Atlantic −04:00), GST is
//!   Gulf Standard Time (+04:00). The North American ones follow RFC 2822,
//!   IST is India (+05:30), BST British Summer Time (+01:00).
//! - Single-letter military zones count as UTC, as RFC 2822 recommends
//!   (RFC 822 had their signs backwards, so nobody can rely on them).
//! - A numeric offset beats a zone name: `GMT+3` is +03:00.
//! - An unknown Latin word after the time is probably a zone we don't know
//!   (`AEST`), so the answer is `None` rather than a date hours off. Unknown
//!   Arabic words are skipped wherever they are.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Utc};

/// Parses a date string as found in feeds; None when it cannot.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let dt = match DateTime::parse_from_rfc3339(s).or_else(|_| DateTime::parse_from_rfc2822(s)) {
        Ok(dt) => dt.with_timezone(&Utc),
        Err(_) => lenient(s)?,
    };
    (1..=9999).contains(&dt.year()).then_some(dt)
}

fn lenient(s: &str) -> Option<DateTime<Utc>> {
    let toks = lex(&fold(s));
    let mut found = Found::default();
    let mut rest = toks.as_slice();
    while !rest.is_empty() {
        let (item, used) = numeric_date(rest)
            .or_else(|| clock(rest))
            .or_else(|| offset(rest, &found))
            .unwrap_or_else(|| other(rest, found.time.is_some()));
        found.add(item)?;
        rest = rest.get(used.max(1)..)?;
    }
    found.finish()
}

/// Makes every spelling of the same thing one string, so the tables below
/// list each name once per real variant.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                out.push(' ');
            }
            ')' => {
                depth = depth.saturating_sub(1);
                out.push(' ');
            }
            _ if depth > 0 => {}
            '\u{660}'..='\u{669}' => out.extend(char::from_digit(u32::from(c) - 0x660, 10)),
            '\u{6F0}'..='\u{6F9}' => out.extend(char::from_digit(u32::from(c) - 0x6F0, 10)),
            'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
            // Tatweel and harakat: decoration that varies between outlets.
            '\u{640}' | '\u{64B}'..='\u{65F}' | '\u{670}' => {}
            _ => out.extend(c.to_lowercase()),
        }
    }
    out.replace("a.m", "am").replace("p.m", "pm")
}

#[derive(Debug, PartialEq)]
enum Kind {
    /// A run of ASCII digits.
    Num(String),
    /// A run of letters, any script.
    Word(String),
    Sym(char),
}

struct Tok {
    kind: Kind,
    /// No space or punctuation before it: `10:00` is one time, `10 : 00` is not.
    glued: bool,
}

impl Tok {
    fn num(&self) -> Option<&str> {
        match &self.kind {
            Kind::Num(n) => Some(n),
            _ => None,
        }
    }

    fn word(&self) -> Option<&str> {
        match &self.kind {
            Kind::Word(w) => Some(w),
            _ => None,
        }
    }

    fn sym(&self) -> Option<char> {
        match self.kind {
            Kind::Sym(c) => Some(c),
            _ => None,
        }
    }
}

fn lex(s: &str) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut glued = false;
    for c in s.chars() {
        let kind = if c.is_ascii_digit() {
            Kind::Num(c.into())
        } else if c.is_alphabetic() {
            Kind::Word(c.into())
        } else if matches!(c, ':' | '.' | '/' | '-' | '+') {
            Kind::Sym(c)
        } else {
            glued = false;
            continue;
        };
        if let (true, Some(last)) = (glued, toks.last_mut()) {
            if let (Kind::Num(run), Kind::Num(_)) | (Kind::Word(run), Kind::Word(_)) = (&mut last.kind, &kind)
            {
                run.push(c);
                continue;
            }
        }
        toks.push(Tok { kind, glued });
        glued = true;
    }
    toks
}

/// The token at `i` if nothing separates it from the one before.
fn glued(t: &[Tok], i: usize) -> Option<&Tok> {
    t.get(i).filter(|t| t.glued)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Meridiem {
    Am,
    Pm,
}

#[derive(Clone, Copy, Debug)]
struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
}

impl Clock {
    fn to_time(self, meridiem: Option<Meridiem>) -> Option<NaiveTime> {
        let hour = match (meridiem, self.hour) {
            (Some(Meridiem::Am), 12) => 0,
            (Some(Meridiem::Pm), 1..=11) => self.hour + 12,
            // "15:00 AM" contradicts itself; "14:30 م" is merely redundant.
            (Some(Meridiem::Am), 13..) => return None,
            _ => self.hour,
        };
        NaiveTime::from_hms_nano_opt(hour, self.minute, self.second, self.nano)
    }
}

#[derive(Debug, PartialEq)]
enum Piece {
    Num(String),
    Month(u32),
}

/// One recognised stretch of tokens.
enum Item {
    Date(i32, u32, u32),
    Piece(Piece),
    Time(Clock),
    /// Seconds east of UTC.
    Offset(i32),
    Zone(i32),
    Meridiem(Meridiem),
    Skip,
    Reject,
}

#[derive(Default, PartialEq)]
enum Last {
    #[default]
    Other,
    Time,
    Zone,
}

#[derive(Default)]
struct Found {
    ymd: Option<(i32, u32, u32)>,
    /// Loose numbers and month names, in order; `finish` decides which is which.
    pieces: Vec<Piece>,
    time: Option<Clock>,
    meridiem: Option<Meridiem>,
    offset: Option<i32>,
    zone: Option<i32>,
    last: Last,
}

impl Found {
    /// None when the item contradicts what was already found.
    fn add(&mut self, item: Item) -> Option<()> {
        let mut last = Last::Other;
        match item {
            Item::Date(y, m, d) => set_once(&mut self.ymd, (y, m, d))?,
            // "نوفمبر/تشرين الثاني", "تشرين الثاني (نوفمبر)": one month, named twice.
            Item::Piece(p @ Piece::Month(_)) if self.pieces.last() == Some(&p) => {}
            Item::Piece(p) => self.pieces.push(p),
            Item::Time(c) => {
                set_once(&mut self.time, c)?;
                last = Last::Time;
            }
            Item::Offset(o) => set_once(&mut self.offset, o)?,
            Item::Zone(z) => {
                if self.zone.replace(z).is_some_and(|old| old != z) {
                    return None;
                }
                last = Last::Zone;
            }
            // Only right after the time: elsewhere م is "AD" (2025م).
            Item::Meridiem(m) if self.last == Last::Time => self.meridiem = Some(m),
            Item::Meridiem(_) | Item::Skip => {}
            Item::Reject => return None,
        }
        self.last = last;
        Some(())
    }

    fn finish(self) -> Option<DateTime<Utc>> {
        use Piece::{Month, Num};
        let (y, m, d) = match (self.ymd, self.pieces.as_slice()) {
            (Some(ymd), []) => ymd,
            (None, [Num(y), Month(m), Num(d)]) if y.len() == 4 => (year(y)?, *m, small(d)?),
            (None, [Num(d), Month(m), Num(y)] | [Month(m), Num(d), Num(y)]) => (year(y)?, *m, small(d)?),
            _ => return None,
        };
        let time = match self.time {
            Some(clock) => clock.to_time(self.meridiem)?,
            None => NaiveTime::MIN,
        };
        let zone = FixedOffset::east_opt(self.offset.or(self.zone).unwrap_or(0))?;
        let local = NaiveDate::from_ymd_opt(y, m, d)?.and_time(time);
        Some(local.and_local_timezone(zone).single()?.with_timezone(&Utc))
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    slot.replace(v).is_none().then_some(())
}

/// A day or month number.
fn small(s: &str) -> Option<u32> {
    if s.len() > 2 {
        return None;
    }
    s.parse().ok()
}

fn year(s: &str) -> Option<i32> {
    let n: i32 = if s.len() <= 4 {
        s.parse().ok()?
    } else {
        return None;
    };
    match s.len() {
        2 if n < 50 => Some(n + 2000),
        2 => Some(n + 1900),
        4 => Some(n),
        _ => None,
    }
}

/// `28/11/2025`, `28-11-2025`, `28.11.2025`, `2025-11-28`, `2025/11/28`.
fn numeric_date(t: &[Tok]) -> Option<(Item, usize)> {
    let a = t.first()?.num()?;
    let sep = glued(t, 1)?.sym().filter(|c| matches!(c, '-' | '/' | '.'))?;
    let b = glued(t, 2)?.num()?;
    if glued(t, 3)?.sym() != Some(sep) {
        return None;
    }
    let c = glued(t, 4)?.num()?;
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    Some((Item::Date(year(y)?, small(m)?, small(d)?), 5))
}

/// `H:MM`, `HH:MM:SS`, `HH:MM:SS.fff`.
fn clock(t: &[Tok]) -> Option<(Item, usize)> {
    let two_digits = |i| glued(t, i).and_then(Tok::num).filter(|n| n.len() == 2);
    let colon = |i| glued(t, i).is_some_and(|t| t.sym() == Some(':'));
    let hour = t.first()?.num().filter(|h| h.len() <= 2)?;
    if !colon(1) {
        return None;
    }
    let mut c = Clock {
        hour: hour.parse().ok()?,
        minute: two_digits(2)?.parse().ok()?,
        second: 0,
        nano: 0,
    };
    let mut used = 3;
    if let (true, Some(s)) = (colon(3), two_digits(4)) {
        c.second = s.parse().ok()?;
        used = 5;
        let dot = glued(t, 5).is_some_and(|t| t.sym() == Some('.'));
        if let (true, Some(frac)) = (dot, glued(t, 6).and_then(Tok::num)) {
            // Nanoseconds: the first nine digits, right-padded.
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            c.nano = digits.parse().ok()?;
            used = 7;
        }
    }
    Some((Item::Time(c), used))
}

/// `+03:00`, `+0300`, `+03`, `-5`, after the time.
fn offset(t: &[Tok], found: &Found) -> Option<(Item, usize)> {
    let sign = match t.first()?.sym()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    // A sign is an offset only after the time, either glued to it
    // ("10:00-05:00") or to a zone name ("GMT+3"), or standing apart
    // ("10:00 -0500"). Elsewhere '-' separates: "28-Nov-2025", "2025 - 02:30".
    if found.time.is_none() || (t.first()?.glued && found.last == Last::Other) {
        return None;
    }
    let n = glued(t, 1)?.num()?;
    let (hours, minutes, used) = match n.len() {
        1 | 2 => {
            let colon = glued(t, 2).is_some_and(|t| t.sym() == Some(':'));
            match glued(t, 3).and_then(Tok::num) {
                Some(m) if colon && m.len() == 2 => (n, m, 4),
                _ => (n, "0", 2),
            }
        }
        // ASCII digits only, so byte slicing is on char boundaries.
        4 => (&n[..2], &n[2..], 2),
        _ => return None,
    };
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 {
        return Some((Item::Reject, used));
    }
    Some((Item::Offset(sign * (hours * 3600 + minutes * 60)), used))
}

/// A token no pattern above claimed: a word, a loose number or a stray symbol.
fn other(t: &[Tok], time_seen: bool) -> (Item, usize) {
    let Some(first) = t.first() else {
        return (Item::Skip, 1);
    };
    let w = match &first.kind {
        Kind::Num(n) => return (Item::Piece(Piece::Num(n.clone())), 1),
        Kind::Sym(_) => return (Item::Skip, 1),
        Kind::Word(w) => w.as_str(),
    };
    if let Some((m, used)) = arabic_month(t) {
        return (Item::Piece(Piece::Month(m)), used);
    }
    let item = if let Some(m) = english_name(w, &MONTHS) {
        Item::Piece(Piece::Month(m))
    } else if english_name(w, &WEEKDAYS).is_some() || NOISE.contains(&w) {
        Item::Skip
    } else if let Some(m) = lookup(w, MERIDIEMS) {
        Item::Meridiem(m)
    } else if let Some(minutes) = lookup(w, ZONES) {
        Item::Zone(minutes * 60)
    } else if !w.is_ascii() {
        Item::Skip
    } else if w.len() == 1 {
        Item::Zone(0)
    } else if time_seen {
        Item::Reject
    } else {
        Item::Skip
    };
    (item, 1)
}

fn lookup<T: Copy>(w: &str, table: &[(&str, T)]) -> Option<T> {
    table.iter().find(|(name, _)| *name == w).map(|&(_, v)| v)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// 1-based index of the name `w` abbreviates: "nov", "sept", "thurs" all count.
fn english_name(w: &str, names: &[&str]) -> Option<u32> {
    if w.len() < 3 {
        return None;
    }
    let i = names.iter().position(|name| name.starts_with(w))?;
    u32::try_from(i + 1).ok()
}

/// English filler between the parts of a date; "th" as in "28th".
const NOISE: [&str; 8] = ["at", "on", "of", "the", "st", "nd", "rd", "th"];

/// Folded spellings (see `fold`). Three families: Egyptian/Gulf, Levantine/
/// Iraqi (the two-word ones are in `arabic_month`) and Maghrebi, the last
/// from Moroccan and Algerian/Tunisian outlets.
const ARABIC_MONTHS: &[(&str, u32)] = &[
    ("يناير", 1),
    ("جانفي", 1),
    ("فبراير", 2),
    ("شباط", 2),
    ("فيفري", 2),
    ("مارس", 3),
    ("اذار", 3),
    ("ابريل", 4),
    ("نيسان", 4),
    ("افريل", 4),
    ("مايو", 5),
    ("ايار", 5),
    ("ماي", 5),
    ("يونيو", 6),
    ("يونيه", 6),
    ("حزيران", 6),
    ("جوان", 6),
    ("يوليو", 7),
    ("يوليه", 7),
    ("تموز", 7),
    ("يوليوز", 7),
    ("جويلية", 7),
    ("اغسطس", 8),
    ("اب", 8),
    ("غشت", 8),
    ("اوت", 8),
    ("سبتمبر", 9),
    ("ايلول", 9),
    ("شتنبر", 9),
    ("اكتوبر", 10),
    ("نوفمبر", 11),
    ("نونبر", 11),
    ("ديسمبر", 12),
    ("دجنبر", 12),
];

/// One month name, or the Levantine two-word ones: كانون/تشرين followed by
/// (ال)أول or (ال)ثاني.
fn arabic_month(t: &[Tok]) -> Option<(u32, usize)> {
    let w = t.first()?.word()?;
    if let Some(m) = lookup(w, ARABIC_MONTHS) {
        return Some((m, 1));
    }
    let (first, second) = match w {
        "كانون" => (12, 1),
        "تشرين" => (10, 11),
        _ => return None,
    };
    let next = t.get(1)?.word()?;
    match next.strip_prefix("ال").unwrap_or(next) {
        "اول" => Some((first, 2)),
        "ثاني" => Some((second, 2)),
        _ => None,
    }
}

const MERIDIEMS: &[(&str, Meridiem)] = &[
    ("am", Meridiem::Am),
    ("ص", Meridiem::Am),
    ("صباحا", Meridiem::Am),
    ("صباح", Meridiem::Am),
    ("pm", Meridiem::Pm),
    ("م", Meridiem::Pm),
    ("مساء", Meridiem::Pm),
    ("مساءا", Meridiem::Pm),
    ("ظهرا", Meridiem::Pm),
    ("عصرا", Meridiem::Pm),
];

/// Minutes east of UTC. See the module doc for the ambiguous ones.
const ZONES: &[(&str, i32)] = &[
    ("gmt", 0),
    ("ut", 0),
    ("utc", 0),
    ("z", 0),
    ("غرينتش", 0),
    ("جرينتش", 0),
    ("est", -5 * 60),
    ("edt", -4 * 60),
    ("cst", -6 * 60),
    ("cdt", -5 * 60),
    ("mst", -7 * 60),
    ("mdt", -6 * 60),
    ("pst", -8 * 60),
    ("pdt", -7 * 60),
    ("bst", 60),
    ("cet", 60),
    ("cest", 2 * 60),
    ("eet", 2 * 60),
    ("eest", 3 * 60),
    ("msk", 3 * 60),
    ("ast", 3 * 60),
    ("gst", 4 * 60),
    ("ist", 5 * 60 + 30),
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn show(d: Option<DateTime<Utc>>) -> Option<String> {
        d.map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    const CASES: &[(&str, Option<&str>)] = &[
        // RFC 3339 / ISO 8601
        ("2025-11-28T10:00:00Z", Some("2025-11-28T10:00:00Z")),
        ("2025-11-28T10:00:00+03:00", Some("2025-11-28T07:00:00Z")),
        ("2025-11-28T10:00:00+0300", Some("2025-11-28T07:00:00Z")),
        ("2025-11-28T10:00:00+03", Some("2025-11-28T07:00:00Z")),
        ("2025-11-28T10:00:00-05:00", Some("2025-11-28T15:00:00Z")),
        ("2025-11-28 10:00:00+03:00", Some("2025-11-28T07:00:00Z")),
        ("2025-11-28 10:00:00", Some("2025-11-28T10:00:00Z")),
        ("2025-11-28T10:00", Some("2025-11-28T10:00:00Z")),
        ("2025-11-28 10:00Z", Some("2025-11-28T10:00:00Z")),
        ("2025-11-28t10:00:00z", Some("2025-11-28T10:00:00Z")),
        ("2025-11-28T10:00:00.123456Z", Some("2025-11-28T10:00:00.123456Z")),
        ("2025-11-28T10:00:00.5-05:00", Some("2025-11-28T15:00:00.500Z")),
        (
            "2025-11-28 10:00:00.1234567891234 +0300",
            Some("2025-11-28T07:00:00.123456789Z"),
        ),
        ("2025-11-28", Some("2025-11-28T00:00:00Z")),
        ("  2025-11-28T10:00:00Z\n", Some("2025-11-28T10:00:00Z")),
        // RFC 2822
        ("Fri, 28 Nov 2025 10:00:00 +0300", Some("2025-11-28T07:00:00Z")),
        ("28 Nov 2025 10:00:00 GMT", Some("2025-11-28T10:00:00Z")),
        ("Wed, 28 Nov 2025 10:00:00 GMT", Some("2025-11-28T10:00:00Z")),
        ("Thurs, 27 Nov 2025 10:00:00 GMT", Some("2025-11-27T10:00:00Z")),
        ("Fri, 7 Nov 2025 10:00:00 UT", Some("2025-11-07T10:00:00Z")),
        ("Fri, 28 Nov 2025 10:00:00 Z", Some("2025-11-28T10:00:00Z")),
        ("Fri, 28 Nov 2025 10:00 -0000", Some("2025-11-28T10:00:00Z")),
        ("Sat, 29 Nov 25 14:05:00 GMT", Some("2025-11-29T14:05:00Z")),
        ("28 Nov 2025 10:00 EST", Some("2025-11-28T15:00:00Z")),
        (
            "Fri, 28 Nov 2025 10:00:00 +0000 (UTC)",
            Some("2025-11-28T10:00:00Z"),
        ),
        ("Fri, 28 Nov 2025 10:00:00 UTC", Some("2025-11-28T10:00:00Z")),
        // JavaScript's Date#toString, seen in hand-rolled feeds.
        (
            "Fri Nov 28 2025 10:00:00 GMT+0300 (Arabia Standard Time)",
            Some("2025-11-28T07:00:00Z"),
        ),
        // C's asctime, and Twitter's variant with an offset
        ("Fri Nov 28 10:00:00 2025", Some("2025-11-28T10:00:00Z")),
        ("Fri Nov 28 10:00:00 +0300 2025", Some("2025-11-28T07:00:00Z")),
        // Zones
        ("28 Nov 2025 10:00 EDT", Some("2025-11-28T14:00:00Z")),
        ("28 Nov 2025 10:00 CST", Some("2025-11-28T16:00:00Z")),
        ("28 Nov 2025 10:00 CDT", Some("2025-11-28T15:00:00Z")),
        ("28 Nov 2025 10:00 MST", Some("2025-11-28T17:00:00Z")),
        ("28 Nov 2025 10:00 MDT", Some("2025-11-28T16:00:00Z")),
        ("28 Nov 2025 10:00 PST", Some("2025-11-28T18:00:00Z")),
        ("28 Nov 2025 10:00 PDT", Some("2025-11-28T17:00:00Z")),
        ("28 Nov 2025 10:00 CET", Some("2025-11-28T09:00:00Z")),
        ("28 Nov 2025 10:00 CEST", Some("2025-11-28T08:00:00Z")),
        ("28 Nov 2025 10:00 EET", Some("2025-11-28T08:00:00Z")),
        ("28 Nov 2025 10:00 EEST", Some("2025-11-28T07:00:00Z")),
        ("28 Nov 2025 10:00 BST", Some("2025-11-28T09:00:00Z")),
        ("28 Nov 2025 10:00 IST", Some("2025-11-28T04:30:00Z")),
        ("28 Nov 2025 10:00 MSK", Some("2025-11-28T07:00:00Z")),
        ("28 Nov 2025 10:00 AST", Some("2025-11-28T07:00:00Z")),
        ("28 Nov 2025 10:00 GST", Some("2025-11-28T06:00:00Z")),
        ("28 Nov 2025 10:00 A", Some("2025-11-28T10:00:00Z")),
        ("28 Nov 2025 10:00:00 Q", Some("2025-11-28T10:00:00Z")),
        ("28 Nov 2025 10:00 GMT+3", Some("2025-11-28T07:00:00Z")),
        ("28 Nov 2025 10:00 UTC-05:00", Some("2025-11-28T15:00:00Z")),
        ("28 Nov 2025 10:00 بتوقيت غرينتش", Some("2025-11-28T10:00:00Z")),
        ("28 Nov 2025 10:00 AEST", None),
        ("28 Nov 2025 10:00 EST PST", None),
        ("28 Nov 2025 10:00 +0300 -0500", None),
        ("28 Nov 2025 10:00 +2500", None),
        // Two-digit years
        ("28 Nov 49 10:00 GMT", Some("2049-11-28T10:00:00Z")),
        ("28 Nov 50 10:00 GMT", Some("1950-11-28T10:00:00Z")),
        ("Nov 28, 99", Some("1999-11-28T00:00:00Z")),
        ("28/11/00", Some("2000-11-28T00:00:00Z")),
        ("28/11/125", None),
        // Arabic-Indic and Persian digits
        ("٢٨ نوفمبر ٢٠٢٥ ١٠:٠٠", Some("2025-11-28T10:00:00Z")),
        ("۲۰۲۵-۱۱-۲۸T۱۰:۰۰:۰۰Z", Some("2025-11-28T10:00:00Z")),
        ("Fri, ٢٨ Nov ٢٠٢٥ ١٠:٠٠:٠٠ +٠٣٠٠", Some("2025-11-28T07:00:00Z")),
        ("٢٨/١١/٢٠٢٥ ١٠:٠٠", Some("2025-11-28T10:00:00Z")),
        // Arabic words
        ("الأحد، 23 نوفمبر 2025 - 02:30 م", Some("2025-11-23T14:30:00Z")),
        ("السبت 29 تشرين الثاني 2025 14:05", Some("2025-11-29T14:05:00Z")),
        (
            "الاثنين 1 كانون الأول 2025 الساعة 09:15 ص",
            Some("2025-12-01T09:15:00Z"),
        ),
        ("الإثنين، ١ ديسمبر ٢٠٢٥ ١٢:٣٠ ص", Some("2025-12-01T00:30:00Z")),
        ("الخميس 27 نوفمبر 2025م 12:00 م", Some("2025-11-27T12:00:00Z")),
        ("الخميس 27 نوفمبر 2025م", Some("2025-11-27T00:00:00Z")),
        (
            "الجمعة 28 نوفمبر 2025 الساعة 10:00 مساءً",
            Some("2025-11-28T22:00:00Z"),
        ),
        ("الثلاثاء 25 نوفمبر 2025 14:30 م", Some("2025-11-25T14:30:00Z")),
        (
            "الأربعاء 26 تشرين الثاني (نوفمبر) 2025",
            Some("2025-11-26T00:00:00Z"),
        ),
        ("23 نوفمبر/تشرين الثاني 2025", Some("2025-11-23T00:00:00Z")),
        ("10:00 ص، 23 كانون ثاني 2025", Some("2025-01-23T10:00:00Z")),
        (
            "الأحد 23 نوفمبر 2025 الساعة 02:30 م +0200",
            Some("2025-11-23T12:30:00Z"),
        ),
        ("23 نوفمبر 2025 15:00 ص", None),
        ("2 جمادى الآخرة 1447 هـ", None),
        ("منذ 5 ساعات", None),
        ("23 كانون 2025", None),
        // Numeric dates: day first unless the year leads
        ("28/11/2025 10:00", Some("2025-11-28T10:00:00Z")),
        ("28-11-2025", Some("2025-11-28T00:00:00Z")),
        ("28.11.2025 10:00", Some("2025-11-28T10:00:00Z")),
        ("2025/11/28 10:00", Some("2025-11-28T10:00:00Z")),
        ("02/11/2025", Some("2025-11-02T00:00:00Z")),
        ("11/28/2025", None),
        ("28/11-2025", None),
        // English words, 12-hour clock
        ("Friday, November 28, 2025 3:04 PM", Some("2025-11-28T15:04:00Z")),
        ("November 28, 2025 12:00 AM", Some("2025-11-28T00:00:00Z")),
        ("Nov. 28th, 2025 at 3:04 p.m.", Some("2025-11-28T15:04:00Z")),
        ("28-Nov-2025 10:00", Some("2025-11-28T10:00:00Z")),
        ("2025 Nov 28", Some("2025-11-28T00:00:00Z")),
        ("28nov2025 10:00pm", Some("2025-11-28T22:00:00Z")),
        ("Posted 28 Nov 2025", Some("2025-11-28T00:00:00Z")),
        // What feed-rs's own lenient parser accepted
        ("Fri, Oct 7 2022 10:15:00 -0400", Some("2022-10-07T14:15:00Z")),
        ("26 August 2019 10:00:00 +0000", Some("2019-08-26T10:00:00Z")),
        ("Mon, 01 Jan 0001 00:00:00 UTC", Some("0001-01-01T00:00:00Z")),
        ("Wed, 22 Jan 2020 10:58:02 -0000", Some("2020-01-22T10:58:02Z")),
        ("24 Sep 2013 1:27 PDT", Some("2013-09-24T08:27:00Z")),
        ("Tue, 15 Nov 2022 20:15:04 Z", Some("2022-11-15T20:15:04Z")),
        ("mer, 16 nov 2022 00:38:15 +0100", Some("2022-11-15T23:38:15Z")),
        ("2014-12-29T14:53:35+0200", Some("2014-12-29T12:53:35Z")),
        // Garbage and out of range
        ("", None),
        ("   ", None),
        ("yesterday", None),
        ("28 Nov", None),
        ("10:00", None),
        ("2025", None),
        ("2025-13-01", None),
        ("31/02/2025", None),
        ("2025-11-28 24:00", None),
        ("2025-11-28 10:60", None),
        ("28 Nov 2025 10:00 11:00", None),
        ("28/11/2025 2025-11-28", None),
        ("0000-01-01T00:00:00Z", None),
        ("10000-01-01", None),
        ("9999-12-31T23:59:59-01:00", None),
        ("0001-01-01T00:30:00+01:00", None),
        ("28 Nov 99999 10:00", None),
        ("99999999999999999999 Nov 2025", None),
    ];

    #[test]
    fn table() {
        let mut failures = Vec::new();
        for &(input, want) in CASES {
            let got = show(parse_date(input));
            if got.as_deref() != want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// The scanner alone agrees with chrono wherever chrono's strict parsers
    /// succeed, so the fast path is an optimisation, not a second opinion.
    #[test]
    fn lenient_agrees_with_strict() {
        for &(input, _) in CASES {
            let input = input.trim();
            let strict = DateTime::parse_from_rfc3339(input).or_else(|_| DateTime::parse_from_rfc2822(input));
            if let Ok(strict) = strict {
                assert_eq!(lenient(input), Some(strict.with_timezone(&Utc)), "{input:?}");
            }
        }
    }

    #[test]
    fn arabic_month_names() {
        let names: &[(&str, u32)] = &[
            ("يناير", 1),
            ("فبراير", 2),
            ("مارس", 3),
            ("أبريل", 4),
            ("ابريل", 4),
            ("إبريل", 4),
            ("مايو", 5),
            ("يونيو", 6),
            ("يونيه", 6),
            ("يوليو", 7),
            ("يوليه", 7),
            ("أغسطس", 8),
            ("اغسطس", 8),
            ("سبتمبر", 9),
            ("أكتوبر", 10),
            ("اكتوبر", 10),
            ("نوفمبر", 11),
            ("ديسمبر", 12),
            ("كانون الثاني", 1),
            ("شباط", 2),
            ("آذار", 3),
            ("نيسان", 4),
            ("أيار", 5),
            ("ايار", 5),
            ("حزيران", 6),
            ("تموز", 7),
            ("آب", 8),
            ("أيلول", 9),
            ("ايلول", 9),
            ("تشرين الأول", 10),
            ("تشرين الاول", 10),
            ("تشرين الثاني", 11),
            ("كانون الأول", 12),
            ("كانون الاول", 12),
            ("جانفي", 1),
            ("فيفري", 2),
            ("أفريل", 4),
            ("ماي", 5),
            ("جوان", 6),
            ("جويلية", 7),
            ("يوليوز", 7),
            ("أوت", 8),
            ("غشت", 8),
            ("شتنبر", 9),
            ("نونبر", 11),
            ("دجنبر", 12),
        ];
        for &(name, month) in names {
            let want = format!("2025-{month:02}-15T00:00:00Z");
            assert_eq!(
                show(parse_date(&format!("15 {name} 2025"))).as_deref(),
                Some(&*want),
                "{name}"
            );
        }
        let weekdays = [
            "الأحد",
            "الاحد",
            "الاثنين",
            "الإثنين",
            "الثلاثاء",
            "الأربعاء",
            "الاربعاء",
            "الخميس",
            "الجمعة",
            "السبت",
        ];
        for day in weekdays {
            let got = show(parse_date(&format!("{day}، 15 يناير 2025")));
            assert_eq!(got.as_deref(), Some("2025-01-15T00:00:00Z"), "{day}");
        }
    }

    #[test]
    fn never_panics() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0) % bound.max(1)
        };
        let chars: Vec<char> = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹ :.-+/,،()TZtzAPMamp\
            صمـًأإآابتثكانونشريلوزيةهـ\u{0}\u{FEFF}\u{200F}é漢🙂\t\n"
            .chars()
            .collect();
        let words = [
            "2025",
            "11",
            "28",
            "0",
            "00",
            "9999",
            "0000",
            "99999999999",
            "-",
            ":",
            "+",
            ".",
            "/",
            " ",
            "(",
            ")",
            "T",
            "Z",
            "Nov",
            "Sept",
            "Fri,",
            "نوفمبر",
            "تشرين",
            "الثاني",
            "كانون",
            "م",
            "ص",
            "PM",
            "am",
            "GMT",
            "EST",
            "AEST",
            "+0300",
            "-05:00",
            "+99",
            "10:00",
            "24:00",
            "23:59:60",
            "10:00:00.",
            ".123456789012",
            "٢٠٢٥",
            "a.m.",
            "2025م",
            "هـ",
        ];
        let mut inputs: Vec<String> = Vec::new();
        for _ in 0..300 {
            let len = next(40);
            inputs.push((0..len).map(|_| chars[next(chars.len())]).collect());
        }
        for _ in 0..300 {
            let len = next(12);
            inputs.push(
                (0..len)
                    .map(|_| words[next(words.len())])
                    .collect::<Vec<_>>()
                    .join(""),
            );
        }
        for _ in 0..100 {
            let len = next(12);
            inputs.push(
                (0..len)
                    .map(|_| words[next(words.len())])
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        // Date-shaped: one choice per slot, good and bad, to reach `finish`.
        let slots: &[&[&str]] = &[
            &["", "Fri,", "الأحد،", "Wed"],
            &["28", "0", "31", "99", "٢٨", "1"],
            &[
                "Nov",
                "نوفمبر",
                "تشرين الثاني",
                "/11/",
                "-13-",
                ".02.",
                "Februaryy",
                "كانون",
            ],
            &["2025", "25", "0000", "9999", "10000", "49", "50", ""],
            &[
                "",
                "10:00",
                "23:59:59.999999999",
                "24:00",
                "12:00",
                "0:00",
                "10:0",
                "99:99",
            ],
            &["", "ص", "م", "PM", "AM", "a.m."],
            &[
                "", "Z", "+0300", "-23:59", "+24:00", "GMT+3", "AST", "XYZ", "(UTC)", "A",
            ],
        ];
        let seps = [" ", "", "-", "/", ", ", "T"];
        for _ in 0..500 {
            let parts: Vec<&str> = slots.iter().map(|slot| slot[next(slot.len())]).collect();
            inputs.push(parts.join(seps[next(seps.len())]));
        }
        inputs.push("(".repeat(10_000));
        inputs.push("9".repeat(10_000));
        inputs.push("+".repeat(1000) + "10:00");
        for input in &inputs {
            if let Some(d) = parse_date(input) {
                assert!((1..=9999).contains(&d.year()), "{input:?} → {d}");
            }
        }
    }
}
