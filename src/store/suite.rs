//! The behaviour both backends promise, as one suite: every check runs on
//! sled and on PostgreSQL. PostgreSQL comes from `FEEDWIRE_TEST_DATABASE_URL`
//! (an admin URL; each check creates its own database there, see
//! `scripts/test-postgres`). Without it the PostgreSQL half says so and is
//! skipped, unless `FEEDWIRE_REQUIRE_POSTGRES=1` (CI), where it fails.

use super::*;
use crate::item::{Item, ItemKey, Revision, Sighting, Source, StoredPrint};

pub(crate) fn item(link: &str, feed: &str, date: i64) -> Item {
    let url = url::Url::parse(link).unwrap();
    Item {
        key: ItemKey::from_link(&url),
        link: Some(link.to_owned()),
        title: format!("عنوان {date}"),
        summary: None,
        content: None,
        authors: vec![],
        categories: vec![],
        published: Some(date),
        updated: None,
        first_seen: 1000,
        date,
        language: Some("ar".into()),
        enclosure: None,
        sources: vec![Source {
            feed_url: feed.to_owned(),
            feed_name: feed.to_owned(),
            link: Some(link.to_owned()),
        }],
        fingerprint: None,
    }
}

/// A fresh, empty database on the test server: its URL, or None (said
/// plainly) when no PostgreSQL is configured.
pub(crate) fn fresh_database() -> Option<String> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Ok(admin) = std::env::var("FEEDWIRE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("FEEDWIRE_REQUIRE_POSTGRES").is_none_or(|v| v != "1"),
            "FEEDWIRE_REQUIRE_POSTGRES=1 but FEEDWIRE_TEST_DATABASE_URL is not set"
        );
        eprintln!("PostgreSQL: not available (FEEDWIRE_TEST_DATABASE_URL unset; scripts/test-postgres starts one): PostgreSQL half SKIPPED");
        return None;
    };
    let name = format!(
        "fw_unit_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to FEEDWIRE_TEST_DATABASE_URL: {e}"));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

/// Runs `check` on a fresh sled store and a fresh PostgreSQL store.
fn on_both(check: impl Fn(&Store)) {
    let dir = tempfile::tempdir().unwrap();
    check(&Store::open(dir.path()).unwrap());
    if let Some(url) = fresh_database() {
        let store = Store::connect(&url, &PoolSettings::default()).unwrap();
        assert_eq!(store.backend(), "postgres");
        check(&store);
    }
}

fn insert_once_merge_sources_and_read_newest_first(store: &Store) {
    let r = store
        .ingest(&[
            item("https://a.example/1", "f1", 10),
            item("https://a.example/2", "f1", -5),
            item("https://a.example/3", "f1", 30),
        ])
        .unwrap();
    assert_eq!(
        r,
        IngestReport {
            new: 3,
            duplicate: 0,
            merged: 0,
            revised: 0,
        }
    );
    let r = store
        .ingest(&[
            item("http://a.example/1?utm_source=x", "f2", 10),
            item("https://a.example/2", "f1", -5),
        ])
        .unwrap();
    assert_eq!(
        r,
        IngestReport {
            new: 0,
            duplicate: 2,
            merged: 1,
            revised: 0,
        }
    );
    let recent = store.recent(10, usize::MAX, |_| true).unwrap();
    let dates: Vec<i64> = recent.iter().map(|i| i.date).collect();
    assert_eq!(dates, vec![30, 10, -5]);
    assert_eq!(recent[1].sources.len(), 2);
    assert_eq!(store.recent(1, usize::MAX, |_| true).unwrap().len(), 1);
    assert_eq!(store.recent(10, usize::MAX, |i| i.date < 0).unwrap().len(), 1);
    assert_eq!(
        store.recent(10, 2, |i| i.date < 0).unwrap().len(),
        0,
        "scan stops after two entries"
    );
}

fn retention_prunes_to_seen_records_that_keep_items_old(store: &Store) {
    let day = 86_400;
    let now = 1_000 * day;
    let items: Vec<Item> = (0..10)
        .map(|i| {
            let mut it = item(&format!("https://a.example/{i}"), "f1", now - i * day);
            it.first_seen = now - i * day;
            it
        })
        .collect();
    store.ingest(&items).unwrap();
    let policy = Retention {
        max_age: std::time::Duration::from_secs(5 * day as u64),
        max_items: 100,
        seen_max_age: std::time::Duration::from_secs(30 * day as u64),
    };
    // Bounded batches: 2 at a time until done.
    let mut removed = 0;
    loop {
        let r = store.prune(now, &policy, 2).unwrap();
        removed += r.items;
        if !r.more {
            break;
        }
    }
    // Items 6..=9 days old are older than the 5-day retention (5 is on the edge and stays).
    assert_eq!(removed, 4);
    assert_eq!(store.item_count(), 6);
    assert_eq!(store.seen_count(), 4);
    // A feed that still lists a pruned article does not bring it back.
    let r = store
        .ingest(&[item("https://a.example/9", "f1", now - 9 * day)])
        .unwrap();
    assert_eq!((r.new, r.duplicate), (0, 1));
    assert_eq!(store.item_count(), 6);
    // The count limit removes the oldest beyond it.
    let tight = Retention {
        max_items: 3,
        ..policy
    };
    let r = store.prune(now, &tight, 100).unwrap();
    assert_eq!(r.items, 3);
    let dates: Vec<i64> = store
        .recent(10, usize::MAX, |_| true)
        .unwrap()
        .iter()
        .map(|i| i.date)
        .collect();
    assert_eq!(dates, vec![now, now - day, now - 2 * day]);
    // Seen records expire after their own, longer retention.
    let r = store.prune(now + 60 * day, &tight, 100).unwrap();
    assert_eq!(r.seen, 7 + 3, "every seen record is older than 30 days by then");
    let r = store
        .ingest(&[item("https://a.example/9", "f1", now - 9 * day)])
        .unwrap();
    assert_eq!(r.new, 1, "after seen_retention an article may come back");
}

#[test]
fn dedup_sources_and_reads() {
    on_both(insert_once_merge_sources_and_read_newest_first);
}

#[test]
fn retention_and_seen_records() {
    on_both(retention_prunes_to_seen_records_that_keep_items_old);
}

#[test]
fn never_new_twice_and_knows() {
    on_both(|store| {
        let a = item("https://a.example/x", "f1", 5);
        assert_eq!(
            store.ingest(&[a.clone(), a.clone()]).unwrap().new,
            1,
            "twice in one document"
        );
        assert_eq!(store.ingest(std::slice::from_ref(&a)).unwrap().new, 0);
        assert!(store.knows(&a.key, "f1"));
        assert!(!store.knows(&a.key, "f2"), "another feed would add a source");
        let key = ItemKey::from_link(&url::Url::parse("https://a.example/none").unwrap());
        assert!(!store.knows(&key, "f1"));
        let keys = store.keys_from("f1").unwrap();
        assert!(
            keys.get(a.key.as_str()) == Some(&(a.date, StoredPrint::Missing)) && keys.len() == 1,
            "{keys:?}"
        );
        assert!(store.keys_from("f2").unwrap().is_empty());
        assert_eq!(store.get(&a.key).unwrap().unwrap().title, "عنوان 5");
        assert!(store.get(&key).unwrap().is_none());
        assert_eq!(store.item_count(), 1);
    });
}

#[test]
fn lookup_answers_knows_and_get_in_one_read_with_arabic() {
    on_both(|store| {
        let link = "https://ar.example/أخبار/مقال-1";
        let mut a = item(link, "https://ar.example/feed", 5);
        a.title = "الرئيس يلتقي الوفد — «تفاصيل»".into();
        a.summary = Some("<p>ملخص الخبر بالعربية</p>".into());
        a.sources[0].feed_name = "أخبار عربية".into();
        let unknown = ItemKey::from_link(&url::Url::parse("https://ar.example/أخبار/غير-موجود").unwrap());
        assert_eq!(
            store.lookup(&unknown, "https://ar.example/feed").unwrap(),
            Lookup::Unknown
        );
        store.ingest(std::slice::from_ref(&a)).unwrap();
        // The feed that brought it: known, the record is not needed.
        assert_eq!(
            store.lookup(&a.key, "https://ar.example/feed").unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Missing
            }
        );
        // Another feed: stored elsewhere, with the item's sort date.
        assert_eq!(
            store.lookup(&a.key, "https://other.example/rss").unwrap(),
            Lookup::Elsewhere { date: 5 }
        );
        // A second source: both feeds know it now, a third does not.
        let mut b = a.clone();
        b.sources = vec![Source {
            feed_url: "https://other.example/rss".into(),
            feed_name: "مصدر آخر".into(),
            link: Some(link.into()),
        }];
        assert_eq!(store.ingest(std::slice::from_ref(&b)).unwrap().duplicate, 1);
        assert_eq!(
            store.lookup(&a.key, "https://other.example/rss").unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::NotOurs
            }
        );
        assert_eq!(
            store.lookup(&a.key, "https://third.example/").unwrap(),
            Lookup::Elsewhere { date: 5 }
        );
        let both = store.get(&a.key).unwrap().unwrap();
        let names: Vec<&str> = both.sources.iter().map(|s| s.feed_name.as_str()).collect();
        assert_eq!(names, ["أخبار عربية", "مصدر آخر"]);
        // Pruned: known to every feed, as `knows` says.
        let policy = Retention {
            max_age: std::time::Duration::from_secs(1),
            max_items: 100,
            seen_max_age: std::time::Duration::from_secs(365 * 86_400),
        };
        assert_eq!(store.prune(1_000_000, &policy, 100).unwrap().items, 1);
        assert_eq!(
            store.lookup(&a.key, "https://third.example/").unwrap(),
            Lookup::Known {
                date: None,
                print: StoredPrint::NotOurs
            }
        );
        assert!(store.knows(&a.key, "https://third.example/"));
        assert!(store.get(&a.key).unwrap().is_none());
    });
}

#[test]
fn a_sighting_adds_its_source_to_the_stored_item_with_arabic() {
    on_both(|store| {
        let link = "https://ar.example/أخبار/قمة-الرياض";
        let mut a = item(link, "https://ar.example/feed", 7);
        a.title = "قمة الرياض: «اتفاق» على خطة مشتركة".into();
        a.content = Some("<p>نص المقال الكامل بالعربية</p>".into());
        a.sources[0].feed_name = "أخبار عربية".into();
        store.ingest(std::slice::from_ref(&a)).unwrap();
        let seen_in = |feed: &str, name: &str| Sighting {
            key: a.key.clone(),
            date: 7,
            source: Source {
                feed_url: feed.into(),
                feed_name: name.into(),
                link: Some(format!("{link}?utm_source=rss")),
            },
        };
        // One document: a new item and a sighting, stored together.
        let b = item("https://ar.example/أخبار/جديد", "https://wire.example/ar", 8);
        let (report, claimed) = store
            .ingest_document(
                std::slice::from_ref(&b),
                &[seen_in("https://wire.example/ar", "وكالة الأنباء")],
                None,
            )
            .unwrap();
        assert_eq!(
            report,
            IngestReport {
                new: 1,
                duplicate: 1,
                merged: 1,
                revised: 0,
            }
        );
        assert!(claimed.is_empty());
        let stored = store.get(&a.key).unwrap().unwrap();
        assert_eq!(stored.title, a.title, "the record is kept as it was");
        assert_eq!(stored.content, a.content);
        let names: Vec<&str> = stored.sources.iter().map(|s| s.feed_name.as_str()).collect();
        assert_eq!(names, ["أخبار عربية", "وكالة الأنباء"]);
        assert_eq!(
            stored.sources[1].link.as_deref(),
            Some("https://ar.example/أخبار/قمة-الرياض?utm_source=rss")
        );
        assert_eq!(
            store.lookup(&a.key, "https://wire.example/ar").unwrap(),
            Lookup::Known {
                date: Some(7),
                print: StoredPrint::NotOurs
            }
        );
        assert_eq!(
            store
                .keys_from("https://wire.example/ar")
                .unwrap()
                .get(a.key.as_str()),
            Some(&(7, StoredPrint::NotOurs))
        );
        // Reads that walk the store see the source too, in order.
        let recent = store.recent(10, usize::MAX, |_| true).unwrap();
        assert_eq!(recent[1], stored);
        // Again from the same feed: nothing to add.
        let again = store
            .ingest_document(&[], &[seen_in("https://wire.example/ar", "وكالة الأنباء")], None)
            .unwrap()
            .0;
        assert_eq!((again.new, again.duplicate, again.merged), (0, 1, 0));
        // A third feed, then an item built from a fourth: sources in order.
        store
            .ingest_document(&[], &[seen_in("https://third.example/", "الثالث")], None)
            .unwrap();
        let mut built = item(link, "https://fourth.example/", 7);
        built.sources[0].feed_name = "الرابع".into();
        assert_eq!(store.ingest(&[built]).unwrap().merged, 1);
        let names: Vec<String> = store
            .get(&a.key)
            .unwrap()
            .unwrap()
            .sources
            .into_iter()
            .map(|s| s.feed_name)
            .collect();
        assert_eq!(names, ["أخبار عربية", "وكالة الأنباء", "الثالث", "الرابع"]);
        // A sighting of a story no longer stored adds nothing.
        let gone = Sighting {
            key: ItemKey::from_link(&url::Url::parse("https://ar.example/أخبار/محذوف").unwrap()),
            ..seen_in("https://wire.example/ar", "وكالة الأنباء")
        };
        let r = store
            .ingest_document(&[], std::slice::from_ref(&gone), None)
            .unwrap()
            .0;
        assert_eq!((r.new, r.duplicate, r.merged), (0, 1, 0));
        assert!(store.get(&gone.key).unwrap().is_none());
        assert_eq!(store.item_count(), 2);
        // Pruned: its sources go with it, and a sighting does not bring it back.
        let policy = Retention {
            max_age: std::time::Duration::from_secs(1),
            max_items: 100,
            seen_max_age: std::time::Duration::from_secs(365 * 86_400),
        };
        assert_eq!(store.prune(1_000_000, &policy, 100).unwrap().items, 2);
        let r = store
            .ingest_document(&[], &[seen_in("https://fifth.example/", "الخامس")], None)
            .unwrap()
            .0;
        assert_eq!((r.new, r.duplicate, r.merged), (0, 1, 0));
        assert!(store.get(&a.key).unwrap().is_none());
        assert_eq!(store.item_count(), 0);
    });
}

#[test]
fn feed_state_round_trips_with_arabic() {
    on_both(|store| {
        assert_eq!(store.feed_state("https://a.example/feed").unwrap(), None);
        let state = FeedState {
            etag: Some("\"v1\"".into()),
            title: Some("أخبار اليوم".into()),
            consecutive_failures: 2,
            next_due: Some(1234),
            polled_by: Some("node-a".into()),
            ..Default::default()
        };
        store.put_feed_state("https://a.example/feed", &state).unwrap();
        assert_eq!(
            store.feed_state("https://a.example/feed").unwrap(),
            Some(state.clone())
        );
        let later = FeedState {
            consecutive_failures: 0,
            ..state
        };
        store.put_feed_state("https://a.example/feed", &later).unwrap();
        assert_eq!(store.feed_state("https://a.example/feed").unwrap(), Some(later));
        assert!(store.write_failure().is_none());
    });
}

/// A state with every field away from its default, and the state a warm
/// 304 leaves (most fields at their defaults, which are not written).
pub(crate) fn full_and_sparse_states() -> [FeedState; 2] {
    let full = FeedState {
        etag: Some("W/\"ثابت-1\"".into()),
        last_modified: Some("Sat, 05 Dec 2026 19:00:00 GMT".into()),
        body_hash: Some("ab".repeat(32)),
        last_attempt: Some(1_796_000_100),
        last_success: Some(1_796_000_000),
        last_status: Some(503),
        consecutive_failures: 3,
        last_error: Some("HTTP 503: الخادم مشغول".into()),
        next_due: Some(-5),
        permanent_redirect: Some("https://جديد.example/feed".into()),
        discovered_feed: Some("https://جديد.example/أخبار/rss.xml".into()),
        gone: true,
        charset: Some("windows-1256".into()),
        items_seen: 40,
        items_new: 2,
        bytes: 73_337,
        title: Some("الجزيرة نت: أخبار".into()),
        site_url: Some("https://www.aljazeera.net/".into()),
        publisher_interval: Some(3600),
        no_entries: Some("root <rdf:RDF> (entry markup present)".into()),
        repaired: Some("1 stray '&'".into()),
        items_too_old: 7,
        items_over_limit: 9,
        items_empty: 1,
        polled_by: Some("عقدة-1".into()),
        shared_links: crate::parse::SharedLinks::new(vec![
            crate::parse::SharedLink {
                link: "//akhbar.example/عاجل".into(),
                holder: Some("ajel-101".into()),
                held_apart: false,
            },
            crate::parse::SharedLink {
                link: "//akhbar.example/ajel".into(),
                holder: None,
                held_apart: true,
            },
        ]),
        gaps: 4,
        last_gap: Some(1_795_999_000),
        last_gap_note: Some("لا شيء من 20 مدخلاً كان في الاستطلاع السابق".into()),
        recovered: 25,
        last_recovered: Some(15),
        revised: 3,
        last_revision: Some(1_795_999_500),
        speedup: 2,
        speedup_base: Some(900),
        calm_polls: 1,
        interval: Some(225),
        last_full: Some(1_795_990_000),
        validators_ignored: true,
    };
    let sparse = FeedState {
        etag: Some("\"v1\"".into()),
        last_attempt: Some(1_796_000_100),
        last_success: Some(1_796_000_100),
        last_status: Some(304),
        next_due: Some(1_796_001_000),
        title: Some("أخبار اليوم".into()),
        polled_by: Some("node-a".into()),
        ..Default::default()
    };
    [full, sparse]
}

#[test]
fn feed_states_read_back_whole_with_fields_at_their_defaults_left_out() {
    on_both(|store| {
        for (i, state) in full_and_sparse_states().into_iter().enumerate() {
            let url = format!("https://a.example/أخبار/{i}");
            store.put_feed_state(&url, &state).unwrap();
            assert_eq!(store.feed_state(&url).unwrap().as_ref(), Some(&state), "{url}");
            // The full one goes back to the sparse one: no field keeps an
            // old value because the new one was left out.
            store.put_feed_state(&url, &full_and_sparse_states()[1]).unwrap();
            assert_eq!(
                store.feed_state(&url).unwrap().as_ref(),
                Some(&full_and_sparse_states()[1]),
                "{url}"
            );
        }
    });
}

#[test]
fn a_walk_of_site_links_reads_each_feeds_link_alone() {
    on_both(|store| {
        let [full, sparse] = full_and_sparse_states();
        let with_site = |site: &str| FeedState {
            site_url: Some(site.to_owned()),
            ..full.clone()
        };
        store.put_feed_state("https://a.example/1", &full).unwrap();
        store.put_feed_state("https://a.example/2", &sparse).unwrap();
        store
            .put_feed_state("https://a.example/3", &with_site("https://موقع.example/أخبار"))
            .unwrap();
        let mut sites = std::collections::BTreeMap::new();
        store
            .for_each_feed_site(|url, site| {
                sites.insert(url.to_owned(), site);
                true
            })
            .unwrap();
        assert_eq!(
            sites.into_iter().collect::<Vec<_>>(),
            [
                ("https://a.example/1".to_owned(), full.site_url.clone()),
                ("https://a.example/2".to_owned(), None),
                (
                    "https://a.example/3".to_owned(),
                    Some("https://موقع.example/أخبار".to_owned())
                ),
            ]
        );
    });
}

#[test]
fn every_feed_state_in_one_walk() {
    on_both(|store| {
        let mut none = 0;
        store
            .for_each_feed_state(|_, _| {
                none += 1;
                true
            })
            .unwrap();
        assert_eq!(none, 0);
        // More than one PostgreSQL page (1,000 rows), Arabic in URLs and titles.
        let n = 2_345;
        for i in 0..n {
            let state = FeedState {
                title: Some(format!("أخبار {i}")),
                consecutive_failures: (i % 7 == 0) as u32,
                next_due: Some(i as i64),
                ..Default::default()
            };
            store
                .put_feed_state(&format!("https://a.example/أخبار/{i}"), &state)
                .unwrap();
        }
        let mut seen = std::collections::HashMap::new();
        store
            .for_each_feed_state(|url, state| {
                seen.insert(url.to_owned(), state);
                true
            })
            .unwrap();
        assert_eq!(seen.len(), n);
        for i in [0, 7, 999, 1000, 2344] {
            let url = format!("https://a.example/أخبار/{i}");
            assert_eq!(seen.get(&url), store.feed_state(&url).unwrap().as_ref(), "{url}");
        }
        let mut calls = 0;
        store
            .for_each_feed_state(|_, _| {
                calls += 1;
                calls < 10
            })
            .unwrap();
        assert_eq!(calls, 10, "stops when told");
    });
}

#[test]
fn export_then_import_keeps_items_sources_and_seen_records() {
    on_both(|from| {
        let day = 86_400;
        let now = 1_000 * day;
        let mut items: Vec<Item> = (0..6)
            .map(|i| {
                let mut it = item(&format!("https://a.example/{i}"), "f1", now - i * day);
                it.first_seen = now - i * day;
                it
            })
            .collect();
        items[0].sources.push(Source {
            feed_url: "f2".into(),
            feed_name: "ثانية".into(),
            link: None,
        });
        from.ingest(&items).unwrap();
        let policy = Retention {
            max_age: std::time::Duration::from_secs(3 * day as u64),
            max_items: 1000,
            seen_max_age: std::time::Duration::from_secs(300 * day as u64),
        };
        while from.prune(now, &policy, 100).unwrap().more {}
        assert_eq!((from.item_count(), from.seen_count()), (4, 2));
        let mut dump = Vec::new();
        crate::backup::export_jsonl(from, |chunk| {
            dump.extend(chunk);
            true
        })
        .unwrap();
        // Into the other backend kind as well as the same one.
        let dir = tempfile::tempdir().unwrap();
        let mut targets = vec![Store::open(dir.path()).unwrap()];
        if let Some(url) = fresh_database() {
            targets.push(Store::connect(&url, &PoolSettings::default()).unwrap());
        }
        for to in &targets {
            crate::backup::import_jsonl(to, &dump[..]).unwrap();
            assert_eq!(
                (to.item_count(), to.seen_count()),
                (4, 2),
                "{} from {}",
                to.backend(),
                from.backend()
            );
            let a = to.recent(10, usize::MAX, |_| true).unwrap();
            let b = from.recent(10, usize::MAX, |_| true).unwrap();
            assert_eq!(a, b);
            assert_eq!(a[0].sources.len(), 2);
            // A pruned item listed again is still not new after the move.
            let r = to
                .ingest(&[item("https://a.example/5", "f1", now - 5 * day)])
                .unwrap();
            assert_eq!(r.new, 0);
            // Importing twice changes nothing.
            let (new, _) = crate::backup::import_jsonl(to, &dump[..]).unwrap();
            assert_eq!(new, 0);
        }
    });
}

#[test]
fn concurrent_ingest_of_one_story_stores_it_once_with_both_sources() {
    on_both(|store| {
        for round in 0..20 {
            let link = format!("https://news.example/قصة/{round}");
            let barrier = std::sync::Barrier::new(2);
            let reports: Vec<IngestReport> = std::thread::scope(|s| {
                let handles: Vec<_> = ["f1", "f2"]
                    .iter()
                    .map(|feed| {
                        let (store, barrier, link) = (store.clone(), &barrier, link.clone());
                        s.spawn(move || {
                            barrier.wait();
                            store.ingest(&[item(&link, feed, round)]).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(reports.iter().map(|r| r.new).sum::<usize>(), 1, "{reports:?}");
            assert_eq!(reports.iter().map(|r| r.merged).sum::<usize>(), 1, "{reports:?}");
            let key = ItemKey::from_link(&url::Url::parse(&link).unwrap());
            let stored = store.get(&key).unwrap().unwrap();
            let mut feeds: Vec<&str> = stored.sources.iter().map(|s| s.feed_url.as_str()).collect();
            feeds.sort();
            assert_eq!(feeds, ["f1", "f2"]);
        }
        assert_eq!(store.item_count(), 20);
    });
}

/// A poll's lease comes with the feed's state and goes with its new state
/// (one round trip each on PostgreSQL). sled has no leases: every claim is
/// granted with the saved state, and a release saves the state.
#[test]
fn a_claim_brings_the_feed_state_and_its_release_saves_it() {
    on_both(|store| {
        let ttl = std::time::Duration::from_secs(60);
        let (feed, now) = ("https://a.example/أخبار.xml", 1_000_000);
        assert_eq!(store.claim(feed, "a", now, ttl).unwrap(), Claim::Granted(None));
        let state = FeedState {
            etag: Some("\"نسخة-7\"".into()),
            last_error: Some("تعذر الاتصال".into()),
            next_due: Some(now + 900),
            polled_by: Some("a".into()),
            ..FeedState::default()
        };
        assert!(store.release(feed, "a", now + 900, &state).unwrap());
        assert_eq!(store.feed_state(feed).unwrap().as_ref(), Some(&state));
        assert_eq!(
            store.claim(feed, "b", now + 900, ttl).unwrap(),
            Claim::Granted(Some(Box::new(state)))
        );
    });
}

/// One node per due time, whichever path the claim takes: nodes racing for
/// a feed that has no lease row yet (the statement's insert) and for one
/// due again (its `FOR UPDATE SKIP LOCKED` update) are granted it once;
/// the others are told it is held.
#[test]
fn postgres_racing_claims_grant_one_node() {
    let Some(url) = fresh_database() else { return };
    let store = Store::connect(&url, &PoolSettings::default()).unwrap();
    let ttl = std::time::Duration::from_secs(60);
    let now = 1_000_000;
    let race = |feed: &str, at: i64| -> Vec<(String, Claim)> {
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|n| {
                    let (store, barrier) = (store.clone(), &barrier);
                    s.spawn(move || {
                        let node = format!("عقدة-{n}");
                        barrier.wait();
                        let claim = store.claim(feed, &node, at, ttl).unwrap();
                        (node, claim)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    for round in 0..15 {
        let feed = format!("https://خبر.example/{round}.xml");
        for at in [now, now + 10] {
            let claims = race(&feed, at);
            let granted: Vec<&String> = claims
                .iter()
                .filter(|(_, c)| matches!(c, Claim::Granted(_)))
                .map(|(n, _)| n)
                .collect();
            assert_eq!(granted.len(), 1, "round {round} at {at}: {claims:?}");
            assert!(
                claims.iter().all(|(_, c)| match c {
                    Claim::Granted(_) => true,
                    Claim::Held(t) => *t > at,
                    Claim::NotDue(_) => false,
                }),
                "{claims:?}"
            );
            // Due again right away, so the next race takes the update path.
            let state = FeedState {
                polled_by: Some(granted[0].clone()),
                ..FeedState::default()
            };
            assert!(store.release(&feed, granted[0], at + 10, &state).unwrap());
        }
    }
}

/// The host slot before a fetch is asked with the feed's lease: the same
/// statement renews the lease and takes a slot only while the lease is
/// this node's, so a node whose lease another node took does not fetch.
#[test]
fn postgres_host_slot_renews_the_feed_lease_and_needs_it() {
    let Some(url) = fresh_database() else { return };
    let store = Store::connect(&url, &PoolSettings::default()).unwrap();
    let (feed, now) = ("https://أخبار.example/rss", 1_000_000);
    let short = std::time::Duration::from_secs(2);
    let long = std::time::Duration::from_secs(600);
    assert_eq!(store.claim(feed, "a", now, short).unwrap(), Claim::Granted(None));
    let lost = store
        .take_host_slot("أخبار.example", 1, "b/feed", long, Some((feed, "b")))
        .unwrap();
    assert_eq!(lost, HostSlot::LeaseLost, "b holds no lease: no slot");
    assert_eq!(
        store
            .take_host_slot("أخبار.example", 1, "c/other", long, None)
            .unwrap(),
        HostSlot::Taken(0),
        "b's refused ask took no slot"
    );
    store.free_host_slot("أخبار.example", 0, "c/other").unwrap();
    assert_eq!(
        store
            .take_host_slot("أخبار.example", 1, "a/feed", long, Some((feed, "a")))
            .unwrap(),
        HostSlot::Taken(0)
    );
    // Renewed for `long` (the claim gave `short`): b is told it is held
    // for about ten minutes, not two seconds.
    assert!(
        matches!(store.claim(feed, "b", now, short).unwrap(), Claim::Held(t) if t > now + 300),
        "the slot's statement renewed a's lease"
    );
    assert_eq!(
        store
            .take_host_slot("أخبار.example", 1, "a/feed", long, Some((feed, "a")))
            .unwrap(),
        HostSlot::Busy,
        "per_host holds for the lease holder too"
    );
}

#[test]
fn postgres_leases_and_host_slots_admit_one_node_per_due_time() {
    let Some(url) = fresh_database() else { return };
    let store = Store::connect(&url, &PoolSettings::default()).unwrap();
    let ttl = std::time::Duration::from_secs(60);
    let (feed, now) = ("https://a.example/أخبار.xml", 1_000_000);
    let polled = |by: &str| FeedState {
        polled_by: Some(by.into()),
        last_error: Some(format!("خطأ من {by}")),
        ..FeedState::default()
    };
    assert_eq!(store.claim(feed, "a", now, ttl).unwrap(), Claim::Granted(None));
    // Refused: no state comes with a refusal (the variants carry none).
    assert!(matches!(store.claim(feed, "b", now, ttl).unwrap(), Claim::Held(t) if t > now));
    assert!(store.renew(feed, "a", ttl).unwrap());
    assert!(!store.renew(feed, "b", ttl).unwrap(), "only the holder renews");
    // A release by a node that does not hold the lease changes nothing:
    // neither the schedule nor the state.
    assert!(!store.release(feed, "b", now + 5, &polled("b")).unwrap());
    assert_eq!(store.feed_state(feed).unwrap(), None, "b's state was not saved");
    assert!(
        matches!(store.claim(feed, "b", now, ttl).unwrap(), Claim::Held(_)),
        "b cannot release a's lease"
    );
    assert!(store.release(feed, "a", now + 900, &polled("a")).unwrap());
    assert_eq!(
        store.claim(feed, "b", now + 1, ttl).unwrap(),
        Claim::NotDue(now + 900)
    );
    assert_eq!(
        store.claim(feed, "b", now + 900, ttl).unwrap(),
        Claim::Granted(Some(Box::new(polled("a"))))
    );

    let slots: Vec<HostSlot> = ["x", "y", "z"]
        .iter()
        .map(|h| store.take_host_slot("news.example", 2, h, ttl, None).unwrap())
        .collect();
    assert_eq!(slots, [HostSlot::Taken(0), HostSlot::Taken(1), HostSlot::Busy]);
    store.free_host_slot("news.example", 0, "x").unwrap();
    assert_eq!(
        store.take_host_slot("news.example", 2, "z", ttl, None).unwrap(),
        HostSlot::Taken(0)
    );
    assert_eq!(
        store.take_host_slot("other.example", 2, "z", ttl, None).unwrap(),
        HostSlot::Taken(0)
    );
    // A reload that raises `per_host` makes the next slot on first need.
    assert_eq!(
        store.take_host_slot("news.example", 3, "w", ttl, None).unwrap(),
        HostSlot::Taken(2)
    );
    store.node_started("a", now).unwrap();
    store.heartbeat("b", now + 3).unwrap();
    let nodes: Vec<(String, i64)> = store
        .nodes()
        .unwrap()
        .into_iter()
        .map(|n| (n.name, n.heartbeat))
        .collect();
    assert_eq!(nodes, [("a".to_owned(), now), ("b".to_owned(), now + 3)]);
    let before = store.change_counter().unwrap();
    store.ingest(&[item("https://a.example/1", "f1", 1)]).unwrap();
    assert!(
        store.change_counter().unwrap() > before,
        "a change moves the counter"
    );
    let c = store.change_counter().unwrap();
    store.ingest(&[item("https://a.example/1", "f1", 1)]).unwrap();
    assert_eq!(store.change_counter().unwrap(), c, "nothing new, no move");

    // A node's second is one statement: its heartbeat (its start, the
    // first time) and the change counter; nodes gone a week leave.
    assert_eq!(store.fleet_tick("b", now + 4, false).unwrap(), c);
    store.ingest(&[item("https://a.example/2", "f1", 2)]).unwrap();
    assert!(store.fleet_tick("عقدة", now + 5, false).unwrap() > c);
    store.fleet_tick("عقدة", now + 6, true).unwrap();
    let day = 86_400;
    store.fleet_tick("عقدة", now + 8 * day, false).unwrap();
    let nodes: Vec<(String, i64, i64)> = store
        .nodes()
        .unwrap()
        .into_iter()
        .map(|n| (n.name, n.started, n.heartbeat))
        .collect();
    assert_eq!(nodes, [("عقدة".to_owned(), now + 6, now + 8 * day)]);
}

/// Full-text records (`full_text = true`): a page is claimed once (so a
/// restart or another fleet node does not fetch it again), the item is held
/// back until its article lands or its hold expires, the article becomes
/// the content while the feed's text stays the summary, failures and
/// fallbacks are counted per feed, and pruning an item drops its record.
#[test]
fn full_text_records_claim_hold_finish_and_prune() {
    on_both(|store| {
        let feed = "https://example.com/feed";
        let day = 86_400;
        let now = 1_000 * day;
        let mut cairo = item("https://example.com/cairo", feed, now);
        cairo.first_seen = now;
        cairo.content = Some("<p>التفاصيل بعد قليل..</p>".into());
        let mut delta = item("https://example.com/delta", feed, now - day);
        delta.first_seen = now - day;
        let mut late = item("https://example.com/late", feed, now - 2 * day);
        late.first_seen = now - 2 * day;
        let (kc, kd, kl) = (cairo.key.clone(), delta.key.clone(), late.key.clone());
        for k in [&kc, &kd, &kl] {
            assert!(store.claim_full_text(k, feed, now + 30).unwrap());
        }
        assert!(!store
            .claim_full_text(&kc, "https://other.example/feed", now + 30)
            .unwrap());
        store
            .ingest(&[cairo.clone(), delta.clone(), late.clone()])
            .unwrap();
        assert_eq!(store.full_text_held().unwrap().len(), 3);
        assert_eq!(store.pending_full_text().unwrap().len(), 3);
        // Renders pass over held items without reading them; the newest
        // unheld items still come, in date order, up to the limit.
        let held = store.full_text_held().unwrap();
        assert!(store.recent_except(10, 100, &held, |_| true).unwrap().is_empty());
        let only_late: std::collections::HashSet<_> = [kl.clone()].into_iter().collect();
        let keys = |items: Vec<Item>| items.into_iter().map(|i| i.key).collect::<Vec<_>>();
        assert_eq!(
            keys(store.recent_except(10, 100, &only_late, |_| true).unwrap()),
            vec![kc.clone(), kd.clone()]
        );
        assert_eq!(
            keys(store.recent_except(1, 100, &only_late, |_| true).unwrap()),
            vec![kc.clone()]
        );
        assert_eq!(
            keys(store.recent_except(10, 100, &only_late, |i| i.key != kc).unwrap()),
            vec![kd.clone()]
        );
        assert_eq!(
            store.full_text(&kc).unwrap().unwrap().state,
            FullTextState::Pending
        );

        let article = "<div dir=\"rtl\" lang=\"ar\"><p>وصل صدام حفتر إلى القاهرة</p></div>";
        assert!(store.finish_full_text(&kc, Ok(article.into()), now + 5).unwrap());
        let stored = store.get(&kc).unwrap().unwrap();
        assert_eq!(stored.content.as_deref(), Some(article));
        assert_eq!(stored.summary.as_deref(), Some("<p>التفاصيل بعد قليل..</p>"));
        assert_eq!(stored.sources.len(), 1, "the sources stay with the item");
        assert!(store
            .finish_full_text(&kd, Err("https://example.com/delta: HTTP 404".into()), now + 6)
            .unwrap());
        assert_eq!(
            store.full_text(&kd).unwrap().unwrap().state,
            FullTextState::Failed
        );
        // Only the late one is still held; its hold ends at now + 30.
        assert_eq!(
            store.full_text_held().unwrap(),
            [kl.clone()].into_iter().collect()
        );
        assert_eq!(store.release_expired_full_text(now + 29).unwrap(), 0);
        assert_eq!(store.release_expired_full_text(now + 30).unwrap(), 1);
        assert!(store.full_text_held().unwrap().is_empty());
        // Released but still pending: its article may land later.
        assert_eq!(store.pending_full_text().unwrap().len(), 1);
        let stats = store.full_text_stats(feed).unwrap();
        assert_eq!((stats.extracted, stats.failed, stats.fallback), (1, 1, 1));
        assert_eq!(
            stats.last_error.as_deref(),
            Some("https://example.com/delta: HTTP 404")
        );
        assert_eq!(stats.last_error_at, Some(now + 6));

        // A claim whose item could not be stored is taken back.
        let k = item("https://example.com/lost", feed, now).key;
        assert!(store.claim_full_text(&k, feed, now + 30).unwrap());
        store.unclaim_full_text(&k).unwrap();
        assert!(store.full_text(&k).unwrap().is_none());
        assert!(store.claim_full_text(&k, feed, now + 30).unwrap());
        store.unclaim_full_text(&k).unwrap();

        // Pruning an item drops its record; its seen record keeps it old.
        let policy = Retention {
            max_age: std::time::Duration::from_secs(day as u64),
            max_items: 100,
            seen_max_age: std::time::Duration::from_secs(30 * day as u64),
        };
        store.prune(now, &policy, 100).unwrap();
        assert!(store.full_text(&kl).unwrap().is_none());
        assert!(store.full_text(&kc).unwrap().is_some());
        assert!(store.write_failure().is_none());
    });
}

#[test]
fn site_backoff_round_trips() {
    on_both(|store| {
        assert!(store.site_backoffs().unwrap().is_empty());
        let b = SiteBackoff {
            failures: 3,
            until: 1_700_000_000,
        };
        store.put_site_backoff("news.example", Some(&b)).unwrap();
        store.put_site_backoff("other.example", Some(&b)).unwrap();
        store.put_site_backoff("other.example", None).unwrap();
        assert_eq!(
            store.site_backoffs().unwrap(),
            vec![("news.example".to_owned(), b)]
        );
    });
}

#[test]
fn full_text_outcomes_stored_together_and_renders_pass_over_held_items() {
    on_both(|store| {
        let feed = "https://example.com/feed";
        let other = "https://other.example/feed";
        let now = 1_000 * 86_400;
        let items: Vec<Item> = ["cairo", "delta", "late"]
            .iter()
            .enumerate()
            .map(|(i, slug)| {
                let mut it = item(&format!("https://example.com/{slug}"), feed, now - i as i64);
                it.content = Some("<p>التفاصيل بعد قليل..</p>".into());
                it
            })
            .collect();
        let mut beirut = item("https://other.example/بيروت", other, now - 3);
        beirut.content = Some("<p>خبر عاجل</p>".into());
        let keys: Vec<ItemKey> = items.iter().map(|i| i.key.clone()).collect();
        for k in &keys {
            assert!(store.claim_full_text(k, feed, now + 30).unwrap());
        }
        assert!(store.claim_full_text(&beirut.key, other, now + 30).unwrap());
        let mut all = items.clone();
        all.push(beirut.clone());
        store.ingest(&all).unwrap();
        // Every item is held: a render publishes none of them.
        assert!(store.recent_unheld(10, 100, |_| true).unwrap().is_empty());

        let article = "<div dir=\"rtl\" lang=\"ar\"><p>وصل صدام حفتر إلى القاهرة</p></div>";
        let never_claimed = item("https://example.com/never", feed, now).key;
        let answers = store.finish_full_text_batch(
            &[
                (keys[0].clone(), Ok(article.into())),
                (keys[1].clone(), Err("https://example.com/delta: HTTP 404".into())),
                (never_claimed.clone(), Ok(article.into())),
                (beirut.key.clone(), Ok("<p dir=\"rtl\">بيروت</p>".into())),
            ],
            now + 5,
        );
        let answers: Vec<bool> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [true, true, false, true]);

        let cairo = store.get(&keys[0]).unwrap().unwrap();
        assert_eq!(cairo.content.as_deref(), Some(article));
        assert_eq!(cairo.summary.as_deref(), Some("<p>التفاصيل بعد قليل..</p>"));
        let delta = store.get(&keys[1]).unwrap().unwrap();
        assert_eq!(delta.content.as_deref(), Some("<p>التفاصيل بعد قليل..</p>"));
        assert_eq!(
            store.full_text(&keys[1]).unwrap().unwrap().state,
            FullTextState::Failed
        );
        assert_eq!(
            store.full_text(&keys[0]).unwrap().unwrap().state,
            FullTextState::Extracted
        );
        assert!(store.full_text(&never_claimed).unwrap().is_none());
        assert!(store.get(&never_claimed).unwrap().is_none());
        // Counts per feed, one update each.
        let stats = store.full_text_stats(feed).unwrap();
        assert_eq!((stats.extracted, stats.failed, stats.fallback), (1, 1, 0));
        assert_eq!(
            stats.last_error.as_deref(),
            Some("https://example.com/delta: HTTP 404")
        );
        assert_eq!(stats.last_error_at, Some(now + 5));
        let stats = store.full_text_stats(other).unwrap();
        assert_eq!((stats.extracted, stats.failed, stats.last_error), (1, 0, None));

        // Renders: newest first, the held one passed over, `keep` applied.
        let keys_of = |items: Vec<Item>| items.into_iter().map(|i| i.key).collect::<Vec<_>>();
        assert_eq!(
            keys_of(store.recent_unheld(10, 100, |_| true).unwrap()),
            vec![keys[0].clone(), keys[1].clone(), beirut.key.clone()]
        );
        assert_eq!(
            keys_of(store.recent_unheld(10, 100, |i| i.key != keys[0]).unwrap()),
            vec![keys[1].clone(), beirut.key.clone()]
        );
        assert_eq!(
            keys_of(store.recent_unheld(1, 100, |_| true).unwrap()),
            vec![keys[0].clone()]
        );
        // Its hold over, the late one is published with the feed's content.
        assert_eq!(store.release_expired_full_text(now + 30).unwrap(), 1);
        assert_eq!(store.recent_unheld(10, 100, |_| true).unwrap().len(), 4);
        assert_eq!(store.full_text_stats(feed).unwrap().fallback, 1);
        assert!(store.write_failure().is_none());
    });
}

#[test]
fn expired_holds_are_released_in_batches() {
    on_both(|store| {
        let now = 2_000 * 86_400;
        // More than one batch, over two feeds, with holds not yet over
        // among them.
        let n = 600;
        let items: Vec<Item> = (0..n)
            .map(|i| {
                let feed = if i % 2 == 0 {
                    "https://a.example/feed"
                } else {
                    "https://b.example/feed"
                };
                item(&format!("https://news.example/خبر/{i}"), feed, now - i)
            })
            .collect();
        for (i, it) in items.iter().enumerate() {
            let until = if i % 10 == 0 { now + 60 } else { now + 30 };
            let feed = it.sources[0].feed_url.clone();
            assert!(store.claim_full_text(&it.key, &feed, until).unwrap());
        }
        store.ingest(&items).unwrap();
        assert_eq!(store.release_expired_full_text(now + 29).unwrap(), 0);
        assert_eq!(store.release_expired_full_text(now + 30).unwrap(), 540);
        assert_eq!(store.full_text_held().unwrap().len(), 60);
        let a = store.full_text_stats("https://a.example/feed").unwrap();
        let b = store.full_text_stats("https://b.example/feed").unwrap();
        assert_eq!((a.fallback, b.fallback), (240, 300));
        // Released, still pending: the article may land later.
        assert_eq!(store.pending_full_text().unwrap().len(), n as usize);
        assert_eq!(store.release_expired_full_text(now + 60).unwrap(), 60);
        assert!(store.full_text_held().unwrap().is_empty());
        assert_eq!(
            store.full_text_stats("https://a.example/feed").unwrap().fallback,
            300
        );
    });
}

/// The release tick reads the holds by when they end: holds ending in
/// another order than their keys (and than they were taken) are released
/// exactly as each comes due, one that ended early (its article landed, or
/// it was released by hand, or its item pruned) is not released nor
/// counted again, and the end of time releases the rest.
#[test]
fn holds_are_released_as_each_comes_due_whatever_their_order() {
    on_both(|store| {
        let now = 2_000 * 86_400;
        let feed = "https://aljazeera.example/feed";
        // Ends: 50, 10, 40, 20, 30, 10, ... seconds from now, the keys in
        // Arabic and in the order they were taken.
        let ends = [50, 10, 40, 20, 30];
        let items: Vec<Item> = (0..20)
            .map(|i| item(&format!("https://aljazeera.example/عاجل/{i}"), feed, now - i))
            .collect();
        for (i, it) in items.iter().enumerate() {
            let end = now + ends[i % ends.len()];
            assert!(store.claim_full_text(&it.key, feed, end).unwrap());
        }
        store.ingest(&items).unwrap();
        // One ends early with its article, one is released by hand, one
        // (ending at +10) is finished with a failure: none of them comes
        // due again.
        assert!(store
            .finish_full_text(
                &items[0].key,
                Ok("<div dir=\"rtl\"><p>المقال</p></div>".into()),
                now + 1
            )
            .unwrap());
        store.release_full_text(&items[2].key, false).unwrap();
        store
            .finish_full_text(&items[1].key, Err("HTTP 404".into()), now + 2)
            .unwrap();
        assert_eq!(store.release_expired_full_text(now + 9).unwrap(), 0);
        // +10: items 1, 6, 11, 16, less item 1 (finished).
        assert_eq!(store.release_expired_full_text(now + 10).unwrap(), 3);
        assert_eq!(store.release_expired_full_text(now + 10).unwrap(), 0);
        // +20: 3, 8, 13, 18; +30: 4, 9, 14, 19.
        assert_eq!(store.release_expired_full_text(now + 30).unwrap(), 8);
        // +40: 2 (released by hand), 7, 12, 17.
        assert_eq!(store.release_expired_full_text(now + 45).unwrap(), 3);
        assert_eq!(store.full_text_held().unwrap().len(), 3, "+50: 5, 10, 15");
        assert_eq!(store.end_full_text_holds().unwrap(), 3);
        assert!(store.full_text_held().unwrap().is_empty());
        let stats = store.full_text_stats(feed).unwrap();
        assert_eq!((stats.extracted, stats.failed, stats.fallback), (1, 1, 17));
        assert_eq!(store.release_expired_full_text(i64::MAX).unwrap(), 0);
    });
}

#[test]
fn ingest_claims_new_items_once_and_holds_them() {
    on_both(|store| {
        let now = 3_000 * 86_400;
        let feed = "https://aljazeera.example/feed";
        let other = "https://asharq.example/feed";
        let mut no_link = item("https://aljazeera.example/بلا-رابط", feed, now - 5);
        no_link.link = None;
        let cairo = item("https://aljazeera.example/زيارة-القاهرة", feed, now - 1);
        let old = item("https://aljazeera.example/قديم", feed, now - 2);
        // Stored before the feed had full text: published as it is.
        store.ingest(std::slice::from_ref(&old)).unwrap();
        let with_link = |i: &Item| i.link.is_some();
        let claim = crate::store::FullTextClaim {
            feed_url: feed,
            hold_until: now + 30,
            wanted: &with_link,
            hold: true,
        };
        let (report, claimed) = store
            .ingest_claiming(&[cairo.clone(), old.clone(), no_link.clone()], Some(&claim))
            .unwrap();
        assert_eq!((report.new, report.duplicate), (2, 1));
        // New and with a link: claimed and held; the others are published.
        assert_eq!(claimed, std::slice::from_ref(&cairo.key));
        let record = store.full_text(&cairo.key).unwrap().unwrap();
        assert_eq!(record.state, crate::store::FullTextState::Pending);
        assert_eq!(
            (record.feed_url.as_str(), record.hold_until, record.held),
            (feed, now + 30, true)
        );
        assert!(store.full_text(&old.key).unwrap().is_none());
        assert!(store.full_text(&no_link.key).unwrap().is_none());
        let published: Vec<ItemKey> = store
            .recent_unheld(10, 100, |_| true)
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(published, [old.key.clone(), no_link.key.clone()]);
        // Another full-text feed bringing the same story claims nothing:
        // each page is fetched once.
        let mut again = cairo.clone();
        again.sources = item("https://aljazeera.example/زيارة-القاهرة", other, now).sources;
        let claim = crate::store::FullTextClaim {
            feed_url: other,
            hold_until: now + 60,
            wanted: &with_link,
            hold: true,
        };
        let (report, claimed) = store.ingest_claiming(&[again], Some(&claim)).unwrap();
        assert_eq!((report.new, report.merged), (0, 1));
        assert!(claimed.is_empty());
        assert_eq!(store.full_text(&cairo.key).unwrap().unwrap().feed_url, feed);
        assert_eq!(store.pending_full_text().unwrap().len(), 1);
        // Without a claim, an ingest claims nothing.
        let beirut = item("https://asharq.example/بيروت", other, now);
        let (report, claimed) = store
            .ingest_claiming(std::slice::from_ref(&beirut), None)
            .unwrap();
        assert_eq!(report.new, 1);
        assert!(claimed.is_empty());
        assert!(store.full_text(&beirut.key).unwrap().is_none());
        assert!(store.contains(&beirut.key).unwrap());
        assert!(!store
            .contains(&item("https://asharq.example/غائب", other, now).key)
            .unwrap());
    });
}

/// `poll-once`'s claims (`FullTextClaim::hold` false): on a store only
/// this process renders from (sled) the items are queued but not held, so
/// no held entry is written; PostgreSQL holds them anyway (other nodes
/// render meanwhile). Either way the end of the wait
/// (`end_full_text_holds`) counts each claim still pending as one
/// fallback, once, and the finished ones not at all; the pending page stays
/// queued for the next run.
#[test]
fn claims_without_a_hold_are_counted_as_fallbacks_once_at_the_end() {
    on_both(|store| {
        let now = 5_000 * 86_400;
        let feed = "https://aljazeera.example/feed";
        let items: Vec<Item> = ["زيارة-القاهرة", "خطة-الدلتا", "بطيء", "مرفوض"]
            .iter()
            .enumerate()
            .map(|(i, slug)| item(&format!("https://aljazeera.example/{slug}"), feed, now - i as i64))
            .collect();
        let with_link = |i: &Item| i.link.is_some();
        let claim = crate::store::FullTextClaim {
            feed_url: feed,
            hold_until: now + 30,
            wanted: &with_link,
            hold: false,
        };
        let (report, claimed) = store.ingest_claiming(&items, Some(&claim)).unwrap();
        assert_eq!((report.new, claimed.len()), (4, 4));
        let published = store.recent_unheld(10, 100, |_| true).unwrap().len();
        if store.renders_alone() {
            assert!(store.full_text_held().unwrap().is_empty());
            assert_eq!(published, 4, "nothing held");
            let record = store.full_text(&items[2].key).unwrap().unwrap();
            assert_eq!((record.state, record.held), (FullTextState::Pending, false));
        } else {
            assert_eq!(store.full_text_held().unwrap().len(), 4);
            assert_eq!(published, 0, "held on a shared store");
        }
        let outcomes = vec![
            (
                items[0].key.clone(),
                Ok("<div dir=\"rtl\" lang=\"ar\"><p>وصل الوفد</p></div>".to_owned()),
            ),
            (
                items[1].key.clone(),
                Ok("<div dir=\"rtl\"><p>أعلنت الوزارة</p></div>".to_owned()),
            ),
            (items[3].key.clone(), Err("HTTP 404".to_owned())),
        ];
        assert!(store
            .finish_full_text_batch(&outcomes, now + 1)
            .iter()
            .all(|r| r.is_ok()));
        assert_eq!(store.end_full_text_holds().unwrap(), 1);
        let stats = store.full_text_stats(feed).unwrap();
        assert_eq!(
            (stats.extracted, stats.failed, stats.fallback),
            (2, 1, 1),
            "{stats:?}"
        );
        // Published now, still queued; not counted again.
        assert!(store.full_text_held().unwrap().is_empty());
        assert_eq!(store.recent_unheld(10, 100, |_| true).unwrap().len(), 4);
        assert_eq!(store.pending_full_text().unwrap().len(), 1);
        assert_eq!(store.end_full_text_holds().unwrap(), 0);
        assert_eq!(store.full_text_stats(feed).unwrap().fallback, 1);
        // The late article lands: extracted, still one fallback.
        let late = (
            items[2].key.clone(),
            Ok("<div dir=\"rtl\"><p>متأخر</p></div>".to_owned()),
        );
        assert!(store.finish_full_text_batch(&[late], now + 60)[0].is_ok());
        let stats = store.full_text_stats(feed).unwrap();
        assert_eq!((stats.extracted, stats.fallback), (3, 1), "{stats:?}");
    });
}

/// The task reads the backlog back a page at a time, in key order
/// (`pending_full_text_after`): only pending claims come back, whether
/// they were claimed with their document or alone, held or released, and
/// however many finished ones lie between them; a claim finished, failed,
/// taken back or pruned never comes back.
#[test]
fn pending_claims_are_read_back_by_page_passing_over_finished_ones() {
    on_both(|store| {
        let now = 4_000 * 86_400;
        let feed = "https://aljazeera.example/feed";
        let items: Vec<Item> = (0..40)
            .map(|i| item(&format!("https://aljazeera.example/خبر/{i:02}"), feed, now - i))
            .collect();
        let with_link = |i: &Item| i.link.is_some();
        let claim = crate::store::FullTextClaim {
            feed_url: feed,
            hold_until: now + 30,
            wanted: &with_link,
            hold: true,
        };
        let (_, claimed) = store.ingest_claiming(&items[..30], Some(&claim)).unwrap();
        assert_eq!(claimed.len(), 30);
        for it in &items[30..] {
            assert!(store.claim_full_text(&it.key, feed, now + 30).unwrap());
        }
        store.ingest(&items[30..]).unwrap();
        // Every third finished (extracted or failed), in one batch and alone.
        let outcomes: Vec<(ItemKey, Result<String, String>)> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == 0 && *i < 30)
            .map(|(i, it)| {
                let outcome = if i % 2 == 0 {
                    Ok(format!("<div dir=\"rtl\" lang=\"ar\"><p>المقال {i}</p></div>"))
                } else {
                    Err("HTTP 404".to_owned())
                };
                (it.key.clone(), outcome)
            })
            .collect();
        assert!(store
            .finish_full_text_batch(&outcomes, now + 1)
            .iter()
            .all(|r| r.is_ok()));
        for i in [30, 33, 36, 39] {
            store
                .finish_full_text(&items[i].key, Err("HTTP 500".into()), now + 2)
                .unwrap();
        }
        // Released but still pending.
        assert_eq!(store.release_expired_full_text(now + 30).unwrap(), 26);
        // A claim taken back.
        store.unclaim_full_text(&items[1].key).unwrap();
        let mut want: Vec<ItemKey> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0 && *i != 1)
            .map(|(_, it)| it.key.clone())
            .collect();
        want.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut read = Vec::new();
        let mut after: Option<ItemKey> = None;
        loop {
            let page = store.pending_full_text_after(after.as_ref(), 4).unwrap();
            assert!(page.len() <= 4);
            for (_, record) in &page {
                assert_eq!(record.state, FullTextState::Pending);
                assert_eq!(record.feed_url, feed);
            }
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            read.extend(page.into_iter().map(|(k, _)| k));
        }
        assert_eq!(read, want);
        assert_eq!(store.pending_full_text().unwrap().len(), want.len());
        // Every one finished: nothing left to read back.
        let rest: Vec<(ItemKey, Result<String, String>)> = want
            .iter()
            .map(|k| (k.clone(), Err("HTTP 410".to_owned())))
            .collect();
        assert!(store
            .finish_full_text_batch(&rest, now + 40)
            .iter()
            .all(|r| r.is_ok()));
        assert!(store.pending_full_text_after(None, 4).unwrap().is_empty());
    });
}

/// A revision of `a` by `feed`, the entry built with `title` and `summary`
/// at poll time `now`.
fn revision_of(a: &Item, feed: &str, print: u64, title: &str, summary: Option<&str>, now: i64) -> Revision {
    let mut built = a.clone();
    built.title = title.into();
    built.summary = summary.map(str::to_owned);
    built.first_seen = now;
    built.sources[0].feed_url = feed.into();
    built.fingerprint = Some(print);
    Revision {
        key: a.key.clone(),
        print,
        item: Some(built),
        feed_url: feed.into(),
    }
}

#[test]
fn a_revision_by_the_first_feed_rewrites_the_record_in_place_with_arabic() {
    on_both(|store| {
        let (f1, f2) = ("https://ar.example/feed", "https://wire.example/ar");
        let mut a = item("https://ar.example/أخبار/انفجار-المرفأ", f1, 5);
        a.title = "انفجار في مرفأ بيروت".into();
        a.summary = Some("<p>خبر عاجل</p>".into());
        a.first_seen = 50;
        a.fingerprint = Some(1);
        assert_eq!(store.ingest(std::slice::from_ref(&a)).unwrap().new, 1);
        assert_eq!(
            store.lookup(&a.key, f1).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Is(1)
            }
        );
        // A second outlet brings the same link: a sighting, as ever; its
        // text is not the record's.
        let seen = Sighting {
            key: a.key.clone(),
            date: 5,
            source: Source {
                feed_url: f2.into(),
                feed_name: "وكالة".into(),
                link: a.link.clone(),
            },
        };
        store.ingest_document(&[], &[seen], None).unwrap();
        assert_eq!(
            store.lookup(&a.key, f2).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::NotOurs
            }
        );
        assert_eq!(
            store.keys_from(f1).unwrap()[a.key.as_str()],
            (5, StoredPrint::Is(1))
        );
        assert_eq!(
            store.keys_from(f2).unwrap()[a.key.as_str()],
            (5, StoredPrint::NotOurs)
        );
        // The second outlet's other text under that link revises nothing.
        let other = revision_of(&a, f2, 9, "عنوان وكالة أخرى", None, 60);
        let done = store.ingest_parsed(&[], &[], &[other], None).unwrap();
        assert_eq!((done.report.revised, done.report.changed()), (0, false));
        assert_eq!(store.get(&a.key).unwrap().unwrap().title, a.title);
        // The first feed revises its headline and text.
        let title = "مقتل 70 على الأقل في انفجار مرفأ بيروت";
        let fix = revision_of(&a, f1, 2, title, Some("<p>ارتفع عدد القتلى إلى 70</p>"), 100);
        let done = store.ingest_parsed(&[], &[], &[fix], None).unwrap();
        assert_eq!(
            done.report,
            IngestReport {
                revised: 1,
                ..IngestReport::default()
            }
        );
        assert!(done.report.changed(), "outputs render again");
        assert_eq!(done.revised, [a.key.clone()]);
        let stored = store.get(&a.key).unwrap().unwrap();
        assert_eq!(stored.title, title);
        assert_eq!(stored.summary.as_deref(), Some("<p>ارتفع عدد القتلى إلى 70</p>"));
        // Same key, link, first sight, sort date and sources; updated is
        // the revision's time (the entry gave none).
        assert_eq!(
            (stored.first_seen, stored.date, stored.published),
            (50, 5, Some(5))
        );
        assert_eq!(stored.updated, Some(100));
        let feeds: Vec<&str> = stored.sources.iter().map(|s| s.feed_url.as_str()).collect();
        assert_eq!(feeds, [f1, f2]);
        assert_eq!(store.item_count(), 1, "never new again");
        assert_eq!(
            store.lookup(&a.key, f1).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Is(2)
            }
        );
        // Only the raw bytes changed (the same text once sanitised): the
        // fingerprint is recorded, the record stays.
        let same = revision_of(&a, f1, 3, title, Some("<p>ارتفع عدد القتلى إلى 70</p>"), 200);
        let done = store.ingest_parsed(&[], &[], &[same], None).unwrap();
        assert_eq!(done.report.revised, 0);
        assert_eq!(store.get(&a.key).unwrap().unwrap(), stored);
        assert_eq!(
            store.lookup(&a.key, f1).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Is(3)
            }
        );
        // The entry's own later `updated` is taken over the poll's time.
        let mut own = revision_of(&a, f1, 4, "عنوان ثالث", None, 300);
        own.item.as_mut().unwrap().updated = Some(250);
        store.ingest_parsed(&[], &[], &[own], None).unwrap();
        assert_eq!(store.get(&a.key).unwrap().unwrap().updated, Some(250));
    });
}

#[test]
fn an_item_stored_without_a_fingerprint_gains_one_and_is_not_revised() {
    on_both(|store| {
        let f1 = "https://ar.example/feed";
        let a = item("https://ar.example/أخبار/قديم", f1, 5);
        assert_eq!(a.fingerprint, None, "as a build before fingerprints stored it");
        store.ingest(std::slice::from_ref(&a)).unwrap();
        assert_eq!(
            store.lookup(&a.key, f1).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Missing
            }
        );
        // The parser hands over only the fingerprint for such an item; a
        // built entry (a race with another poll) is not compared either.
        let first = Revision {
            item: None,
            ..revision_of(&a, f1, 7, "نص آخر", None, 100)
        };
        let raced = revision_of(&a, f1, 8, "نص آخر", None, 100);
        let done = store.ingest_parsed(&[], &[], &[first], None).unwrap();
        assert_eq!(done.report.revised, 0);
        assert_eq!(
            store.lookup(&a.key, f1).unwrap(),
            Lookup::Known {
                date: Some(5),
                print: StoredPrint::Is(7)
            }
        );
        assert_eq!(store.get(&a.key).unwrap().unwrap(), a);
        // With a fingerprint stored, the next real change revises.
        let done = store.ingest_parsed(&[], &[], &[raced], None).unwrap();
        assert_eq!(done.report.revised, 1);
        assert_eq!(store.get(&a.key).unwrap().unwrap().title, "نص آخر");
    });
}

#[test]
fn a_revision_keeps_an_extracted_article_and_revises_title_and_summary() {
    on_both(|store| {
        let f1 = "https://ar.example/feed";
        let mut a = item("https://ar.example/أخبار/مقال", f1, 5);
        a.summary = Some("<p>مقدمة</p>".into());
        a.fingerprint = Some(1);
        store.ingest(std::slice::from_ref(&a)).unwrap();
        assert!(store.claim_full_text(&a.key, f1, 0).unwrap());
        let article = "<p>نص المقال الكامل المستخرج</p>".to_owned();
        assert!(store.finish_full_text(&a.key, Ok(article.clone()), 60).unwrap());
        let fix = revision_of(&a, f1, 2, "عنوان مصحح", Some("<p>مقدمة مصححة</p>"), 100);
        let done = store.ingest_parsed(&[], &[], &[fix], None).unwrap();
        assert_eq!(done.report.revised, 1);
        let stored = store.get(&a.key).unwrap().unwrap();
        assert_eq!(stored.title, "عنوان مصحح");
        assert_eq!(stored.summary.as_deref(), Some("<p>مقدمة مصححة</p>"));
        assert_eq!(
            stored.content.as_deref(),
            Some(article.as_str()),
            "the article stays"
        );
        // A revision that leaves title and summary as they are changes
        // nothing, though the feed's content is not the stored one.
        let mut same = revision_of(&a, f1, 3, "عنوان مصحح", Some("<p>مقدمة مصححة</p>"), 200);
        same.item.as_mut().unwrap().content = Some("<p>نص الخلاصة</p>".into());
        let done = store.ingest_parsed(&[], &[], &[same], None).unwrap();
        assert_eq!(done.report.revised, 0);
    });
}
