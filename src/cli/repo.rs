//! `tend repo index DIR`: writes a private package repository's `index.json` from the
//! headers of the zips in it. Needs no inventory and connects nowhere.

use std::path::Path;

use super::{print_data, CommandError, EXIT_OK};
use crate::ui::{repo_view, OutputMode};

pub(super) fn index(dir: &Path, mode: OutputMode) -> Result<u8, CommandError> {
    let index = crate::updates::repository::index_folder(dir)
        .map_err(|e| CommandError::runtime(format!("cannot index {}: {e}", dir.display())))?;
    print_data(
        mode,
        || repo_view::index_json(&index),
        || repo_view::index_text(dir, &index),
    );
    Ok(EXIT_OK)
}
