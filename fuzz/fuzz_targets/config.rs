//! `Config::parse`: any text is accepted or rejected without panicking, and
//! every problem reported points inside the text (1-based line within the
//! text's lines, column at most one past the end of that line, counted in
//! characters as `config::line_col` does).

#![no_main]

use std::path::Path;

use feedwire::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Err(err) = Config::parse(Path::new("feeds.toml"), text) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        !err.problems().is_empty(),
        "an invalid config names at least one problem"
    );
    for p in err.problems() {
        assert!(
            (1..=lines.len()).contains(&p.line),
            "line {} outside 1..={} in {p}",
            p.line,
            lines.len()
        );
        let chars = lines[p.line - 1].chars().count();
        assert!(
            (1..=chars + 1).contains(&p.column),
            "column {} outside 1..={} on line {}: {p}",
            p.column,
            chars + 1,
            p.line
        );
        let _ = p.to_string();
    }
    let _ = err.to_string();
});
