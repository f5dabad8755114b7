use super::features::*;
use super::words::*;
use super::*;
use crate::item::Source;
use crate::select::normalize;

const HOUR: i64 = 3600;
const T0: i64 = 1_764_000_000;

fn item(key: &str, outlet: &str, lang: &str, date: i64, title: &str, summary: &str) -> Item {
    Item {
        key: ItemKey::from_stored(format!("//{outlet}.example/{key}")),
        link: Some(format!("https://{outlet}.example/{key}")),
        title: title.into(),
        summary: (!summary.is_empty()).then(|| format!("<p>{summary}</p>")),
        content: None,
        authors: vec![],
        categories: vec![],
        published: Some(date),
        updated: None,
        first_seen: date,
        date,
        language: (!lang.is_empty()).then(|| lang.to_owned()),
        enclosure: None,
        sources: vec![Source {
            feed_url: format!("https://{outlet}.example/feed"),
            feed_name: outlet.into(),
            link: None,
        }],
        fingerprint: None,
    }
}

fn cfg(threshold: f64) -> ClusterConfig {
    ClusterConfig {
        window: DEFAULT_WINDOW,
        threshold,
    }
}

fn together(c: &Clusterer, a: &Item, b: &Item) -> bool {
    c.cluster_of(&a.key).map(|x| x.id) == c.cluster_of(&b.key).map(|x| x.id)
}

/// Every cluster as (id, lead, sorted member keys).
fn partition(c: &Clusterer) -> BTreeSet<(String, String, Vec<String>)> {
    c.clusters()
        .map(|cl| {
            let mut keys: Vec<String> = cl.members.iter().map(|m| m.key.to_string()).collect();
            keys.sort();
            (cl.id.to_string(), cl.lead.to_string(), keys)
        })
        .collect()
}

// One story as four Arabic outlets and one English outlet ran it.

fn tariffs_aj(date: i64) -> Item {
    item(
        "aj-tariffs",
        "aljazeera",
        "ar",
        date,
        "ترامب يفرض رسوما جمركية بنسبة 25% على السيارات المستوردة",
        "وقّع الرئيس الأميركي دونالد ترامب أمرا تنفيذيا يفرض رسوما جمركية بنسبة 25% على جميع \
         السيارات المستوردة إلى الولايات المتحدة، على أن تدخل حيز التنفيذ مطلع الشهر المقبل.",
    )
}

fn tariffs_sky(date: i64) -> Item {
    item(
        "sky-tariffs",
        "skynewsarabia",
        "ar",
        date,
        "رسوم ترامب الجديدة.. 25 بالمئة على السيارات المستوردة",
        "أعلن الرئيس الأميركي ترامب فرض رسوم جمركية بنسبة ٢٥٪ على واردات السيارات المستوردة، \
         ما أثار قلق شركات صناعة السيارات في اليابان وكوريا الجنوبية وألمانيا.",
    )
}

fn tariffs_asharq(date: i64) -> Item {
    item(
        "asharq-tariffs",
        "aawsat",
        "ar",
        date,
        "ترمب يفرض رسوماً جمركية بنسبة 25 % على السيارات المستوردة",
        "أعلن الرئيس الأميركي دونالد ترمب فرض رسوم جمركية بنسبة 25 في المائة على السيارات \
         وقطع الغيار المستوردة، في خطوة قال إنها ستعيد المصانع إلى الولايات المتحدة.",
    )
}

fn tariffs_bbc_arabic(date: i64) -> Item {
    item(
        "bbcarabic-tariffs",
        "bbcarabic",
        "ar",
        date,
        "ترامب يعلن رسوما جمركية جديدة على السيارات المستوردة",
        "أعلن الرئيس الأمريكي دونالد ترامب فرض رسوم جمركية بنسبة 25 في المئة على السيارات \
         المستوردة، وقال إن الرسوم ستكون دائمة.",
    )
}

fn tariffs_reuters(date: i64) -> Item {
    item(
        "reuters-tariffs",
        "reuters",
        "en",
        date,
        "Trump announces 25% tariffs on imported cars",
        "US President Donald Trump on Wednesday announced 25% tariffs on imported cars and light \
         trucks, a move he said would spur domestic manufacturing.",
    )
}

/// A different story about the same person and the same tool.
fn steel_aj(date: i64) -> Item {
    item(
        "aj-steel",
        "aljazeera",
        "ar",
        date,
        "ترامب يضاعف الرسوم الجمركية على الصلب والألمنيوم إلى 50%",
        "أعلن الرئيس الأميركي دونالد ترامب مضاعفة الرسوم الجمركية على واردات الصلب والألمنيوم \
         إلى 50%، خلال كلمة أمام عمال مصنع للصلب في ولاية بنسلفانيا.",
    )
}

// ----- evaluation set -----

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    story: String,
    outlet: String,
    lang: String,
    title: String,
    summary: String,
}

fn eval_rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clusters/eval.jsonl");
    std::fs::read_to_string(path)
        .expect("evaluation set")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Items of the evaluation set, ten minutes apart in file order (all
/// within one window), one feed per outlet.
fn eval_items(rows: &[Row]) -> Vec<Item> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let outlet: String = r
                .outlet
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let mut it = item(&r.id, &outlet, &r.lang, T0 + i as i64 * 600, &r.title, &r.summary);
            it.key = ItemKey::from_stored(format!("//eval.example/{}", r.id));
            it
        })
        .collect()
}

/// Pairwise (true positives, false positives, false negatives) of a
/// clustering of the evaluation set; same-story pairs in different
/// languages are not expected (languages never cluster).
fn score(rows: &[Row], predicted: &[ClusterId], verbose: bool) -> (u32, u32, u32) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let gold = rows[i].story == rows[j].story && rows[i].lang == rows[j].lang;
            let same = predicted[i] == predicted[j];
            if same {
                assert_eq!(rows[i].lang, rows[j].lang, "{} {}", rows[i].id, rows[j].id);
                assert_ne!(rows[i].outlet, rows[j].outlet, "{} {}", rows[i].id, rows[j].id);
            }
            match (gold, same) {
                (true, true) => tp += 1,
                (false, true) => {
                    fp += 1;
                    if verbose {
                        println!(
                            "merged different stories: {} ({}) / {} ({})",
                            rows[i].id, rows[i].story, rows[j].id, rows[j].story
                        );
                    }
                }
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
        }
    }
    (tp, fp, fn_)
}

fn cluster_eval(items: &[Item], threshold: f64) -> (Clusterer, Vec<ClusterId>) {
    let mut clusterer = Clusterer::new(cfg(threshold)).with_idf(Idf::from_items(items));
    for it in items {
        clusterer.add(it);
    }
    let ids = items
        .iter()
        .map(|it| clusterer.cluster_of(&it.key).expect("indexed").id)
        .collect();
    (clusterer, ids)
}

#[test]
fn idf_weighs_the_words_of_the_day_less() {
    // 40 items of a window all about tariffs; two reports share mostly
    // "tariffs" and "trump", two others an event's rare words.
    let mut items: Vec<Item> = (0..40)
        .map(|i| {
            item(
                &format!("t{i}"),
                &format!("o{}", i % 7),
                "en",
                T0 + i,
                &format!("Trump tariffs story number{i} word{i}"),
                "",
            )
        })
        .collect();
    let a = item("a", "x", "en", T0, "Trump tariffs take effect", "");
    let b = item("b", "y", "en", T0, "Trump tariffs take hold", "");
    let c = item("c", "x", "en", T0, "Swiss watchmakers count the cost", "");
    let d = item("d", "y", "en", T0, "Watchmakers in Swiss valleys count cost", "");
    items.extend([a.clone(), b.clone(), c.clone(), d.clone()]);
    let idf = Idf::from_items(&items);
    assert_eq!(idf.len(), 44);
    let outlets = Outlets::default();
    let plain = similarity_with(&a, &b, DEFAULT_WINDOW, &outlets);
    let weighed = similarity_in(&a, &b, DEFAULT_WINDOW, &outlets, Some(&idf));
    // Words of the day weigh less: the pair sharing mostly them loses.
    assert!(
        weighed.unwrap_or(0.0) < plain.unwrap_or(0.0),
        "{plain:?} {weighed:?}"
    );
    // Rare words keep their weight: the pair sharing them does not.
    assert_eq!(
        similarity_with(&c, &d, DEFAULT_WINDOW, &outlets),
        similarity_in(&c, &d, DEFAULT_WINDOW, &outlets, Some(&idf))
    );
    // A small window counts as IDF_MIN_ITEMS items: nothing changes.
    let small = Idf::from_items([&a, &b]);
    assert_eq!(
        plain,
        similarity_in(&a, &b, DEFAULT_WINDOW, &outlets, Some(&small))
    );
    assert!(Idf::default().is_empty());
}

#[test]
fn evaluation() {
    let rows = eval_rows();
    let items = eval_items(&rows);

    // The set itself: size, share of Arabic, stories of 1 to 5 items
    // from different outlets.
    let arabic = rows.iter().filter(|r| r.lang == "ar").count();
    assert!(rows.len() >= 200, "{} items", rows.len());
    assert!(arabic * 10 >= rows.len() * 6, "{arabic} Arabic items");
    let mut stories: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for r in &rows {
        assert!(r.lang == "ar" || r.lang == "en", "{}", r.id);
        stories.entry((&r.story, &r.lang)).or_default().push(&r.outlet);
    }
    for (story, outlets) in &stories {
        let distinct: BTreeSet<_> = outlets.iter().collect();
        assert!(outlets.len() <= 5 && distinct.len() == outlets.len(), "{story:?}");
    }

    let (clusterer, predicted) = cluster_eval(&items, DEFAULT_THRESHOLD);
    let (tp, fp, fn_) = score(&rows, &predicted, true);
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    let multi = stories.values().filter(|o| o.len() > 1).count();
    println!(
        "evaluation: {} items ({} Arabic), {} stories ({} with 2+ items), {} same-story pairs; \
         predicted {} pairs in {} clusters; precision {:.3}, recall {:.3}; {} comparisons",
        rows.len(),
        arabic,
        stories.len(),
        multi,
        tp + fn_,
        tp + fp,
        clusterer.stats().clusters,
        precision,
        recall,
        clusterer.stats().comparisons,
    );
    // Issue 15's hidden set asks that no pair judged different be merged:
    // since the stages of a case keep an arrest from its trial, none is here.
    assert_eq!(
        fp, 0,
        "{fp} pairs of different stories merged; precision {precision:.3}"
    );
    assert!(recall >= 0.9, "recall {recall:.3}");
}

/// A threshold sweep over the evaluation set, for tuning:
/// `cargo test --lib cluster::tests::threshold_sweep -- --ignored --nocapture`.
#[test]
#[ignore]
fn threshold_sweep() {
    let rows = eval_rows();
    let items = eval_items(&rows);
    for threshold in [0.30, 0.42, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98] {
        let (_, predicted) = cluster_eval(&items, threshold);
        let (tp, fp, fn_) = score(&rows, &predicted, false);
        println!(
            "threshold {threshold:.2}: precision {:.3} recall {:.3} ({tp} right, {fp} wrong, {fn_} missed pairs)",
            f64::from(tp) / f64::from((tp + fp).max(1)),
            f64::from(tp) / f64::from((tp + fn_).max(1)),
        );
    }
}

#[test]
fn evaluation_does_not_depend_on_order() {
    let rows = eval_rows();
    let items = eval_items(&rows);
    let (forward, _) = cluster_eval(&items, DEFAULT_THRESHOLD);
    let expected = partition(&forward);

    let mut reversed = items.clone();
    reversed.reverse();
    let (backward, _) = cluster_eval(&reversed, DEFAULT_THRESHOLD);
    assert_eq!(partition(&backward), expected);

    // A fixed shuffle: every 7th item, wrapping around.
    let shuffled: Vec<Item> = (0..items.len())
        .map(|i| items[(i * 7) % items.len()].clone())
        .collect();
    assert_eq!(items.len() % 7, 2, "7 must be coprime with the set size");
    let (mixed, _) = cluster_eval(&shuffled, DEFAULT_THRESHOLD);
    assert_eq!(partition(&mixed), expected);

    // group() over the newest-first list agrees with the clusterer.
    let groups = group(&reversed, &cfg(DEFAULT_THRESHOLD), &Outlets::default());
    let from_groups: BTreeSet<(String, String, Vec<String>)> = groups
        .iter()
        .map(|g| {
            let mut keys: Vec<String> = std::iter::once(g.lead)
                .chain(g.others.iter().map(|&(i, _)| i))
                .map(|i| reversed[i].key.to_string())
                .collect();
            keys.sort();
            (g.id.clone(), reversed[g.lead].key.to_string(), keys)
        })
        .collect();
    assert_eq!(from_groups, expected);
}

#[test]
fn one_story_from_several_outlets() {
    let items = [
        tariffs_aj(T0),
        tariffs_sky(T0 + HOUR),
        tariffs_asharq(T0 + 2 * HOUR),
        tariffs_bbc_arabic(T0 + 3 * HOUR),
        steel_aj(T0 + 4 * HOUR),
    ];
    let mut c = Clusterer::new(ClusterConfig::default());
    for it in &items {
        c.add(it);
    }
    let cluster = c.cluster_of(&items[0].key).unwrap();
    assert_eq!(cluster.lead, items[0].key);
    assert_eq!(cluster.members.len(), 4, "{:?}", cluster.members);
    assert_eq!(cluster.members[0].score, 1.0);
    assert!(cluster.members[1..]
        .iter()
        .all(|m| m.score > 0.0 && m.score < 1.0));
    // The steel story (same person, same outlet as the lead, other
    // event) stays apart.
    assert!(!together(&c, &items[0], &items[4]));
    assert!(!together(&c, &items[1], &items[4]));
    assert_eq!(c.stats().clusters, 2);
}

#[test]
fn outlets_are_sites() {
    for (url, domain) in [
        ("https://news.bbc.co.uk/2/hi/world", Some("bbc.co.uk")),
        ("https://www.bbc.co.uk/news/uk", Some("bbc.co.uk")),
        ("http://WWW.CNN.com./WORLD/", Some("cnn.com")),
        ("https://www.aljazeera.net/news/", Some("aljazeera.net")),
        (
            "https://evilgodfahim.github.io/reur/",
            Some("evilgodfahim.github.io"),
        ),
        ("https://spz.local/nyt-world.xml", None),
        ("https://aljazeera.example/feed", None),
        ("http://127.0.0.1:8080/feed", None),
        ("not a url", None),
    ] {
        assert_eq!(registrable_domain(url).as_deref(), domain, "{url}");
    }
    // A feed's outlet: its key, else its site, else the item's link.
    let mut a = tariffs_aj(T0);
    a.link = Some("https://www.aljazeera.net/news/a".into());
    let mut b = tariffs_sky(T0);
    b.link = Some("https://www.skynewsarabia.com/b".into());
    let none = Outlets::new();
    assert_eq!(none.of(&a).as_deref(), Some("aljazeera.net"));
    let mut outlets = Outlets::new();
    outlets.insert_site(&a.sources[0].feed_url, "https://arabic.example.org/");
    outlets.insert(&b.sources[0].feed_url, " Al Jazeera ");
    assert_eq!(outlets.of(&a).as_deref(), Some("example.org"));
    assert_eq!(outlets.of(&b).as_deref(), Some("al jazeera"));
    // No known domain anywhere: the feed URL, as before.
    let c = tariffs_asharq(T0);
    assert_eq!(none.of(&c).as_deref(), Some(c.sources[0].feed_url.as_str()));
    // Two feeds given one outlet never merge their items.
    let mut c = Clusterer::with_outlets(cfg(0.0), {
        let mut o = Outlets::new();
        o.insert(&a.sources[0].feed_url, "one");
        o.insert(&b.sources[0].feed_url, "ONE");
        o
    });
    assert_ne!(c.add(&a), c.add(&b));
    assert!(similarity(&a, &b, DEFAULT_WINDOW).is_some());
}

#[test]
fn summary_agreement() {
    // Two reports of one decision (after the real pair of the tuning
    // half, Reuters / WSJ on Incirlik) whose headlines share one name and
    // whose summaries tell the same event; beside them the second headline
    // over a summary about something else. English and Arabic.
    let en_a = item(
        "incirlik",
        "reuters",
        "en",
        T0,
        "Turkey opens Incirlik base to American jets",
        "Turkey has agreed to allow U.S. planes to launch air strikes against Islamic State militants \
         from the U.S. air base at Incirlik, close to the Syrian border, officials said.",
    );
    let en_b = item(
        "soil",
        "wsj",
        "en",
        T0 + HOUR,
        "Turkey to Allow U.S. Strikes Against ISIS From Its Soil",
        "Turkey agreed to allow the U.S. to use its soil to launch airstrikes against Islamic State \
         forces in neighboring Syria, in a major shift long sought by Washington.",
    );
    let en_other = item(
        "lira",
        "ft",
        "en",
        T0 + HOUR,
        "Turkey to Allow U.S. Strikes Against ISIS From Its Soil",
        "The lira fell to a record low as investors weighed the central bank's surprise decision to \
         hold interest rates despite inflation above 70 per cent.",
    );
    let ar_a = item(
        "incirlik",
        "aljazeera",
        "ar",
        T0,
        "تركيا تفتح قاعدة إنجرليك أمام الطائرات الأمريكية",
        "وافقت تركيا على السماح للطائرات الأمريكية بشن غارات على مسلحي تنظيم الدولة انطلاقا من \
         قاعدة إنجرليك الجوية قرب الحدود السورية، وفق مسؤولين.",
    );
    let ar_b = item(
        "soil",
        "skynewsarabia",
        "ar",
        T0 + HOUR,
        "واشنطن تحصل على موافقة تركيا لضرب داعش",
        "وافقت تركيا على أن تستخدم الطائرات الأمريكية أراضيها وقاعدة إنجرليك الجوية لشن غارات على \
         تنظيم الدولة في سوريا المجاورة، في تحول كبير طالما سعت إليه واشنطن خلال أشهر من المفاوضات \
         الصعبة مع حكومة أردوغان.",
    );
    let ar_other = item(
        "lira",
        "alarabiya",
        "ar",
        T0 + HOUR,
        "واشنطن تحصل على موافقة تركيا لضرب داعش",
        "تراجعت الليرة إلى مستوى قياسي بعد أن أبقى البنك المركزي على أسعار الفائدة رغم تجاوز التضخم \
         سبعين في المئة.",
    );
    let items = [en_a, en_b, en_other, ar_a, ar_b, ar_other];
    let table = PairTable::new(&items, &Outlets::new(), None);
    for (a, b, other) in [(0, 1, 2), (3, 4, 5)] {
        let f = table.features(a, b, DEFAULT_WINDOW).unwrap();
        // The words alone stay below the threshold ...
        assert!(f.dice < DEFAULT_THRESHOLD, "{a}-{b}: {f:?}");
        // ... the summaries agree, and that makes them one story.
        assert!(summary_agrees(&f), "{a}-{b}: {f:?}");
        assert!(f.summary_overlap >= SUMMARY_MIN_OVERLAP, "{a}-{b}: {f:?}");
        assert!(
            table.similarity(a, b, DEFAULT_WINDOW).unwrap() >= DEFAULT_THRESHOLD,
            "{a}-{b}"
        );
        // A summary about something else shares none of the event's words.
        let g = table.features(a, other, DEFAULT_WINDOW).unwrap();
        assert!(!summary_agrees(&g), "{a}-{other}: {g:?}");
        assert_eq!(g.summary_shared, 0.0, "{a}-{other}: {g:?}");
    }
    // Words both headlines have are the headlines' evidence, not the
    // summaries': a summary repeating its headline agrees with nothing.
    let echo = [
        item("x", "one", "en", T0, "Gantz quits", "Gantz quits."),
        item("y", "two", "en", T0, "Gantz quits", "Gantz quits."),
    ];
    let table = PairTable::new(&echo, &Outlets::new(), None);
    let f = table.features(0, 1, DEFAULT_WINDOW).unwrap();
    assert_eq!((f.summary_shared, f.summary_overlap), (0.0, 0.0), "{f:?}");
}

#[test]
fn event_word_classes() {
    // Two wordings of one event meet on the class's form...
    for (x, y) in [
        ("blast", "explosion"),
        ("bombing", "explosions"),
        ("protest", "marchers"),
        ("weighs", "considering"),
        ("resigns", "quit"),
    ] {
        let (fx, fy) = (word_forms(x).unwrap(), word_forms(y).unwrap());
        assert!(fx.iter().any(|f| fy.contains(f)), "{x} {fx:?} / {y} {fy:?}");
    }
    // ...while the steps of one story stay different words.
    for (x, y) in [
        ("approves", "ratifies"),
        ("arrested", "trial"),
        ("blast", "attack"),
    ] {
        let (fx, fy) = (word_forms(x).unwrap(), word_forms(y).unwrap());
        assert!(!fx.iter().any(|f| fy.contains(f)), "{x} {fx:?} / {y} {fy:?}");
    }
    let mut a = tariffs_aj(T0);
    a.title = "Blast rocks Kharkiv peace protest".into();
    a.summary = None;
    a.language = Some("en".into());
    let mut b = tariffs_sky(T0);
    b.title = "Deadly explosion hits Kharkiv march".into();
    b.summary = None;
    b.language = Some("en".into());
    let with_classes = similarity(&a, &b, DEFAULT_WINDOW).unwrap();
    b.title = "Deadly fire hits Kharkiv market".into();
    let without = similarity(&a, &b, DEFAULT_WINDOW).unwrap_or(0.0);
    assert!(with_classes > without + 0.2, "{with_classes} / {without}");
}

#[test]
fn hebrew_prefixes() {
    let forms = word_forms("בפינוי").unwrap();
    assert!(forms.contains(&"פינוי".to_owned()), "{forms:?}");
    assert_eq!(word_forms("הכשל").unwrap(), vec!["הכשל", "כשל"]);
    assert_eq!(word_forms("של"), None);
    // Two outlets' headlines on the comptroller's report meet on
    // `פינוי` although one writes `בפינוי` and the other `הפינוי`.
    let mut a = tariffs_aj(T0);
    a.title = "הכשל בפינוי תושבי הצפון".into();
    a.summary = None;
    a.language = Some("he".into());
    let mut b = tariffs_sky(T0);
    b.title = "דוח המבקר: הפינוי נכשל, תושבי הצפון הופקרו".into();
    b.summary = None;
    b.language = Some("he".into());
    assert!(similarity(&a, &b, DEFAULT_WINDOW).is_some());
}

#[test]
fn commentary_joins_only_near_copies() {
    for t in [
        "Why is Suleyman Shah's tomb so important?",
        "Opinion | The Arrest of Former Prince Andrew",
        "How Mexico tracked down 'El Mencho'",
        "Portrait of a drug lord: 'El Mencho', Mexico's most feared cartel kingpin",
        "Venezuela amnesty: what we know so far",
        "Oscars 2015: The ceremony in pictures",
        "تحليل: هل ينجح الاتفاق التجاري؟",
        "رأي | الرسوم الجمركية ومستقبل التجارة",
        "ما الذي نعرفه عن قانون العفو العام في العراق",
        "الرسوم الجمركية الأمريكية.. لماذا الآن؟",
        "טראמפ צריך לסגור את הדלת להסכם מדיני שאיננו כניעה | פרשנות",
    ] {
        assert!(is_commentary(t), "{t}");
    }
    for t in [
        "Turkish forces empty Syria tomb",
        "Live: US Supreme Court strikes down Trump's sweeping 'reciprocal' tariffs",
        "Howard League warns on prison places",
        "ترامب يفرض رسوما جمركية بنسبة 25% على السيارات المستوردة",
    ] {
        assert!(!is_commentary(t), "{t}");
    }
    // An Arabic analysis of the car tariffs, worded like the reports,
    // stays out of the story the reports tell.
    let news = tariffs_aj(T0);
    let mut analysis = tariffs_sky(T0 + HOUR);
    analysis.title = format!("تحليل: {}", tariffs_sky(T0).title);
    let plain = similarity(&news, &tariffs_sky(T0 + HOUR), DEFAULT_WINDOW).unwrap();
    assert!(
        (DEFAULT_THRESHOLD..COMMENTARY_MIN_SIMILARITY).contains(&plain),
        "{plain}"
    );
    assert_eq!(similarity(&news, &analysis, DEFAULT_WINDOW), None);
    let mut c = Clusterer::new(ClusterConfig::default());
    assert_ne!(c.add(&news), c.add(&analysis));
    // A near copy still joins.
    let mut copy = tariffs_aj(T0 + HOUR);
    copy.key = ItemKey::from_stored("//sky.example/copy".into());
    copy.sources[0].feed_url = "https://sky.example/feed".into();
    copy.link = None;
    copy.title = format!("ما الذي نعرفه: {}", news.title);
    assert!(similarity(&news, &copy, DEFAULT_WINDOW).unwrap() >= COMMENTARY_MIN_SIMILARITY);
}

#[test]
fn commentary_labels_in_summaries_and_news_analysis() {
    assert!(summary_is_commentary("Commentary: A new commercial tries ..."));
    assert!(summary_is_commentary("  تحليل: ما بعد القمة"));
    assert!(!summary_is_commentary("Police said: the man was arrested"));
    assert!(!summary_is_commentary(""));
    assert!(is_commentary(
        "News Analysis: Trump's Previous View of NATO Is Now Obsolete"
    ));
    // A column under a report-like headline stays apart from the report
    // it discusses; unlabelled, the same text would be compared.
    let report = item(
        "r",
        "nyt",
        "en",
        T0,
        "Google blocks Burger King ad on smart speakers",
        "The commercial tried to trigger Google Home speakers.",
    );
    let column = |summary: &str| {
        item(
            "c",
            "cnet",
            "en",
            T0,
            "Burger King ad trick blocked by Google",
            summary,
        )
    };
    let outlets = Outlets::default();
    let plain = similarity_with(
        &report,
        &column("Fast food meets voice assistants, and loses."),
        DEFAULT_WINDOW,
        &outlets,
    );
    assert!(plain.is_some_and(|s| s < COMMENTARY_MIN_SIMILARITY), "{plain:?}");
    let labelled = column("Commentary: Fast food meets voice assistants, and loses.");
    assert_eq!(
        similarity_with(&report, &labelled, DEFAULT_WINDOW, &outlets),
        None
    );
}

#[test]
fn languages_never_cluster() {
    let ar = tariffs_aj(T0);
    let en = tariffs_reuters(T0 + HOUR);
    assert_eq!(similarity(&ar, &en, DEFAULT_WINDOW), None);
    for threshold in [0.0, DEFAULT_THRESHOLD] {
        let mut c = Clusterer::new(cfg(threshold));
        let a = c.add(&ar);
        let b = c.add(&en);
        assert_ne!(a, b);
    }
    // An item without a language tag counts as Arabic when its text is.
    let mut untagged = tariffs_sky(T0 + HOUR);
    untagged.language = None;
    assert!(similarity(&ar, &untagged, DEFAULT_WINDOW).is_some());
    // An untagged item in Latin script meets a tagged English one (many
    // real feeds declare no language), never an Arabic one.
    let mut untagged_en = tariffs_reuters(T0);
    untagged_en.key = ItemKey::from_stored("//other.example/untagged".into());
    untagged_en.sources[0].feed_url = "https://other.example/feed".into();
    untagged_en.link = Some("https://other.example/untagged".into());
    untagged_en.language = None;
    assert!(similarity(&en, &untagged_en, DEFAULT_WINDOW).is_some());
    assert_eq!(similarity(&ar, &untagged_en, DEFAULT_WINDOW), None);
    // Two declared languages in one script do not meet.
    let mut french = untagged_en.clone();
    french.language = Some("fr".into());
    assert_eq!(similarity(&en, &french, DEFAULT_WINDOW), None);
    // Region subtags and case do not matter.
    let mut regional = tariffs_sky(T0 + HOUR);
    regional.language = Some("AR-eg".into());
    assert!(similarity(&ar, &regional, DEFAULT_WINDOW).is_some());
}

#[test]
fn same_outlet_never_clusters() {
    let first = tariffs_aj(T0);
    // The same outlet's second article on the story: another link, the
    // same feed URL (even under another feed name).
    let mut second = tariffs_sky(T0 + HOUR);
    second.key = ItemKey::from_stored("//aljazeera.example/aj-tariffs-2".into());
    second.sources = vec![Source {
        feed_url: first.sources[0].feed_url.clone(),
        feed_name: "Al Jazeera – Economy".into(),
        link: None,
    }];
    assert_eq!(similarity(&first, &second, DEFAULT_WINDOW), None);
    // Identical text from the same outlet does not cluster either.
    let mut copy = first.clone();
    copy.key = ItemKey::from_stored("//aljazeera.example/copy".into());
    assert_eq!(similarity(&first, &copy, DEFAULT_WINDOW), None);

    for threshold in [0.0, DEFAULT_THRESHOLD] {
        let mut c = Clusterer::new(cfg(threshold));
        c.add(&first);
        c.add(&second);
        c.add(&copy);
        assert!(!together(&c, &first, &second));
        assert!(!together(&c, &first, &copy));
        // Another outlet joins one of them, never both.
        let other = tariffs_asharq(T0 + 2 * HOUR);
        c.add(&other);
        let cluster = c.cluster_of(&other.key).unwrap();
        let outlets: BTreeSet<&str> = cluster.members.iter().map(|m| m.outlet.as_str()).collect();
        assert_eq!(outlets.len(), cluster.members.len());
        assert_eq!(cluster.members.len(), 2);
    }
}

#[test]
fn threshold_edge_cases() {
    // Same words (and forms) in another order, spelling and punctuation.
    let a = item(
        "a",
        "one",
        "ar",
        T0,
        "البرلمان العراقي يقر قانون العفو العام",
        "صوّت مجلس النواب على تعديل قانون العفو العام.",
    );
    let same_words = item(
        "b",
        "two",
        "ar",
        T0 + HOUR,
        "قانونُ العفو العام: البرلمانُ العراقيّ يُقرّ",
        "تعديل قانون العفو العام، صوت مجلس النواب",
    );
    let one_more = item(
        "c",
        "three",
        "ar",
        T0 + HOUR,
        "البرلمان العراقي يقر قانون العفو العام",
        "صوّت مجلس النواب على تعديل قانون العفو العام وسط احتجاجات.",
    );
    assert_eq!(similarity(&a, &same_words, DEFAULT_WINDOW), Some(1.0));
    assert!(similarity(&a, &one_more, DEFAULT_WINDOW).unwrap() < 1.0);

    let mut c = Clusterer::new(cfg(1.0));
    for it in [&a, &same_words, &one_more] {
        c.add(it);
    }
    assert!(together(&c, &a, &same_words));
    assert!(!together(&c, &a, &one_more));

    // A very low threshold still keeps languages and outlets apart, and
    // the window.
    let mut c = Clusterer::new(cfg(0.0));
    let mut far = tariffs_sky(T0 + 3 * 24 * HOUR);
    far.key = ItemKey::from_stored("//far.example/1".into());
    far.sources[0].feed_url = "https://far.example/feed".into();
    let items = [
        tariffs_aj(T0),
        tariffs_reuters(T0),
        steel_aj(T0 + HOUR),
        tariffs_sky(T0 + HOUR),
        far,
    ];
    for it in &items {
        c.add(it);
    }
    for cluster in c.clusters() {
        let langs: BTreeSet<String> = cluster
            .members
            .iter()
            .map(|m| {
                let it = items.iter().find(|i| i.key == m.key).unwrap();
                it.language.clone().unwrap()
            })
            .collect();
        assert_eq!(langs.len(), 1, "{cluster:?}");
        let outlets: BTreeSet<&str> = cluster.members.iter().map(|m| m.outlet.as_str()).collect();
        assert_eq!(outlets.len(), cluster.members.len(), "{cluster:?}");
    }
    assert!(!together(&c, &items[0], &items[2]), "same outlet");
    assert!(!together(&c, &items[0], &items[1]), "other language");
    assert!(!together(&c, &items[0], &items[4]), "three days apart");
    assert!(together(&c, &items[0], &items[3]));

    // Out-of-range and NaN thresholds are clamped, and rejected by
    // validation.
    assert!(cfg(f64::NAN).validate().is_err());
    assert!(cfg(1.5).validate().is_err());
    assert!(cfg(-0.1).validate().is_err());
    assert!(ClusterConfig {
        window: Duration::ZERO,
        threshold: 0.5
    }
    .validate()
    .is_err());
    assert!(ClusterConfig::default().validate().is_ok());
    let mut c = Clusterer::new(cfg(f64::NAN));
    c.add(&a);
    c.add(&one_more);
    assert!(!together(&c, &a, &one_more));
}

#[test]
fn cluster_id_is_stable() {
    let lead = tariffs_aj(T0);
    let mut c = Clusterer::new(ClusterConfig::default());
    let id = c.add(&lead);
    assert_eq!(id, ClusterId::of_lead(&lead.key));
    assert_eq!(id.to_string().len(), 16);
    assert_eq!(c.cluster_of(&lead.key).unwrap().updated, T0);

    // Outlets join: same id, `updated` moves to the newcomer's first_seen.
    let mut sky = tariffs_sky(T0 + HOUR);
    sky.first_seen = T0 + HOUR + 60;
    assert_eq!(c.add(&sky), id);
    assert_eq!(c.cluster_of(&lead.key).unwrap().updated, T0 + HOUR + 60);
    let mut asharq = tariffs_asharq(T0 + 2 * HOUR);
    asharq.first_seen = T0 + 2 * HOUR + 60;
    assert_eq!(c.add(&asharq), id);
    let cluster = c.cluster_of(&sky.key).unwrap();
    assert_eq!(cluster.id, id);
    assert_eq!(cluster.lead, lead.key);
    assert_eq!(cluster.updated, T0 + 2 * HOUR + 60);
    assert_eq!(
        cluster.members.iter().map(|m| &m.key).collect::<Vec<_>>(),
        [&lead.key, &sky.key, &asharq.key]
    );

    // An unrelated item does not move it.
    c.add(&steel_aj(T0 + 3 * HOUR));
    assert_eq!(c.cluster_of(&lead.key).unwrap().updated, T0 + 2 * HOUR + 60);

    // Re-adding an item (say, with a new source) keeps everything.
    assert_eq!(c.add(&sky), id);

    // Recomputed from the same items in any order: same ids, leads and
    // members.
    let all = [lead.clone(), sky.clone(), asharq.clone(), steel_aj(T0 + 3 * HOUR)];
    let expected = partition(&c);
    for order in [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
        let mut again = Clusterer::new(ClusterConfig::default());
        for i in order {
            again.add(&all[i]);
        }
        assert_eq!(partition(&again), expected, "order {order:?}");
    }

    // An earlier report of the story becomes the lead: the id follows
    // the lead.
    let bbc = tariffs_bbc_arabic(T0 - HOUR);
    let new_id = c.add(&bbc);
    assert_eq!(new_id, ClusterId::of_lead(&bbc.key));
    assert_eq!(c.cluster_of(&lead.key).unwrap().id, new_id);
    assert_eq!(c.cluster_of(&lead.key).unwrap().lead, bbc.key);
}

/// A synthetic stream: story `s` is told by three outlets with words
/// no other story uses.
fn synthetic(s: usize, outlet: usize, date: i64) -> Item {
    let title = format!("story{s}a story{s}b story{s}c story{s}d minister");
    let summary = format!("story{s}e story{s}f story{s}g government talks");
    let mut it = item(
        &format!("s{s}-o{outlet}"),
        &format!("outlet{outlet}"),
        "en",
        date,
        &title,
        &summary,
    );
    it.first_seen = date;
    it
}

#[test]
fn expiry_keeps_memory_bounded() {
    let cfg = ClusterConfig {
        window: Duration::from_secs(48 * 3600),
        threshold: DEFAULT_THRESHOLD,
    };
    let mut c = Clusterer::new(cfg);
    let step = 15 * 60;
    let per_window = (48 * HOUR / step) as usize + 1;
    let mut max_items = 0;
    let mut max_entries = 0;
    for k in 0..2000usize {
        let date = T0 + k as i64 * step;
        c.add(&synthetic(k / 3, k % 3, date));
        c.expire(date);
        let stats = c.stats();
        max_items = max_items.max(stats.items);
        max_entries = max_entries.max(stats.bucket_entries);
        assert!(stats.items <= per_window, "{stats:?}");
        assert!(
            stats.bucket_entries <= stats.items * MAX_CANDIDATE_KEYS,
            "{stats:?}"
        );
        assert!(stats.clusters <= stats.items, "{stats:?}");
    }
    assert!(max_items >= per_window - 1, "the window was full: {max_items}");
    assert!(max_entries > 0);
    // Stories still cluster in a rolling window.
    let last = c.stats();
    assert!(last.clusters * 3 <= last.items + 6, "{last:?}");

    // Everything expires.
    c.expire(T0 + 2000 * step + 49 * HOUR);
    assert_eq!(
        c.stats(),
        Stats {
            comparisons: c.stats().comparisons,
            ..Stats::default()
        }
    );
    assert!(c.is_empty());
    assert_eq!(c.clusters().count(), 0);
    assert_eq!(c.slots.iter().flatten().count(), 0);
    assert_eq!(c.by_date.len(), 0);
}

#[test]
fn expiring_a_lead_reclusters_the_rest() {
    let mut c = Clusterer::new(ClusterConfig::default());
    let items = [
        tariffs_aj(T0),
        tariffs_sky(T0 + HOUR),
        tariffs_asharq(T0 + 2 * HOUR),
    ];
    for it in &items {
        c.add(it);
    }
    assert_eq!(c.cluster_of(&items[2].key).unwrap().members.len(), 3);
    c.expire(T0 + 48 * HOUR + 1);
    assert!(c.cluster_of(&items[0].key).is_none());
    let rest = c.cluster_of(&items[2].key).unwrap();
    assert_eq!(rest.lead, items[1].key);
    assert_eq!(rest.id, ClusterId::of_lead(&items[1].key));
    assert_eq!(rest.members.len(), 2);
    assert_eq!(c.len(), 2);
}

/// Comparisons made by adding `probe` to a clusterer holding `n` items.
fn comparisons_for_one_add(n: usize, make: impl Fn(usize) -> Item, probe: &Item) -> u64 {
    let mut c = Clusterer::new(ClusterConfig {
        window: Duration::from_secs(365 * 24 * 3600),
        threshold: DEFAULT_THRESHOLD,
    });
    for i in 0..n {
        c.add(&make(i));
    }
    assert_eq!(c.len(), n);
    for bucket in c.buckets.values() {
        assert!(bucket.len() <= BUCKET_CAP);
    }
    let before = c.stats().comparisons;
    c.add(probe);
    c.stats().comparisons - before
}

#[test]
fn adding_costs_do_not_grow_with_the_window() {
    // Worst case for LSH: every item shares most of its words with every
    // other (same outlet, so none may cluster), so every band bucket is
    // full. The probe is compared with at most BUCKET_CAP items per band
    // key it shares, and the count stops growing once buckets are full.
    let crowded = |i: usize| {
        item(
            &format!("c{i}"),
            "wire",
            "en",
            T0 + i as i64 * 60,
            &format!("government minister parliament election budget vote crisis talks u{i}x u{i}y"),
            "",
        )
    };
    let probe = crowded(1_000_000);
    let counts: Vec<u64> = [250, 1000, 2500]
        .into_iter()
        .map(|n| comparisons_for_one_add(n, crowded, &probe))
        .collect();
    println!("crowded: {counts:?} comparisons with 250, 1000, 2500 items");
    for &n in &counts {
        assert!(n <= (MAX_CANDIDATE_KEYS * BUCKET_CAP) as u64);
    }
    // Saturated: ten times the items, about the same work.
    assert!(counts[2] * 2 <= counts[0] * 3, "{counts:?}");

    // Unrelated stories from many outlets: a handful of comparisons,
    // whatever the window holds.
    let unrelated = |i: usize| synthetic(i, i % 40, T0 + i as i64 * 60);
    let probe = synthetic(1_000_000, 7, T0);
    let small = comparisons_for_one_add(250, unrelated, &probe);
    let large = comparisons_for_one_add(2500, unrelated, &probe);
    println!("unrelated: {small} comparisons with 250 items, {large} with 2500");
    assert!(large <= (MAX_CANDIDATE_KEYS * BUCKET_CAP) as u64);
    assert!(large <= 3 * small.max(10), "{small} vs {large}");
}

#[test]
fn group_orders_by_lead() {
    // Newest first, as a render reads them.
    let items = vec![
        steel_aj(T0 + 5 * HOUR),
        tariffs_asharq(T0 + 4 * HOUR),
        tariffs_reuters(T0 + 3 * HOUR),
        tariffs_sky(T0 + 2 * HOUR),
        tariffs_aj(T0 + HOUR),
        steel_aj(T0 + 5 * HOUR), // a repeated key
    ];
    let groups = group(&items, &ClusterConfig::default(), &Outlets::default());
    let mut seen: Vec<usize> = groups
        .iter()
        .flat_map(|g| std::iter::once(g.lead).chain(g.others.iter().map(|&(i, _)| i)))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..items.len()).collect::<Vec<_>>());

    let leads: Vec<usize> = groups.iter().map(|g| g.lead).collect();
    assert_eq!(leads, [0, 2, 4, 5]);
    let tariffs = &groups[2];
    assert_eq!(tariffs.id, ClusterId::of_lead(&items[4].key).to_string());
    assert_eq!(tariffs.others.iter().map(|&(i, _)| i).collect::<Vec<_>>(), [1, 3]);
    assert!(tariffs.others.iter().all(|&(_, s)| s > 0.0 && s <= 1.0));
    assert!(groups[0].others.is_empty());
    assert!(group(&[], &ClusterConfig::default(), &Outlets::default()).is_empty());
}

#[test]
fn words_and_forms() {
    let forms = |w: &str| {
        let n = normalize(w);
        let words: Vec<&str> = split_words(&n).collect();
        assert_eq!(words.len(), 1, "{w}");
        word_forms(words[0]).unwrap_or_default()
    };
    // Prefix forms from select, suffix forms here.
    assert!(forms("والإسرائيلية").contains(&"اسرائيل".to_owned()));
    assert!(forms("إضرابا").contains(&"اضراب".to_owned()));
    assert!(forms("للحوثيين").contains(&"حوثي".to_owned()));
    assert_eq!(forms("الـ34"), ["34"]);
    assert_eq!(forms("٢٥٪"), ["25"]);
    assert!(forms("في").is_empty());
    assert!(forms("وقال").is_empty());
    assert!(forms("the").is_empty());
    assert_eq!(english_stem("strikes"), english_stem("striking"));
    assert_eq!(english_stem("toppled"), english_stem("topple"));
    assert_eq!(english_stem("countries"), "country");
    assert_eq!(english_stem("us"), "us");
    // Common words weigh less than the rest.
    let w = |t: &str| content_word(&normalize(t)).unwrap().1;
    assert_eq!(w("الوزير"), COMMON_WEIGHT);
    assert_eq!(w("Ministers"), COMMON_WEIGHT);
    assert_eq!(w("صفاقس"), 1.0);
}

#[test]
fn places() {
    let names = |text: &str| {
        let n = normalize(text);
        let seq: Vec<&str> = split_words(&n).collect();
        find_places(&seq)
    };
    let place = |name: &str| names(name)[0];
    assert_eq!(names("الرئيس المصري في أنقرة"), {
        let mut v = vec![place("مصر"), place("أنقرة")];
        v.sort_unstable();
        v
    });
    assert_eq!(names("وزير الخارجية التركية"), [place("تركيا")]);
    assert_eq!(names("للسعوديين"), [place("السعودية")]);
    assert_eq!(names("talks in the White House"), [place("Washington")]);
    assert_eq!(names("الولايات المتحدة"), [place("USA")]);
    assert!(names("ترك منصبه").is_empty(), "ترك is not Turkey");
    assert!(places_related(place("الدوحة"), place("قطر")));
    assert!(places_related(place("قطر"), place("Doha")));
    assert!(!places_related(place("صفاقس"), place("قفصة")));

    let strike = |key: &str, outlet: &str, city: &str| {
        item(
            key,
            outlet,
            "ar",
            T0,
            &format!("إضراب عام في {city} احتجاجا على البطالة"),
            &format!("نفذ الاتحاد الجهوي للشغل في {city} إضرابا عاما شمل المؤسسات العمومية والخاصة."),
        )
    };
    let sfax = strike("a", "one", "صفاقس");
    let sfax_again = strike("b", "two", "صفاقس");
    let gafsa = strike("c", "three", "قفصة");
    assert!(similarity(&sfax, &sfax_again, DEFAULT_WINDOW).is_some());
    assert_eq!(similarity(&sfax, &gafsa, DEFAULT_WINDOW), None);
    // A city and its country explain each other.
    let doha = item("d", "four", "ar", T0, "الدوحة تعلن اتفاقا لوقف النار في غزة", "");
    let qatar = item("e", "five", "ar", T0, "قطر تعلن اتفاقا لوقف النار في غزة", "");
    assert!(similarity(&doha, &qatar, DEFAULT_WINDOW).is_some());
}

#[test]
fn html_summaries() {
    assert_eq!(
        crate::select::html_to_text("<p>a&amp;b</p><p>c&nbsp;d &lt;e&gt;</p>")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["a&b", "c", "d", "<e>"]
    );
    let mut it = tariffs_aj(T0);
    it.summary = Some("<p dir=\"rtl\">ترامب<br>يفرض</p><script>x</script>".into());
    let doc = Doc::new(&it);
    assert!(doc.words.len() >= 2);
}

#[test]
fn never_panics() {
    let huge = "ترامب يفرض رسوما ".repeat(20_000);
    let huge_en = "word ".repeat(50_000);
    let texts = [
        "",
        " ",
        "في من إلى على",
        "the of and",
        "!!! ،؛؟",
        huge.as_str(),
        huge_en.as_str(),
        "\u{0}\u{FFFF}\u{10FFFF}",
        "ـــ \u{0654}\u{0654} ﷺ ﻻ",
        "İİİ\u{0307} a\u{0301}\u{0301}",
        "<p",
        "&amp",
        "٠١٢٣٤٥٦٧٨٩ 2025 ال٢٠٢٥",
        "x",
    ];
    let mut c = Clusterer::new(ClusterConfig::default());
    let mut all = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        for (j, lang) in ["ar", "", "en", "-", "_"].iter().enumerate() {
            let mut it = item(&format!("{i}-{j}"), &format!("o{j}"), lang, T0 + i as i64, t, t);
            if j == 4 {
                it.sources.clear();
                it.summary = None;
            }
            c.add(&it);
            all.push(it);
        }
    }
    // Every pair of texts, huge ones once.
    for a in all.iter().step_by(4) {
        for b in all.iter().skip(1).step_by(3) {
            if a.title.len() + b.title.len() < 200_000 {
                let _ = similarity(a, b, DEFAULT_WINDOW);
            }
        }
    }
    let _ = similarity(&all[25], &all[30], DEFAULT_WINDOW);
    // Extreme dates.
    let mut early = tariffs_aj(i64::MIN);
    early.first_seen = i64::MIN;
    let mut late = tariffs_sky(i64::MAX);
    late.first_seen = i64::MAX;
    c.add(&early);
    c.add(&late);
    let _ = similarity(&early, &late, Duration::MAX);
    let _ = group(&all, &ClusterConfig::default(), &Outlets::default());
    let mut wide = Clusterer::new(ClusterConfig {
        window: Duration::MAX,
        threshold: 0.0,
    });
    wide.add(&early);
    wide.add(&late);
    wide.expire(i64::MIN);
    wide.expire(i64::MAX);
    c.expire(i64::MIN);
    c.expire(i64::MAX);
    // Only the item dated i64::MAX is within the window of i64::MAX.
    assert_eq!(c.len(), 1);
    assert!(c.cluster_of(&late.key).is_some());
}

#[test]
fn wide_anchors_meet_a_headline_word_in_a_summary() {
    // One story told twice: a long headline naming the city, a short one
    // that names it only in its summary, in a window where the country is
    // in every headline. The short headline's words are its own (no
    // headline anchor meets), MinHash may miss the pair (few shared forms
    // against many); the wide anchors of the rare words they share must
    // meet. English and Arabic.
    let cases = [
        (
            "en",
            "Ukraine",
            "Deadly explosion rips through eastern Ukraine city of Kharkiv",
            "Ukraine peace march ends in chaos",
            "Two dead after an explosion at a march in the eastern city of Kharkiv",
        ),
        (
            "ar",
            "أوكرانيا",
            "انفجار دام يهز مدينة خاركيف في شرق أوكرانيا",
            "فوضى في مسيرة سلام في أوكرانيا",
            "قتيلان بعد انفجار خلال مسيرة في مدينة خاركيف شرقي البلاد",
        ),
    ];
    for (lang, country, a_title, b_title, b_summary) in cases {
        let mut items: Vec<Item> = (0..60)
            .map(|i| {
                item(
                    &format!("f{i}"),
                    &format!("o{}", i % 7),
                    lang,
                    T0 + i,
                    &format!("{country} filler{i} other{i}"),
                    "",
                )
            })
            .collect();
        let a = item("a", "x", lang, T0, a_title, "");
        let b = item("b", "y", lang, T0 + HOUR, b_title, b_summary);
        items.extend([a.clone(), b.clone()]);
        let idf = Idf::from_items(&items);
        let doc = |it: &Item| {
            let mut d = Doc::new(it);
            d.reweight(&idf);
            let script = language(it, &d).script;
            (d, script)
        };
        let ((da, sa), (db, sb)) = (doc(&a), doc(&b));
        assert_eq!(sa, sb, "{lang}");
        let meet = |x: &[u64], y: &[u64]| x.iter().any(|k| y.contains(k));
        assert!(
            !meet(
                &lsh::headline_anchor_keys(&da, sa),
                &lsh::headline_anchor_keys(&db, sb)
            ),
            "{lang}: the headlines share no rare word"
        );
        assert!(
            meet(&lsh::anchor_keys(&da, sa), &lsh::wide_anchor_keys(&db, sb)),
            "{lang}: the summary's rare words meet the headline's"
        );
        assert!(lsh::wide_anchor_keys(&db, sb).len() <= MAX_WIDE_ANCHOR_KEYS);
        // A filler headline holds a word of every item and words of its
        // own: neither pairs it with anything, so no wide key.
        let (df0, s0) = doc(&items[0]);
        assert!(lsh::wide_anchor_keys(&df0, s0).is_empty(), "{lang}");
    }
}

/// Checks the join rule on one story told by three outlets whose first and
/// third reports have no similarity (their headlines name different
/// winners of one ceremony), and a fourth item, another story, linked to
/// the third: the first three form one cluster in any order of adding,
/// the fourth stays apart.
fn assert_joins_three_not_the_fourth(items: &[Item; 4], fourth_contradicts_by_model: bool) {
    let w = DEFAULT_WINDOW;
    // The pair the rule is about: no similarity, and the pair model
    // judges it one story.
    assert_eq!(similarity(&items[0], &items[2], w), None);
    assert!(similarity(&items[0], &items[1], w).unwrap() >= DEFAULT_THRESHOLD);
    assert!(similarity(&items[1], &items[2], w).unwrap() >= DEFAULT_THRESHOLD);
    // The fourth is linked to the third but kept out by the first.
    assert!(similarity(&items[2], &items[3], w).unwrap() >= DEFAULT_THRESHOLD);
    assert_eq!(similarity(&items[0], &items[3], w), None);
    let table = PairTable::new(items, &Outlets::default(), None);
    let p = |i, j| model_score(&table.features(i, j, w).unwrap().values);
    assert!(p(0, 2) >= JOIN_MIN_PROBABILITY, "{}", p(0, 2));
    if fourth_contradicts_by_model {
        let f = table.features(0, 3, w).unwrap();
        assert!(f.coverage >= MIN_MODEL_COVERAGE, "{}", f.coverage);
        assert!(p(0, 3) < JOIN_MIN_PROBABILITY, "{}", p(0, 3));
    }

    let mut partitions = Vec::new();
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
        let mut c = Clusterer::new(ClusterConfig::default());
        for i in order {
            c.add(&items[i]);
        }
        assert!(together(&c, &items[0], &items[1]));
        assert!(together(&c, &items[1], &items[2]));
        assert!(
            together(&c, &items[0], &items[2]),
            "the pair without a similarity"
        );
        assert!(!together(&c, &items[2], &items[3]), "another story");
        assert_eq!(c.cluster_of(&items[0].key).unwrap().members.len(), 3);
        partitions.push(partition(&c));
    }
    assert!(partitions.windows(2).all(|p| p[0] == p[1]));
}

/// Two reports of one ceremony (the join rule's tests).
fn bafta_film() -> Item {
    item(
        "bafta-film",
        "times",
        "en",
        T0,
        "'One Battle After Another' named best film at the 2026 Baftas",
        "Paul Thomas Anderson's drama won six awards, including best director, at the ceremony in London.",
    )
}

fn bafta_six() -> Item {
    item(
        "bafta-six",
        "agency",
        "en",
        T0 + HOUR,
        "'One Battle After Another' wins six Bafta awards including best film",
        "The thriller took six prizes at the Baftas on Sunday, while Jessie Buckley won best actress \
         for Hamnet and Robert Aramayo best actor.",
    )
}

#[test]
fn join_rule_english() {
    let items = [
        bafta_film(),
        bafta_six(),
        item(
            "bafta-actors",
            "bbc",
            "en",
            T0 + 2 * HOUR,
            "Jessie Buckley and Robert Aramayo win big at the Baftas",
            "Hamnet star Buckley was named best actress and Aramayo best actor at the awards on Sunday night.",
        ),
        item(
            "buckley-macbeth",
            "guardian",
            "en",
            T0 + 3 * HOUR,
            "Jessie Buckley to play Lady Macbeth in West End return",
            "The Hamnet star, who won best actress at the Baftas on Sunday, will return to the stage next \
             year in a new production.",
        ),
    ];
    assert_joins_three_not_the_fourth(&items, false);
}

/// Two reports of one Arabic ceremony (the join rule's tests).
fn cairo_film() -> Item {
    item(
        "cairo-film",
        "ahram",
        "ar",
        T0,
        "فيلم «الطريق» يفوز بالهرم الذهبي في ختام مهرجان القاهرة السينمائي",
        "حصد فيلم المخرج يسري نصر الله ست جوائز بينها أفضل إخراج في حفل الختام بدار الأوبرا.",
    )
}

fn cairo_six() -> Item {
    item(
        "cairo-six",
        "agency",
        "ar",
        T0 + HOUR,
        "«الطريق» يحصد الهرم الذهبي وست جوائز في مهرجان القاهرة السينمائي",
        "فاز الفيلم بست جوائز في حفل الختام مساء الأحد، فيما نالت منى زكي جائزة أفضل ممثلة وأحمد مالك جائزة أفضل ممثل.",
    )
}

#[test]
fn join_rule_arabic() {
    let items = [
        cairo_film(),
        cairo_six(),
        item(
            "cairo-actors",
            "youm7",
            "ar",
            T0 + 2 * HOUR,
            "منى زكي وأحمد مالك يتوجان بجائزتي التمثيل في مهرجان القاهرة",
            "نالت منى زكي جائزة أفضل ممثلة ونال أحمد مالك جائزة أفضل ممثل مساء الأحد.",
        ),
        // The next story of one winner: linked to the third report, and
        // its pair with the first has no similarity and the pair model
        // does not judge it one story.
        item(
            "zaki-series",
            "masrawy",
            "ar",
            T0 + 3 * HOUR,
            "منى زكي بعد فوزها في مهرجان القاهرة: أبدأ تصوير مسلسلي الرمضاني",
            "تبدأ الفنانة الشهر المقبل تصوير مسلسلها الجديد الذي يعرض في رمضان.",
        ),
    ];
    assert_joins_three_not_the_fourth(&items, true);
}

/// The stages of a case keep clusters apart, not only pairs: an arrest and
/// the opening of the trial stay two stories when a third report, naming
/// neither stage, resembles both and the pair model would judge the two
/// one story (so, without the rule, the join rule would merge them).
#[test]
fn stages_of_a_case_keep_clusters_apart() {
    for items in [
        [
            item(
                "arrest",
                "agency",
                "en",
                T0,
                "Istanbul mayor Ekrem Imamoglu detained in corruption probe",
                "Police took Erdogan's main rival from his home at dawn.",
            ),
            item(
                "rally",
                "bbc",
                "en",
                T0 + HOUR,
                "Istanbul mayor Ekrem Imamoglu corruption case: opposition rallies in Istanbul",
                "Supporters of Istanbul mayor Ekrem Imamoglu rallied over the corruption case against Erdogan's rival.",
            ),
            item(
                "trial",
                "times",
                "en",
                T0 + 2 * HOUR,
                "Ekrem Imamoglu's corruption trial opens in Istanbul",
                "Hundreds of defendants appeared beside Erdogan's main rival in a courtroom near Silivri prison.",
            ),
        ],
        [
            item(
                "arrest",
                "agency",
                "ar",
                T0,
                "تركيا: اعتقال رئيس بلدية إسطنبول أكرم إمام أوغلو في قضية فساد",
                "داهمت الشرطة منزل المنافس الأبرز لأردوغان فجرا.",
            ),
            item(
                "rally",
                "bbc",
                "ar",
                T0 + HOUR,
                "أنصار رئيس بلدية إسطنبول أكرم إمام أوغلو يتظاهرون في قضية فساد",
                "تظاهر أنصار رئيس بلدية إسطنبول أكرم إمام أوغلو المنافس الأبرز لأردوغان في قضية الفساد.",
            ),
            item(
                "trial",
                "times",
                "ar",
                T0 + 2 * HOUR,
                "بدء محاكمة أكرم إمام أوغلو في قضية فساد بإسطنبول",
                "مثل مئات المتهمين إلى جانب المنافس الأبرز لأردوغان في قاعة قرب سجن سيليفري.",
            ),
        ],
    ] {
        let w = DEFAULT_WINDOW;
        // The bridge resembles both; the arrest and the trial have no
        // similarity, but the pair model alone would join them.
        assert!(similarity(&items[0], &items[1], w).unwrap() >= DEFAULT_THRESHOLD);
        assert!(similarity(&items[1], &items[2], w).unwrap() >= DEFAULT_THRESHOLD);
        assert_eq!(similarity(&items[0], &items[2], w), None);
        let table = PairTable::new(&items, &Outlets::default(), None);
        let f = table.features(0, 2, w).unwrap();
        assert!(f.coverage >= MIN_MODEL_COVERAGE, "{}", f.coverage);
        assert!(model_score(&f.values) >= JOIN_MIN_PROBABILITY);
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]] {
            let mut c = Clusterer::new(ClusterConfig::default());
            for i in order {
                c.add(&items[i]);
            }
            assert!(!together(&c, &items[0], &items[2]), "{order:?}");
            assert!(together(&c, &items[1], &items[0]) || together(&c, &items[1], &items[2]));
        }
    }
}

/// The join rule's guard: a pair without a similarity is no evidence
/// (rather than keeping two clusters apart) only when the pair model
/// judges it one story *and* the two items share a rare word. A next
/// story of one winner, whose summary recounts the ceremony in the words
/// every report of it uses, is judged one story by the model with the
/// first report (0.79 to 0.87 here) but shares no rare word with it, so it
/// never joins that report's cluster; in Arabic the first and third
/// reports, which share the director's name, still join.
#[test]
fn join_rule_needs_a_rare_word() {
    let arabic = [
        cairo_film(),
        cairo_six(),
        item(
            "cairo-actors",
            "youm7",
            "ar",
            T0 + 2 * HOUR,
            "منى زكي وأحمد مالك يتوجان بجائزتي التمثيل في مهرجان القاهرة",
            "نالت منى زكي جائزة أفضل ممثلة عن فيلم يسري نصر الله ونال أحمد مالك جائزة أفضل ممثل مساء الأحد.",
        ),
        item(
            "zaki-series",
            "masrawy",
            "ar",
            T0 + 3 * HOUR,
            "بعد مهرجان القاهرة السينمائي.. منى زكي تبدأ تصوير مسلسلها الرمضاني",
            "بعد فوزها بجائزة أفضل ممثلة في حفل مهرجان القاهرة السينمائي الذي فاز فيه فيلم واحد بست جوائز \
             مساء الأحد، تبدأ منى زكي الشهر المقبل تصوير مسلسلها الرمضاني الجديد.",
        ),
    ];
    let english = [
        bafta_film(),
        bafta_six(),
        item(
            "bafta-actors",
            "bbc",
            "en",
            T0 + 2 * HOUR,
            "Jessie Buckley and Robert Aramayo win big at the Baftas",
            "Hamnet star Buckley was named best actress and Aramayo best actor at the awards on Sunday night, \
             when Paul Thomas Anderson's drama took six prizes.",
        ),
        item(
            "buckley-filming",
            "guardian",
            "en",
            T0 + 3 * HOUR,
            "After the Baftas, Jessie Buckley starts filming her next role",
            "After winning best actress at the Baftas on Sunday, where one drama took six awards, the Hamnet \
             star Buckley starts filming next month.",
        ),
    ];
    let w = DEFAULT_WINDOW;
    for (items, ceremony_joins) in [(&english, false), (&arabic, true)] {
        // Word rarity as a render counts it (a word of at most 2 of these
        // items is rare).
        let idf = Idf::from_items(items.iter());
        let table = PairTable::new(items, &Outlets::default(), Some(&idf));
        let f = table.features(0, 3, w).unwrap();
        assert_eq!(table.similarity(0, 3, w), None);
        assert!(f.coverage >= MIN_MODEL_COVERAGE, "{}", f.coverage);
        assert!(
            model_score(&f.values) >= JOIN_MIN_PROBABILITY,
            "{}",
            model_score(&f.values)
        );
        assert!(
            !f.shares_rare,
            "the follow-up shares no rare word with the first report"
        );
        // It is linked to the ceremony's other reports.
        assert!(table.similarity(1, 3, w).unwrap() >= DEFAULT_THRESHOLD);
        assert!(table.similarity(2, 3, w).unwrap() >= DEFAULT_THRESHOLD);
        if ceremony_joins {
            let f = table.features(0, 2, w).unwrap();
            assert_eq!(table.similarity(0, 2, w), None);
            assert!(f.shares_rare && model_score(&f.values) >= JOIN_MIN_PROBABILITY);
        }
        let mut partitions = Vec::new();
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let mut c = Clusterer::new(ClusterConfig::default()).with_idf(idf.clone());
            for i in order {
                c.add(&items[i]);
            }
            assert!(!together(&c, &items[0], &items[3]), "{order:?}");
            assert!(together(&c, &items[1], &items[2]), "{order:?}");
            if ceremony_joins {
                assert!(together(&c, &items[0], &items[1]), "{order:?}");
                assert!(together(&c, &items[0], &items[2]), "{order:?}");
            }
            partitions.push(partition(&c));
        }
        assert!(partitions.windows(2).all(|p| p[0] == p[1]));
    }
}

/// The near-miss rule's closer tier, on the features of the real pairs it
/// was chosen by: it admits a pair a little under the near-miss rule only
/// within hours, with strong rare-word agreement.
#[test]
fn close_in_time_tier_needs_hours_and_agreement() {
    let pair = |dice: f64, coverage: f64, rare_cover: f64, gap_hours: f64| PairFeatures {
        values: [0.0; FEATURES],
        dice,
        coverage,
        commentary: false,
        anchored: false,
        title_anchor: 0.0,
        summary_shared: 0.0,
        summary_overlap: 0.0,
        shares_rare: false,
        rare_cover,
        gap_hours,
    };
    // The Fico court reports (real tuning half): under the near-miss rule
    // (coverage 0.37), admitted by the closer tier.
    let fico = pair(0.351, 0.37, 0.51, 2.1);
    assert!(!rare_words_agree(&fico));
    assert!(close_in_time_agree(&fico));
    // The same words a working day apart, or with weaker agreement (two
    // oil-price reports: 0.43), or further under the threshold: not.
    assert!(!close_in_time_agree(&pair(0.351, 0.37, 0.51, 5.5)));
    assert!(!close_in_time_agree(&pair(0.351, 0.37, 0.43, 2.1)));
    assert!(!close_in_time_agree(&pair(0.32, 0.37, 0.51, 2.1)));
    assert!(!close_in_time_agree(&pair(0.351, 0.33, 0.51, 2.1)));
    // A pair the near-miss rule admits within hours is admitted by both.
    let near = pair(0.39, 0.45, 0.5, 1.0);
    assert!(rare_words_agree(&near) && close_in_time_agree(&near));
}
