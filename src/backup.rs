//! Backups: every stored item as JSON lines (`feedwire export`,
//! `GET /export.jsonl`) and back (`feedwire import`). After the items come
//! the seen records of pruned items (`{"seen": key, "first_seen": t}`), so
//! that a store moved to another backend never brings them back as new.

use anyhow::Context;

use serde::{Deserialize, Serialize};

use crate::item::{Item, ItemKey};
use crate::store::{Store, StoreError};

/// A seen record's line in the dump.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeenLine {
    seen: String,
    first_seen: i64,
}

/// One line of a dump: a seen record or an item (older dumps hold items only).
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Seen(SeenLine),
    Item(Box<Item>),
}

/// Writes every stored item as one JSON object per line, oldest first, then
/// every seen record, in chunks to `sink` (which returns false to stop).
/// The format is what [`import_jsonl`] reads back. Returns the items written.
pub fn export_jsonl(store: &Store, mut sink: impl FnMut(Vec<u8>) -> bool) -> Result<usize, StoreError> {
    let mut chunk = Vec::with_capacity(64 * 1024);
    let mut count = 0;
    let mut open = true;
    store.for_each_item(|item| {
        serde_json::to_writer(&mut chunk, &item).expect("items serialise");
        chunk.push(b'\n');
        count += 1;
        if chunk.len() >= 64 * 1024 {
            open = sink(std::mem::take(&mut chunk));
        }
        open
    })?;
    if open {
        store.for_each_seen(|key, first_seen| {
            let line = SeenLine {
                seen: key.as_str().to_owned(),
                first_seen,
            };
            serde_json::to_writer(&mut chunk, &line).expect("seen records serialise");
            chunk.push(b'\n');
            if chunk.len() >= 64 * 1024 {
                open = sink(std::mem::take(&mut chunk));
            }
            open
        })?;
    }
    if open && !chunk.is_empty() {
        sink(chunk);
    }
    Ok(count)
}

/// Loads a JSON-lines dump made by `feedwire export` into the store:
/// items not stored yet are added with their original dates and sources;
/// known ones gain any missing sources; seen records are added for keys not
/// stored. Returns (new, already present) items.
pub fn import_jsonl(store: &Store, input: impl std::io::BufRead) -> anyhow::Result<(usize, usize)> {
    let mut batch = Vec::with_capacity(1000);
    let (mut new, mut present) = (0, 0);
    let mut seen: Vec<(ItemKey, i64)> = Vec::new();
    let mut flush = |batch: &mut Vec<Item>| -> anyhow::Result<()> {
        let r = store.ingest(batch)?;
        new += r.new;
        present += r.duplicate;
        batch.clear();
        Ok(())
    };
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&line).with_context(|| format!("line {}: not an exported item", n + 1))?;
        match parsed {
            Line::Item(item) => {
                batch.push(*item);
                if batch.len() == 1000 {
                    flush(&mut batch)?;
                }
            }
            Line::Seen(s) => {
                seen.push((ItemKey::from_stored(s.seen), s.first_seen));
                if seen.len() == 1000 {
                    flush(&mut batch)?;
                    store.import_seen(&seen)?;
                    seen.clear();
                }
            }
        }
    }
    flush(&mut batch)?;
    // Items first: a seen record never shadows an item in the same dump.
    store.import_seen(&seen)?;
    store.flush()?;
    Ok((new, present))
}
