//! Backups: every stored item as JSON lines (`feedwire export`,
//! `GET /export.jsonl`) and back (`feedwire import`).

use anyhow::Context;

use crate::item::Item;
use crate::store::{Store, StoreError};

/// Writes every stored item as one JSON object per line, oldest first, in
/// chunks to `sink` (which returns false to stop). The format is what
/// [`import_jsonl`] reads back.
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
    if open && !chunk.is_empty() {
        sink(chunk);
    }
    Ok(count)
}

/// Loads a JSON-lines dump made by `feedwire export` into the store:
/// items not stored yet are added with their original dates and sources;
/// known ones gain any missing sources. Returns (new, already present).
pub fn import_jsonl(store: &Store, input: impl std::io::BufRead) -> anyhow::Result<(usize, usize)> {
    let mut batch = Vec::with_capacity(1000);
    let (mut new, mut present) = (0, 0);
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
        let item: Item =
            serde_json::from_str(&line).with_context(|| format!("line {}: not an exported item", n + 1))?;
        batch.push(item);
        if batch.len() == 1000 {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;
    store.flush()?;
    Ok((new, present))
}
