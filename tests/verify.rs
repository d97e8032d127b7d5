//! HTTP verification against real WordPress sites served by PHP on the lab.

mod support;

use std::time::Duration;

use support::Lab;
use tend::verify::{builtin_checks, client, run_checks, CheckSpec};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_healthy_site_passes_the_builtin_checks() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let results = runtime().block_on(run_checks(
        &client(Duration::from_secs(20)),
        &s1.url,
        &builtin_checks(tend::cms::wordpress::KIND),
    ));
    assert_eq!(results.len(), 2);
    for r in &results {
        assert!(r.ok, "{r:?}");
        assert_eq!(r.status, Some(200));
    }
}

#[test]
fn a_plugin_that_fatals_fails_the_builtin_checks_with_the_reason() {
    let lab = Lab::shared();
    let wp = lab.add_site("fatalsite");
    let mu = wp.path.join("wp-content/mu-plugins");
    std::fs::create_dir_all(&mu).unwrap();
    std::fs::write(
        mu.join("broken.php"),
        "<?php\nundefined_function_from_a_bad_update();\n",
    )
    .unwrap();
    let results = runtime().block_on(run_checks(
        &client(Duration::from_secs(20)),
        &wp.url,
        &builtin_checks(tend::cms::wordpress::KIND),
    ));
    let home = &results[0];
    assert!(!home.ok, "{home:?}");
    assert_eq!(home.status, Some(500));
    assert!(
        home.problems
            .iter()
            .any(|p| p.contains("critical error") || p.contains("Fatal error")),
        "{home:?}"
    );
}

#[test]
fn site_checks_and_unreachable_sites() {
    let lab = Lab::shared();
    let s1 = lab.site("site1");
    let checks = vec![
        CheckSpec {
            name: "title".into(),
            path: "/".into(),
            status: 200,
            contains: vec!["<title>".into(), "Lab site1".into()],
            not_contains: vec!["Fatal error".into()],
        },
        CheckSpec {
            name: "missing page".into(),
            path: "/no-such-file.txt".into(),
            status: 200,
            contains: vec![],
            not_contains: vec![],
        },
    ];
    let http = client(Duration::from_secs(20));
    let results = runtime().block_on(run_checks(&http, &s1.url, &checks));
    assert!(results[0].ok, "{:?}", results[0]);
    assert!(!results[1].ok);
    assert_eq!(results[1].problems, ["answered 404, expected 200"]);

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let results = runtime().block_on(run_checks(
        &http,
        &format!("http://127.0.0.1:{closed}"),
        &checks[..1],
    ));
    assert_eq!(results[0].status, None);
    assert!(
        results[0].problems[0].starts_with("no answer from"),
        "{:?}",
        results[0]
    );
}
