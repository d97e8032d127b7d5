//! What `tend repo index` shows: the index it wrote, package by package.

use std::path::Path;

use serde_json::Value;

use crate::updates::repository::Index;

pub fn index_json(index: &Index) -> Value {
    serde_json::to_value(index).unwrap_or_default()
}

pub fn index_text(dir: &Path, index: &Index) -> String {
    let mut out = format!(
        "{}: {} package(s)\n",
        dir.join("index.json").display(),
        index.packages.len()
    );
    for p in &index.packages {
        out.push_str(&format!(
            "  {:<6} {:<30} {:<12} {:<10} {}\n",
            p.kind.name(),
            p.slug,
            p.version,
            p.released
                .map(|r| r.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".to_owned()),
            p.url
        ));
    }
    out
}
