//! Processes of this machine, which is the lab's host too: finding the sshd that serves the
//! SSH connection a remote command runs under, to cut that connection (the fault tests'
//! "connection dropped") while the command itself goes on.

/// The parent and the name (`comm`) of a process.
pub fn parent_and_name(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    let ppid = stat[close + 2..].split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, name))
}

/// The sshd process serving the SSH connection `pid` runs under: the nearest sshd above it.
pub fn sshd_above(pid: u32) -> u32 {
    let mut pid = pid;
    loop {
        let (parent, _) = parent_and_name(pid).expect("the process's ancestors");
        let (_, name) = parent_and_name(parent).expect("a parent");
        if name.starts_with("sshd") {
            return parent;
        }
        assert!(parent > 1, "no sshd above process {pid}");
        pid = parent;
    }
}

/// Kills the sshd serving `pid`'s connection: the connection drops, and `pid` goes on
/// running on the host.
pub fn kill_sshd_above(pid: u32) {
    let sshd = sshd_above(pid);
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &sshd.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}
