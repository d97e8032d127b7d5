//! Named points where a fault-injection test can hold tend still, to kill it there: the
//! moments a real fault may strike but that pass too quickly for a test to hit by timing
//! (a snapshot renamed aside but not yet deleted, a stale lock moved to its `.gone.` name
//! but the new one not yet in place).
//!
//! Only debug builds (which the integration tests drive) read `TEND_FAULT_PAUSE=POINT=FILE`:
//! reaching POINT, tend creates FILE (so the test knows it is there) and waits a minute. In
//! release builds every function here is empty, so the hook can never change what users
//! run.

/// How long a paused point waits: far longer than a test needs to act.
#[cfg(debug_assertions)]
const PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// The marker file to create at `point`, when a test asked to pause there.
#[cfg(debug_assertions)]
fn marker(point: &str) -> Option<String> {
    let wanted = std::env::var("TEND_FAULT_PAUSE").ok()?;
    let (name, file) = wanted.split_once('=')?;
    (name == point).then(|| file.to_owned())
}

/// Holds this process at `point` if a test asked for it (debug builds only).
pub fn pause(point: &str) {
    #[cfg(debug_assertions)]
    if let Some(file) = marker(point) {
        let _ = std::fs::write(&file, point);
        std::thread::sleep(PAUSE);
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Shell that holds a remote script at `point` if a test asked for it (debug builds only;
/// empty otherwise). The marker file is created on the host.
pub fn pause_script(point: &str) -> String {
    #[cfg(debug_assertions)]
    if let Some(file) = marker(point) {
        return format!(
            ": > {}; sleep {}; ",
            crate::remote::quote(&file),
            PAUSE.as_secs()
        );
    }
    let _ = point;
    String::new()
}

/// Shell putting a test's stand-in programs first on the remote PATH (debug builds only,
/// `TEND_FAULT_REMOTE_PATH=DIR`: a host whose `find` is not GNU find, say); empty otherwise.
pub fn path_script() -> String {
    #[cfg(debug_assertions)]
    if let Ok(dir) = std::env::var("TEND_FAULT_REMOTE_PATH") {
        return format!("PATH={}:$PATH; export PATH; ", crate::remote::quote(&dir));
    }
    String::new()
}
