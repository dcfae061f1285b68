//! Stack Exchange data dumps (`../shared/data/stackexchange-*`): the
//! `<row .../>` lines of their XML files as attribute maps, for the example
//! that converts a dump and the tests that read one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The attributes of one `<row .../>` line, values with XML entities decoded.
pub fn attributes(line: &str) -> Option<HashMap<String, String>> {
    let mut rest = line.trim().strip_prefix("<row ")?;
    let mut out = HashMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with("/>") {
            return Some(out);
        }
        let eq = rest.find("=\"")?;
        let (name, after) = (&rest[..eq], &rest[eq + 2..]);
        let end = after.find('"')?;
        out.insert(name.to_owned(), unescape(&after[..end]));
        rest = &after[end + 1..];
    }
}

/// Decodes the XML entities a dump uses (`&lt;`, `&amp;`, `&#xA;`, ...).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every row of one dump file.
pub fn rows(dump: &Path, file: &str) -> std::io::Result<Vec<HashMap<String, String>>> {
    let reader = BufReader::new(File::open(dump.join(file))?);
    let mut out = Vec::new();
    for line in reader.lines() {
        if let Some(row) = attributes(&line?) {
            out.push(row);
        }
    }
    Ok(out)
}
