//! `tend completions SHELL` and `tend man`, through the real binary: the bash script is
//! sourced in a real bash and asked to complete, the man page is roff naming every
//! subcommand; neither needs an inventory. And each subcommand's help offers only the
//! top-level flags that apply to it, while they still work before or after it.

mod support;

use std::path::Path;
use std::process::Command;

use support::tend;

/// What the bash completion of `tend` offers for the words `line` (the last one is the word
/// being completed), as bash itself computes it from the generated script.
fn bash_complete(script: &Path, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source \"$1\"\nCOMP_WORDS=(tend {words})\nCOMP_CWORD={cword}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n_tend tend \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.join(" "),
        cword = line.len(),
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(program)
        .arg("_")
        .arg(script)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    offered.sort();
    offered
}

#[test]
fn bash_completes_subcommands_and_the_flags_of_each() {
    // An empty folder: no inventory anywhere, and none is needed.
    let work = tempfile::tempdir().unwrap();
    let out = tend(work.path(), &["completions", "bash"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let script = work.path().join("tend.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    assert_eq!(bash_complete(&script, &["ba"]), ["backup", "backups"]);
    assert_eq!(bash_complete(&script, &["backups", "l"]), ["list"]);
    let backup = bash_complete(&script, &["backup", "--"]);
    assert!(backup.contains(&"--limit".to_owned()), "{backup:?}");
    assert!(backup.contains(&"--label".to_owned()), "{backup:?}");
    assert_eq!(bash_complete(&script, &["run", "--re"]), ["--retry-held"]);
    // A flag that does not apply to a command is not offered for it.
    let index = bash_complete(&script, &["repo", "index", "--"]);
    assert!(index.contains(&"--json".to_owned()), "{index:?}");
    assert!(!index.contains(&"--limit".to_owned()), "{index:?}");
    assert!(!index.contains(&"--inventory".to_owned()), "{index:?}");
}

#[test]
fn every_shell_of_the_contract_gets_a_script() {
    let work = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("zsh", "#compdef tend"),
        ("fish", "complete -c tend"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = tend(work.path(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}:\n{}", out.stdout);
        assert!(out.stdout.contains("backups"), "{shell}");
    }
    let out = tend(work.path(), &["completions", "tcsh"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid value 'tcsh'"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let work = tempfile::tempdir().unwrap();
    let out = tend(work.path(), &["man"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(".TH tend 1 "), "{}", out.stdout);
    assert!(out.stdout.contains(".SH SUBCOMMANDS"), "{}", out.stdout);
    for sub in [
        "check",
        "facts",
        "run",
        "recover",
        "backup",
        "backups",
        "history",
        "restore",
        "report",
        "repo",
        "completions",
        "man",
    ] {
        assert!(
            out.stdout.contains(&format!("tend\\-{sub}(1)")),
            "{sub}:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("\\-\\-limit"), "{}", out.stdout);

    // With --out, the pages it refers to are written too.
    let dir = work.path().join("man1");
    let out = tend(work.path(), &["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in [
        "tend.1",
        "tend-backup.1",
        "tend-backups-list.1",
        "tend-repo-index.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".TH "), "{page}:\n{text}");
        assert!(out.stdout.contains(page), "{}", out.stdout);
    }
    let list = std::fs::read_to_string(dir.join("tend-backups-list.1")).unwrap();
    assert!(list.contains("\\-\\-limit"), "{list}");
    assert!(!list.contains("\\-\\-forks"), "{list}");
}

#[test]
fn help_offers_only_the_flags_that_apply_and_they_work_on_either_side() {
    let work = tempfile::tempdir().unwrap();
    let help = tend(work.path(), &["repo", "index", "--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(!help.stdout.contains("--limit"), "{}", help.stdout);
    assert!(!help.stdout.contains("--forks"), "{}", help.stdout);
    assert!(help.stdout.contains("--json"), "{}", help.stdout);
    let help = tend(work.path(), &["completions", "--help"]);
    for flag in ["--limit", "--forks", "--json", "--inventory", "--quiet"] {
        assert!(!help.stdout.contains(flag), "{flag}:\n{}", help.stdout);
    }
    let help = tend(work.path(), &["backup", "--help"]);
    for flag in [
        "--limit",
        "--forks",
        "--json",
        "--inventory",
        "--quiet",
        "--label",
    ] {
        assert!(help.stdout.contains(flag), "{flag}:\n{}", help.stdout);
    }
    let help = tend(work.path(), &["--help"]);
    for flag in ["--limit", "--forks", "--json", "--inventory", "--quiet"] {
        assert!(help.stdout.contains(flag), "{flag}:\n{}", help.stdout);
    }

    // A flag given after its command reaches it as one given before it does.
    std::fs::write(
        work.path().join("inv.yml"),
        format!(
            "settings:\n  store: '{}'\nsites:\n  a:\n    host: 127.0.0.1\n    path: /var/www/a\n    url: http://a.example\n",
            work.path().join("store").display()
        ),
    )
    .unwrap();
    for args in [
        &["-i", "inv.yml", "-l", "a", "--json", "backups", "list"][..],
        &["backups", "list", "-i", "inv.yml", "-l", "a", "--json"],
        &["backups", "-i", "inv.yml", "list", "--json"],
    ] {
        let out = tend(work.path(), args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout.trim(), r#"{"snapshots":[]}"#, "{args:?}");
    }
    // One that does not apply is refused there, as any unknown flag.
    let out = tend(work.path(), &["restore", "a", "-f", "2", "-i", "inv.yml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unexpected argument '-f'"),
        "{}",
        out.stderr
    );
}
