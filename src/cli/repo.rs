//! `tend repo index DIR`: writes a private package repository's `index.json` from the
//! headers of the zips in it. Needs no inventory and connects nowhere.

use std::path::Path;

use super::{print_data, CommandError, EXIT_OK};
use crate::diagnostic::InputError;
use crate::ui::{repo_view, OutputMode};

pub(super) fn index(
    dir: &Path,
    released: Option<&str>,
    mode: OutputMode,
) -> Result<u8, CommandError> {
    let released = released
        .map(crate::updates::repository::parse_released)
        .transpose()
        .map_err(|e| InputError::new(format!("--released: {e}")))?;
    // The folder and its zips are the command's input: a zip that is no package is an
    // input error naming it.
    let index = crate::updates::repository::index_folder(dir, released)
        .map_err(|e| InputError::new(format!("cannot index {}: {e}", dir.display())))?;
    print_data(
        mode,
        || repo_view::index_json(&index),
        || repo_view::index_text(dir, &index),
    );
    Ok(EXIT_OK)
}
