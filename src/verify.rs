//! HTTP checks against a site: does it answer, and answer what it should?
//!
//! Every verification applies the built-in checks of the site's CMS (the home page answers
//! 200 without a PHP error or the CMS's own error page; for WordPress, `wp-login.php`
//! answers) plus the checks of the playbook and of the site. Redirects are followed and
//! every request has a timeout. A check's result says what was expected and what came,
//! so that "the update broke the shop page" can be told from "the shop was already down".

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cms::maintenance_pass::Passage;
use crate::cms::{self, BuiltinPage, Cms, CmsKind};
use crate::inventory::Check;

/// Largest body read for a check; the rest of a huge page is not looked at.
const BODY_LIMIT: usize = 5 * 1024 * 1024;

/// Texts PHP prints when a script dies (with `display_errors` on).
const PHP_ERRORS: &[&str] = &[
    "Fatal error</b>:",
    "Parse error</b>:",
    "PHP Fatal error:",
    "PHP Parse error:",
];

/// One check to run: a path, the status it must answer, texts it must (not) contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckSpec {
    /// What the check is, for reports (`home page`, `/shop/`).
    pub name: String,
    pub path: String,
    pub status: u16,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
}

impl From<&Check> for CheckSpec {
    fn from(check: &Check) -> CheckSpec {
        CheckSpec {
            name: check.path.clone(),
            path: check.path.clone(),
            status: check.status.unwrap_or(200),
            contains: check.contains.clone(),
            not_contains: check.not_contains.clone(),
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub path: String,
    pub ok: bool,
    /// The final status, after redirects; `None` when no answer came.
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// Why it failed, one line each.
    pub problems: Vec<String>,
}

/// The checks every site of `cms` gets.
pub fn builtin_checks(cms: CmsKind) -> Vec<CheckSpec> {
    builtin_checks_of(cms::adapter(cms))
}

/// The checks every site of this CMS gets: its home page and its own built-in pages answer
/// 200 without a PHP error or the CMS's error page.
pub fn builtin_checks_of(cms: &dyn Cms) -> Vec<CheckSpec> {
    let mut not_contains: Vec<String> = PHP_ERRORS.iter().map(|s| (*s).to_owned()).collect();
    not_contains.extend(cms.error_page_markers().iter().map(|s| (*s).to_owned()));
    let home = BuiltinPage {
        name: "home page",
        path: "/",
    };
    std::iter::once(&home)
        .chain(cms.builtin_pages())
        .map(|page| CheckSpec {
            name: page.name.to_owned(),
            path: page.path.to_owned(),
            status: 200,
            contains: Vec::new(),
            not_contains: not_contains.clone(),
        })
        .collect()
}

/// An HTTP client for checks: redirects followed (up to 10), a timeout per request.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(10))
        .user_agent(concat!(
            "tend/",
            env!("CARGO_PKG_VERSION"),
            " (site verification)"
        ))
        .build()
        .expect("an HTTP client with these settings always builds")
}

/// Runs `checks` against the site at `base_url`, one after the other.
pub async fn run_checks(
    client: &reqwest::Client,
    base_url: &str,
    checks: &[CheckSpec],
) -> Vec<CheckResult> {
    run_checks_passing(client, base_url, checks, None).await
}

/// [`run_checks`] through the site's maintenance mode: each request carries what `passage`
/// says (the run's secret in a header), so the checks see the real site while visitors
/// see the maintenance page.
pub async fn run_checks_passing(
    client: &reqwest::Client,
    base_url: &str,
    checks: &[CheckSpec],
    passage: Option<&Passage>,
) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        results.push(run_check(client, base_url, check, passage).await);
    }
    results
}

async fn run_check(
    client: &reqwest::Client,
    base_url: &str,
    check: &CheckSpec,
    passage: Option<&Passage>,
) -> CheckResult {
    let url = format!("{}{}", base_url.trim_end_matches('/'), check.path);
    let started = Instant::now();
    let mut result = CheckResult {
        name: check.name.clone(),
        path: check.path.clone(),
        ok: false,
        status: None,
        elapsed_ms: 0,
        problems: Vec::new(),
    };
    let mut request = client.get(&url);
    if let Some((name, value)) = passage.and_then(Passage::header) {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            result.elapsed_ms = started.elapsed().as_millis() as u64;
            result
                .problems
                .push(format!("no answer from {url}: {}", describe(&e)));
            return result;
        }
    };
    let status = response.status().as_u16();
    result.status = Some(status);
    let body = read_body(response).await;
    result.elapsed_ms = started.elapsed().as_millis() as u64;
    result.problems = judge(check, status, &body);
    result.ok = result.problems.is_empty();
    result
}

/// What is wrong with an answer of `status` and `body` to `check` (pure).
pub fn judge(check: &CheckSpec, status: u16, body: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if status != check.status {
        problems.push(format!("answered {status}, expected {}", check.status));
    }
    for text in &check.contains {
        if !body.contains(text.as_str()) {
            problems.push(format!("does not contain {text:?}"));
        }
    }
    for text in &check.not_contains {
        if body.contains(text.as_str()) {
            problems.push(format!("contains {text:?}"));
        }
    }
    problems
}

async fn read_body(mut response: reqwest::Response) -> String {
    let mut body: Vec<u8> = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = BODY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= BODY_LIMIT {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_redirect() {
        "too many redirects".to_owned()
    } else {
        crate::error_chain::describe(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CheckSpec {
        CheckSpec {
            name: "/shop/".into(),
            path: "/shop/".into(),
            status: 200,
            contains: vec!["Add to cart".into()],
            not_contains: vec!["Fatal error</b>:".into()],
        }
    }

    #[test]
    fn judges_status_and_texts() {
        assert!(judge(&spec(), 200, "<button>Add to cart</button>").is_empty());
        assert_eq!(
            judge(&spec(), 500, "<b>Fatal error</b>: Uncaught Error"),
            vec![
                "answered 500, expected 200".to_owned(),
                "does not contain \"Add to cart\"".to_owned(),
                "contains \"Fatal error</b>:\"".to_owned()
            ]
        );
    }

    #[test]
    fn wordpress_gets_home_and_login_checks_with_its_error_page() {
        let checks = builtin_checks(cms::wordpress::KIND);
        assert_eq!(
            checks.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
            ["/", "/wp-login.php"]
        );
        assert!(checks[0]
            .not_contains
            .iter()
            .any(|t| t == "There has been a critical error on this website"));
        let magento = builtin_checks(cms::magento::KIND);
        assert_eq!(magento.len(), 1);
        assert!(magento[0]
            .not_contains
            .iter()
            .any(|t| t.contains("There has been an error processing your request")));
    }
}
