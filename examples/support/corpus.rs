//! The documents of a corpus folder, for the examples that read every
//! one: feeds (`../shared/corpus/realworld`: `parse_bench`,
//! `teaser_share`) and article pages (`../shared/corpus/articles`:
//! `extract_bench`, `discover_bench`).
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

/// Every file under `dir` whose extension is one of `exts`, in path order.
pub fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, exts, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(p);
        }
    }
}

/// Every article page under `dir` (`.html`, `.html.gz`, or any file in an
/// `html` folder), in the order the folders list them.
pub fn article_pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            article_pages(&p, out);
        } else {
            let name = p.to_string_lossy();
            if name.ends_with(".html.gz") || name.ends_with(".html") || name.contains("/html/") {
                out.push(p);
            }
        }
    }
}

/// A page's bytes, gunzipped when its name ends in `.gz`.
pub fn read_page(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}
