//! A deterministic synthetic feed farm, shared by `examples/feedfarm.rs` (the
//! server) and `examples/bench.rs` (the driver, which also needs the same
//! documents in memory for the no-network measures).
//!
//! Every feed is RSS 2.0 or Atom 1.0 (one in three is Atom), Arabic (60 %)
//! or English political text, with 30 to 60 items and a body of roughly 50
//! to 150 KB. About a quarter of the items are "wire" stories shared between
//! feeds of the same language, each feed linking them with its own tracking
//! parameters, scheme, host case, default port, fragment or percent-escape
//! case, so that only canonicalisation makes them one item. The farm counts
//! the distinct stories it generated: after polling every feed, the store
//! must hold exactly that many items.
//!
//! Feed `i` is served at `http://{host(i)}:{port}/f/{i}.xml` where
//! `host(i)` is one of `hosts` loopback addresses (127.0.x.y; all of
//! 127.0.0.0/8 is loopback on Linux), so that the daemon's per-host limit
//! behaves as with real publishers.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

/// The farm's fixed "now": items are dated in the week before it.
pub const BASE_TIME: i64 = 1_750_000_000;
/// Seed of the generator; the same seed gives byte-identical documents.
pub const SEED: u64 = 0x5eed_f33d_2025;

/// splitmix64: tiny, fast and good enough for test data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next_u64() % words.len() as u64) as usize]
    }
}

const AR_WORDS: &[&str] = &[
    "الحكومة",
    "البرلمان",
    "الانتخابات",
    "الرئيس",
    "رئيس الوزراء",
    "المعارضة",
    "الأمم المتحدة",
    "مجلس الأمن",
    "الاتفاق",
    "المفاوضات",
    "السلام",
    "وقف إطلاق النار",
    "الاقتصاد",
    "الميزانية",
    "الإصلاح",
    "الدستور",
    "القانون",
    "المحكمة",
    "الشعب",
    "الدولة",
    "العاصمة",
    "الحدود",
    "اللاجئين",
    "المساعدات",
    "العقوبات",
    "النفط",
    "الغاز",
    "الاستثمار",
    "الوزير",
    "وزارة الخارجية",
    "الداخلية",
    "الدفاع",
    "الجيش",
    "الأمن",
    "المتظاهرين",
    "الاحتجاجات",
    "الحزب",
    "الائتلاف",
    "الأغلبية",
    "التصويت",
    "المرشح",
    "الحملة",
    "الديمقراطية",
    "الحرية",
    "الصحافة",
    "المواطنين",
    "الشباب",
    "البطالة",
    "التضخم",
    "الأسعار",
    "الضرائب",
    "الديون",
    "البنك المركزي",
    "القمة",
    "الزيارة",
    "الرسمية",
    "بيان",
    "مؤتمر صحفي",
    "أعلن",
    "قال",
    "أكد",
    "أضاف",
    "طالب",
    "رفض",
    "وافق",
    "ناقش",
    "اجتماع",
    "يوم",
    "الثلاثاء",
    "الأربعاء",
    "الخميس",
    "في",
    "من",
    "على",
    "إلى",
    "مع",
    "بعد",
    "قبل",
    "حول",
    "أن",
    "التي",
    "الذي",
    "هذا",
    "هذه",
    "عن",
    "بين",
    "خلال",
    "جديد",
    "جديدة",
    "واسع",
    "الإقليمي",
    "الدولي",
    "العربي",
    "المصري",
    "السوري",
    "العراقي",
    "اللبناني",
    "الأردني",
    "السعودي",
    "المغربي",
    "التونسي",
    "الجزائري",
    "الفلسطيني",
    "اليمني",
    "الليبي",
    "السوداني",
    "٢٠٢٥",
    "مليون",
    "دولار",
    "بالمئة",
    "المجلس",
    "النواب",
    "الشيوخ",
    "الحوار",
    "الوطني",
];

const EN_WORDS: &[&str] = &[
    "government",
    "parliament",
    "election",
    "president",
    "prime minister",
    "opposition",
    "United Nations",
    "Security Council",
    "agreement",
    "talks",
    "peace",
    "ceasefire",
    "economy",
    "budget",
    "reform",
    "constitution",
    "law",
    "court",
    "people",
    "state",
    "capital",
    "border",
    "refugees",
    "aid",
    "sanctions",
    "oil",
    "gas",
    "investment",
    "minister",
    "foreign ministry",
    "interior",
    "defence",
    "army",
    "security",
    "protesters",
    "protests",
    "party",
    "coalition",
    "majority",
    "vote",
    "candidate",
    "campaign",
    "democracy",
    "freedom",
    "press",
    "citizens",
    "youth",
    "unemployment",
    "inflation",
    "prices",
    "taxes",
    "debt",
    "central bank",
    "summit",
    "visit",
    "official",
    "statement",
    "news conference",
    "announced",
    "said",
    "stressed",
    "added",
    "demanded",
    "rejected",
    "approved",
    "discussed",
    "meeting",
    "on",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "in",
    "of",
    "the",
    "to",
    "with",
    "after",
    "before",
    "about",
    "that",
    "which",
    "this",
    "between",
    "during",
    "new",
    "broad",
    "regional",
    "international",
    "Arab",
    "Egyptian",
    "Syrian",
    "Iraqi",
    "Lebanese",
    "Jordanian",
    "Saudi",
    "Moroccan",
    "Tunisian",
    "Algerian",
    "Palestinian",
    "Yemeni",
    "Libyan",
    "Sudanese",
    "2025",
    "million",
    "dollars",
    "percent",
    "council",
    "lawmakers",
    "senate",
    "dialogue",
    "national",
];

const AR_AUTHORS: &[&str] = &[
    "محمد الأحمد",
    "فاطمة الزهراء",
    "أحمد سعيد",
    "ليلى حسن",
    "عمر خالد",
    "مراسل الوكالة",
];
const EN_AUTHORS: &[&str] = &[
    "Jane Doe",
    "Omar Khalid",
    "Sara Ahmed",
    "John Smith",
    "Staff reporter",
];
const AR_CATEGORIES: &[&str] = &["سياسة", "اقتصاد", "عربي ودولي", "أخبار", "تقارير"];
const EN_CATEGORIES: &[&str] = &["Politics", "World", "Middle East", "Economy", "Analysis"];

/// One feed document as served.
pub struct FeedDoc {
    pub index: usize,
    pub name: String,
    pub arabic: bool,
    pub atom: bool,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Quoted strong ETag.
    pub etag: String,
    /// HTTP date.
    pub last_modified: String,
    pub items: usize,
}

impl FeedDoc {
    /// The document parsed as the poller parses it, fetched from `url` at
    /// the farm's fixed time: the no-network measures start from this.
    pub fn parse(&self, url: &url::Url) -> feedwire::parse::ParsedFeed {
        let now = chrono::DateTime::from_timestamp(BASE_TIME, 0).expect("time");
        let feed = feedwire::parse::FeedRef {
            url,
            name: &self.name,
        };
        let limits = feedwire::parse::Limits::default();
        feedwire::parse::parse_feed(feed, &self.body, Some(self.content_type), now, limits)
            .expect("farm documents parse")
    }
}

/// The whole farm.
pub struct Farm {
    pub feeds: Vec<FeedDoc>,
    pub hosts: usize,
    /// Distinct stories over all feeds: what the store must hold after
    /// polling every feed once.
    pub expected_distinct: usize,
    pub total_items: usize,
    pub total_bytes: usize,
}

impl Farm {
    /// Generates `n` feeds on `hosts` addresses, on every core.
    pub fn generate(n: usize, hosts: usize) -> Farm {
        let hosts = hosts.clamp(1, n.max(1));
        let threads = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(n.max(1));
        let chunk = n.div_ceil(threads);
        let parts: Vec<(Vec<FeedDoc>, HashSet<String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut ids = HashSet::new();
                        let docs = (t * chunk..((t + 1) * chunk).min(n))
                            .map(|i| feed(i, n, &mut ids))
                            .collect::<Vec<_>>();
                        (docs, ids)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("generator thread"))
                .collect()
        });
        let mut feeds = Vec::with_capacity(n);
        let mut ids = HashSet::new();
        for (docs, part) in parts {
            feeds.extend(docs);
            ids.extend(part);
        }
        Farm {
            total_items: feeds.iter().map(|f| f.items).sum(),
            total_bytes: feeds.iter().map(|f| f.body.len()).sum(),
            expected_distinct: ids.len(),
            feeds,
            hosts,
        }
    }

    /// The loopback address serving feed `i`.
    pub fn host_of(&self, i: usize) -> IpAddr {
        host_addr(i % self.hosts)
    }

    /// Every address the farm listens on.
    pub fn addrs(&self) -> Vec<IpAddr> {
        (0..self.hosts).map(host_addr).collect()
    }

    pub fn url(&self, i: usize, port: u16) -> String {
        format!("http://{}:{port}/f/{i}.xml", self.host_of(i))
    }

    /// A `feeds.toml` polling every feed of the farm.
    pub fn config_toml(&self, port: u16, store: &str, listen: &str, concurrency: usize) -> String {
        let mut t = String::new();
        let _ = write!(
            t,
            "# Generated by the feedwire feed farm ({n} feeds on {h} loopback hosts).\n\
             [server]\nlisten = \"{listen}\"\nbase_url = \"http://feeds.bench.test/\"\n\n\
             [storage]\npath = {store:?}\n\
             # The farm's dates are fixed (around BASE_TIME): keep them all.\n\
             retention = \"36500d\"\nseen_retention = \"36500d\"\n\n\
             [poll]\ninterval = \"15m\"\nconcurrency = {concurrency}\ntimeout = \"30s\"\nfirst_poll_spread = \"0s\"\n\
             # The farm is on loopback addresses.\nallow_private_networks = true\n\n\
             [[output]]\nname = \"politics\"\ntitle = \"سياسة | Politics wire\"\nlanguage = \"ar\"\nmax_items = 200\ntags = [\"politics\"]\n\n",
            n = self.feeds.len(),
            h = self.hosts,
        );
        for f in &self.feeds {
            let _ = write!(
                t,
                "[[feed]]\nurl = \"{}\"\nname = {:?}\ntags = [\"politics\", \"{}\"]\n\n",
                self.url(f.index, port),
                f.name,
                if f.arabic { "ar" } else { "en" }
            );
        }
        t
    }
}

/// Host `h` as 127.0.x.y, skipping 127.0.0.0/24 (the usual 127.0.0.1).
pub fn host_addr(h: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, (1 + h / 250) as u8, (1 + h % 250) as u8))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn xml_escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
}

fn words(rng: &mut Rng, arabic: bool, n: usize) -> String {
    let vocab = if arabic { AR_WORDS } else { EN_WORDS };
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(vocab));
    }
    s
}

fn sentence(rng: &mut Rng, arabic: bool) -> String {
    let n = rng.range(8, 20);
    let mut s = words(rng, arabic, n);
    s.push_str(if arabic { "، " } else { ", " });
    let m = rng.range(3, 8);
    s.push_str(&words(rng, arabic, m));
    s.push('.');
    s
}

/// A story's article HTML, about `budget` bytes, in the style of news CMS
/// output (paragraphs, links, an image, the odd script to be sanitised away).
fn article_html(rng: &mut Rng, arabic: bool, budget: usize) -> String {
    let dir = if arabic { "rtl" } else { "ltr" };
    let mut html = String::with_capacity(budget + 512);
    let mut p = 0;
    while html.len() < budget {
        p += 1;
        match rng.range(0, 9) {
            0 => {
                let _ = write!(
                    html,
                    "<figure><img src=\"/images/{}.jpg\" alt=\"{}\" width=\"640\"><figcaption>{}</figcaption></figure>",
                    rng.next_u64() % 100_000,
                    words(rng, arabic, 4),
                    words(rng, arabic, 6)
                );
            }
            1 => {
                let _ = write!(
                    html,
                    "<blockquote dir=\"{dir}\">{}</blockquote>",
                    sentence(rng, arabic)
                );
            }
            2 if p > 2 => {
                let _ = write!(
                    html,
                    "<p>{} <a href=\"/news/related/{}\" onclick=\"track()\">{}</a></p><script>window.ads&&ads.push({p});</script>",
                    sentence(rng, arabic),
                    rng.next_u64() % 1_000_000,
                    words(rng, arabic, 3)
                );
            }
            _ => {
                let _ = write!(html, "<p dir=\"{dir}\">");
                for _ in 0..rng.range(2, 5) {
                    html.push_str(&sentence(rng, arabic));
                    html.push(' ');
                }
                html.push_str("</p>");
            }
        }
    }
    html
}

fn pct(s: &str, lower: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else if lower {
            let _ = write!(out, "%{b:02x}");
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn slug(rng: &mut Rng, arabic: bool) -> String {
    let n = rng.range(3, 6);
    words(rng, arabic, n).replace(' ', "-")
}

/// A story as one feed carries it.
struct Story {
    link: String,
    title: String,
    summary: String,
    content: String,
    date: i64,
    author: &'static str,
    category: &'static str,
    guid: String,
}

/// Wire story `w` (shared between feeds), as feed `f` links it.
fn wire_story(w: usize, f: usize, arabic: bool, budget: usize) -> Story {
    let mut rng = Rng::new(SEED ^ 0xA11CE ^ (w as u64).wrapping_mul(0x9E37_79B9));
    let lang = if arabic { "ar" } else { "en" };
    let s = slug(&mut rng, arabic);
    let path = |slug: &str| format!("wire.example/{lang}/2025/{w}/{slug}");
    // Variants a canonicaliser must fold into one key.
    let link = match (f + w) % 7 {
        0 => format!("https://{}?utm_source=feed{f}&utm_medium=rss", path(&s)),
        1 => format!("http://{}?fbclid=IwAR{f}x{w}", path(&pct(&s, false))),
        2 => format!("https://WIRE.example/{lang}/2025/{w}/{}#comments", pct(&s, true)),
        3 => format!("https://wire.example:443/{lang}/2025/{w}/{s}?utm_campaign=c{f}&gclid={f}x{w}"),
        4 => format!("https://{}", path(&s)),
        5 => format!("https://{}?utm_source=x&mc_cid={f}", path(&pct(&s, false))),
        _ => format!("http://{}#{f}", path(&pct(&s, true))),
    };
    let title = words(&mut rng, arabic, 9);
    let summary = format!("<p>{}</p>", sentence(&mut rng, arabic));
    let content = article_html(&mut rng, arabic, budget);
    let date = BASE_TIME - (rng.next_u64() % (7 * 86_400)) as i64;
    Story {
        link,
        title,
        summary,
        content,
        date,
        author: if arabic {
            "وكالة الأنباء"
        } else {
            "Wire service"
        },
        category: if arabic { "سياسة" } else { "Politics" },
        guid: format!("wire-{w}-via-{f}"),
    }
}

/// Story `k` of feed `f`, its own.
fn own_story(rng: &mut Rng, f: usize, k: usize, arabic: bool, budget: usize) -> Story {
    let s = slug(rng, arabic);
    let section = if arabic { "سياسة" } else { "politics" };
    let mut link = format!("https://www.outlet{f}.example/{section}/2025/06/{k}-{s}.html");
    if rng.chance(0.3) {
        link.push_str("?utm_source=rss&utm_medium=feed");
    }
    let title_words = rng.range(6, 12);
    let title = words(rng, arabic, title_words);
    let summary = format!("<p>{}</p>", sentence(rng, arabic));
    let content = article_html(rng, arabic, budget);
    Story {
        link,
        title,
        summary,
        content,
        date: BASE_TIME - (rng.next_u64() % (7 * 86_400)) as i64,
        author: rng.pick(if arabic { AR_AUTHORS } else { EN_AUTHORS }),
        category: rng.pick(if arabic { AR_CATEGORIES } else { EN_CATEGORIES }),
        guid: format!("outlet{f}-{k}"),
    }
}

fn rfc2822(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("valid time")
        .to_rfc2822()
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("valid time")
        .to_rfc3339()
}

fn http_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("valid time")
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Feed `i` of `n`; records the ids of the stories it carries in `ids`.
fn feed(i: usize, n: usize, ids: &mut HashSet<String>) -> FeedDoc {
    let mut rng = Rng::new(SEED ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let arabic = rng.chance(0.6);
    let atom = i % 3 == 0;
    let items = rng.range(30, 60);
    let target = rng.range(50_000, 150_000);
    // Item overhead (title, links, dates, summary) is about 700 bytes.
    let budget = (target / items).saturating_sub(700).max(200);
    // Wire stories: a pool of 3 per feed (an even number), even ids Arabic,
    // odd English.
    let pool = (3 * n).max(20).div_ceil(2) * 2;
    let name = if arabic {
        format!("منفذ إخباري {i}")
    } else {
        format!("Outlet {i} News")
    };
    let mut wire_taken = HashSet::new();
    let mut stories = Vec::with_capacity(items);
    for k in 0..items {
        let story = if rng.chance(0.25) {
            let mut w = rng.range(0, pool - 1);
            if (w % 2 == 0) != arabic {
                w = (w + 1) % pool;
            }
            if !wire_taken.insert(w) {
                continue;
            }
            ids.insert(format!("w{w}"));
            wire_story(w, i, arabic, budget)
        } else {
            ids.insert(format!("f{i}-{k}"));
            own_story(&mut rng, i, k, arabic, budget)
        };
        stories.push(story);
    }
    let updated = stories.iter().map(|s| s.date).max().unwrap_or(BASE_TIME);
    let body = if atom {
        atom_doc(i, &name, arabic, updated, &stories)
    } else {
        rss_doc(i, &name, arabic, updated, &stories)
    };
    let etag = format!("\"{:016x}\"", fnv(body.as_bytes()));
    FeedDoc {
        index: i,
        name,
        arabic,
        atom,
        content_type: if atom {
            "application/atom+xml; charset=utf-8"
        } else {
            "application/rss+xml; charset=utf-8"
        },
        body: body.into_bytes(),
        etag,
        last_modified: http_date(updated),
        items: stories.len(),
    }
}

fn rss_doc(i: usize, name: &str, arabic: bool, updated: i64, stories: &[Story]) -> String {
    let mut x = String::with_capacity(160_000);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>");
    xml_escape(name, &mut x);
    let _ = write!(
        x,
        "</title>\n<link>https://www.outlet{i}.example/</link>\n<description>{}</description>\n<language>{}</language>\n<lastBuildDate>{}</lastBuildDate>\n",
        if arabic { "آخر الأخبار السياسية" } else { "Latest political news" },
        if arabic { "ar" } else { "en" },
        rfc2822(updated)
    );
    for s in stories {
        x.push_str("<item>\n<title>");
        xml_escape(&s.title, &mut x);
        x.push_str("</title>\n<link>");
        xml_escape(&s.link, &mut x);
        let _ = write!(
            x,
            "</link>\n<guid isPermaLink=\"false\">{}</guid>\n<pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n<category>{}</category>\n<description><![CDATA[{}]]></description>\n",
            s.guid,
            rfc2822(s.date),
            s.author,
            s.category,
            s.summary,
        );
        // The small documents (`Churn`) carry summaries only.
        if !s.content.is_empty() {
            let _ = writeln!(x, "<content:encoded><![CDATA[{}]]></content:encoded>", s.content);
        }
        x.push_str("</item>\n");
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

fn atom_doc(i: usize, name: &str, arabic: bool, updated: i64, stories: &[Story]) -> String {
    let lang = if arabic { "ar" } else { "en" };
    let mut x = String::with_capacity(160_000);
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{lang}\">\n<title>"
    );
    xml_escape(name, &mut x);
    let _ = write!(
        x,
        "</title>\n<id>tag:outlet{i}.example,2025:feed</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"https://www.outlet{i}.example/\"/>\n<updated>{}</updated>\n",
        rfc3339(updated)
    );
    for s in stories {
        x.push_str("<entry>\n<title type=\"text\">");
        xml_escape(&s.title, &mut x);
        x.push_str("</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"");
        xml_escape(&s.link, &mut x);
        let _ = write!(
            x,
            "\"/>\n<id>tag:outlet{i}.example,2025:{}</id>\n<published>{}</published>\n<updated>{}</updated>\n<author><name>{}</name></author>\n<category term=\"{}\"/>\n<summary type=\"html\">",
            s.guid,
            rfc3339(s.date),
            rfc3339(s.date),
            s.author,
            s.category
        );
        xml_escape(&s.summary, &mut x);
        x.push_str("</summary>\n");
        if !s.content.is_empty() {
            x.push_str("<content type=\"html\">");
            xml_escape(&s.content, &mut x);
            x.push_str("</content>\n");
        }
        x.push_str("</entry>\n");
    }
    x.push_str("</feed>\n");
    x
}

// ---------------------------------------------------------------------------
// Small documents that change by rounds: the 100,000-feed simulation.

/// Feeds of small headline documents (10 to 20 items of a title, a link, a
/// one- or two-sentence summary, a date, an author and a category; 4 to
/// 12 KB, as the RSS of a news site's section is) that change by rounds: at
/// every round after the first a `share` of the feeds, chosen from the
/// seed, gain one to three new items at the top and drop as many at the
/// bottom. A fifth of the items are wire stories of that round, carried
/// by several feeds under differently decorated links. Feed `i` at round
/// `r` is the same bytes whoever asks, so validators (ETag, Last-Modified)
/// give 304s for every feed that did not change.
pub struct Churn {
    pub n: usize,
    pub hosts: usize,
    pub share: f64,
}

/// One feed of a [`Churn`] farm at one round.
pub struct SmallDoc {
    pub body: Vec<u8>,
    pub etag: String,
    pub last_modified: String,
    pub content_type: &'static str,
}

/// A virtual quarter-hour per round: new items are dated by round.
const ROUND_SPAN: i64 = 900;

impl Churn {
    fn seed(i: usize) -> u64 {
        SEED ^ 0x5_3a11 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
    }

    /// Whether feed `i` is Arabic, is Atom, and how many items it shows.
    pub fn shape(&self, i: usize) -> (bool, bool, usize) {
        let mut rng = Rng::new(Self::seed(i));
        (rng.chance(0.6), i % 3 == 0, rng.range(10, 20))
    }

    pub fn name(&self, i: usize) -> String {
        if self.shape(i).0 {
            format!("موجز {i}")
        } else {
            format!("Briefs {i}")
        }
    }

    /// New items feed `i` gains at round `r` (0 when unchanged).
    pub fn added(&self, i: usize, r: u64) -> usize {
        if r == 0 {
            return 0;
        }
        let mut rng = Rng::new(Self::seed(i) ^ r.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if rng.chance(self.share) {
            rng.range(1, 3)
        } else {
            0
        }
    }

    /// The feed's version at round `r`: how many rounds changed it.
    pub fn version(&self, i: usize, r: u64) -> u64 {
        (1..=r).filter(|&k| self.added(i, k) > 0).count() as u64
    }

    /// Items feed `i` has shown up to round `r`, each with its round.
    fn items_until(&self, i: usize, r: u64) -> Vec<u64> {
        let (_, _, shown) = self.shape(i);
        let mut rounds = vec![0; shown];
        for k in 1..=r {
            rounds.extend(std::iter::repeat_n(k, self.added(i, k)));
        }
        rounds
    }

    /// Item `j` (added at round `r`) of feed `i`: `Some(w)` when it is wire
    /// story `w` of that round.
    fn wire_of(&self, i: usize, j: usize, r: u64) -> Option<u64> {
        let mut rng = Rng::new(Self::seed(i) ^ (j as u64).wrapping_mul(0x94D0_49BB_1331_11EB) ^ 0x77);
        if !rng.chance(0.2) {
            return None;
        }
        // A pool per round and language: even ids Arabic, odd English.
        let pool = (self.n as u64 / 25).max(10) * 2;
        let mut w = rng.next_u64() % pool;
        if (w % 2 == 0) != self.shape(i).0 {
            w = (w + 1) % pool;
        }
        Some(r * pool + w)
    }

    /// Distinct stories shown by all feeds up to round `r`: what the
    /// store holds after polling every feed at every round.
    pub fn distinct_until(&self, r: u64) -> usize {
        let mut wire = HashSet::new();
        let mut own = 0;
        for i in 0..self.n {
            for (j, &k) in self.items_until(i, r).iter().enumerate() {
                match self.wire_of(i, j, k) {
                    Some(w) => {
                        wire.insert(w);
                    }
                    None => own += 1,
                }
            }
        }
        own + wire.len()
    }

    /// The date of feed `i`'s newest item at round `r` (its
    /// `Last-Modified`), without building the document.
    pub fn updated(&self, i: usize, r: u64) -> i64 {
        match (1..=r)
            .rev()
            .find_map(|k| Some((k, self.added(i, k))).filter(|&(_, a)| a > 0))
        {
            Some((k, a)) => BASE_TIME + k as i64 * ROUND_SPAN - 300 + (a as i64 - 1) * 60,
            None => BASE_TIME - 3_600,
        }
    }

    /// Feed `i`'s ETag at round `r`.
    pub fn etag(&self, i: usize, r: u64) -> String {
        format!("\"s{i:x}-{}\"", self.version(i, r))
    }

    pub fn http_date(t: i64) -> String {
        http_date(t)
    }

    /// Feed `i` as served at round `r`.
    pub fn doc(&self, i: usize, r: u64) -> SmallDoc {
        let (arabic, atom, shown) = self.shape(i);
        let rounds = self.items_until(i, r);
        let total = rounds.len();
        let name = self.name(i);
        let mut stories = Vec::with_capacity(shown);
        // Newest first, as feeds list them.
        for j in (total - shown..total).rev() {
            let k = rounds[j];
            // Position within its round, for dates that grow with `j`.
            let nth = rounds[..j].iter().rev().take_while(|&&x| x == k).count() as i64;
            let date = if k == 0 {
                BASE_TIME - (shown - j) as i64 * 3_600
            } else {
                BASE_TIME + k as i64 * ROUND_SPAN - 300 + nth * 60
            };
            stories.push(self.story(i, j, k, arabic, date));
        }
        let updated = stories.first().map_or(BASE_TIME, |s| s.date);
        debug_assert_eq!(updated, self.updated(i, r));
        let body = if atom {
            atom_doc(i, &name, arabic, updated, &stories)
        } else {
            rss_doc(i, &name, arabic, updated, &stories)
        };
        SmallDoc {
            body: body.into_bytes(),
            etag: self.etag(i, r),
            last_modified: http_date(updated),
            content_type: if atom {
                "application/atom+xml; charset=utf-8"
            } else {
                "application/rss+xml; charset=utf-8"
            },
        }
    }

    fn story(&self, i: usize, j: usize, k: u64, arabic: bool, date: i64) -> Story {
        let mut rng = Rng::new(Self::seed(i) ^ (j as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
        let lang = if arabic { "ar" } else { "en" };
        let summary = |rng: &mut Rng| {
            let mut s = format!("<p>{}", sentence(rng, arabic));
            if rng.chance(0.5) {
                s.push(' ');
                s.push_str(&sentence(rng, arabic));
            }
            s.push_str("</p>");
            s
        };
        if let Some(w) = self.wire_of(i, j, k) {
            // The same story (title, summary) in every feed that carries
            // it; only the link's decoration differs.
            let mut wr = Rng::new(SEED ^ 0xA11CE ^ w.wrapping_mul(0x9E37_79B9));
            let s = slug(&mut wr, arabic);
            let path = format!("wire.example/{lang}/{k}/{w}/{s}");
            let link = match (i as u64 + w) % 4 {
                0 => format!("https://{path}?utm_source=feed{i}&utm_medium=rss"),
                1 => format!("http://{path}#via-{i}"),
                2 => format!("https://WIRE.example:443/{lang}/{k}/{w}/{s}?fbclid=x{i}"),
                _ => format!("https://{path}"),
            };
            let title = words(&mut wr, arabic, 9);
            return Story {
                link,
                title,
                summary: summary(&mut wr),
                content: String::new(),
                date,
                author: if arabic {
                    "وكالة الأنباء"
                } else {
                    "Wire service"
                },
                category: if arabic { "سياسة" } else { "Politics" },
                guid: format!("wire-{w}-via-{i}"),
            };
        }
        let s = slug(&mut rng, arabic);
        let section = if arabic { "موجز" } else { "briefs" };
        let mut link = format!("https://www.outlet{i}.example/{section}/{j}-{s}.html");
        if rng.chance(0.3) {
            link.push_str("?utm_source=rss");
        }
        let title_words = rng.range(6, 12);
        Story {
            link,
            title: words(&mut rng, arabic, title_words),
            summary: summary(&mut rng),
            content: String::new(),
            date,
            author: rng.pick(if arabic { AR_AUTHORS } else { EN_AUTHORS }),
            category: rng.pick(if arabic { AR_CATEGORIES } else { EN_CATEGORIES }),
            guid: format!("outlet{i}-{j}"),
        }
    }

    pub fn url(&self, i: usize, port: u16) -> String {
        format!("http://{}:{port}/f/{i}.xml", host_addr(i % self.hosts))
    }

    pub fn addrs(&self) -> Vec<IpAddr> {
        (0..self.hosts).map(host_addr).collect()
    }

    /// A `feeds.toml` for these feeds. `interval` is the floor (1m): the
    /// farm's `Cache-Control: max-age` (the time to its next round) sets
    /// when each feed is due again.
    pub fn config_toml(&self, port: u16, store: &str, listen: &str, concurrency: usize) -> String {
        let mut t = String::new();
        let _ = write!(
            t,
            "# Generated by the feedwire feed farm (--small: {n} feeds on {h} loopback hosts).\n\
             [server]\nlisten = \"{listen}\"\nbase_url = \"http://feeds.bench.test/\"\n\n\
             [storage]\npath = {store:?}\n\
             # The farm's dates are fixed (around BASE_TIME): keep them all.\n\
             retention = \"36500d\"\nseen_retention = \"36500d\"\n\n\
             # interval is the floor: the farm's Cache-Control max-age (the time\n\
             # to its next round) decides when each feed is due again.\n\
             [poll]\ninterval = \"1m\"\nconcurrency = {concurrency}\ntimeout = \"30s\"\nfirst_poll_spread = \"0s\"\n\
             # The farm is on loopback addresses.\nallow_private_networks = true\n\n\
             [[output]]\nname = \"politics\"\ntitle = \"سياسة | Politics wire\"\nlanguage = \"ar\"\nmax_items = 200\ntags = [\"politics\"]\n\n",
            n = self.n,
            h = self.hosts,
        );
        for i in 0..self.n {
            let _ = write!(
                t,
                "[[feed]]\nurl = \"{}\"\nname = {:?}\ntags = [\"politics\", \"{}\"]\n\n",
                self.url(i, port),
                self.name(i),
                if self.shape(i).0 { "ar" } else { "en" }
            );
        }
        t
    }
}
