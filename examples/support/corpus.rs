//! Feed documents of a corpus folder (`../shared/corpus/realworld`), for
//! the examples that read every one (`parse_bench`, `teaser_share`).

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
