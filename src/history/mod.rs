//! Run history: what every acting command (`run`, `backup`, `restore`, `recover`, `prune`)
//! did, kept in the store for `tend history`, monthly reports and notifications.
//!
//! Records are JSON lines appended to `<store>/history/runs-YYYY-MM.jsonl` (the month the
//! command started in): a `start` line when a command begins (with the sites it sets out to
//! do), a `site` line as each site finishes, and the full `site` lines and a `finish` line at
//! the end. Appends take an exclusive lock on the file and are flushed to disk, so two tend
//! processes writing at once never interleave lines, and a crash leaves at worst one torn
//! last line, which readers skip. A command killed midway keeps its `start` line and the
//! sites it finished, and shows as unfinished. Plain lines need no database engine, can be
//! read with `jq`, and survive any tend version.

pub mod record;
pub mod store;

pub use record::{
    ChangeRecord, CheckRecord, HeldRecord, OffsiteRecord, RolledBackRecord, RunRecord, SiteRecord,
    SnapshotRecord, UntrackedRecord,
};
pub use store::History;
