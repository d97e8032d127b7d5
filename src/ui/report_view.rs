//! What `tend report` says once its files are written: the files, one per line, or a JSON
//! document listing them for the tool that mails them.

use serde_json::{json, Value};

use crate::report::write::Written;
use crate::report::Month;

/// `{"month": "2026-11", "reports": [{"client", "format", "file", "sites"}]}`.
pub fn written_json(month: Month, written: &[Written]) -> Value {
    let reports: Vec<Value> = written
        .iter()
        .map(|w| {
            json!({
                "client": w.client,
                "format": w.format,
                "file": w.file.display().to_string(),
                "sites": w.sites,
            })
        })
        .collect();
    json!({ "month": month, "reports": reports })
}

/// One written file per line.
pub fn written_text(written: &[Written]) -> String {
    written
        .iter()
        .map(|w| format!("{}\n", w.file.display()))
        .collect()
}
