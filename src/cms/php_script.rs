//! Running a PHP script of tend's on a host with the site's own PHP, secrets kept off the
//! command line.
//!
//! The script travels on stdin (`php` reads its program from there when given none), and
//! its parameters — database credentials among them — are embedded in that text as
//! hex-encoded JSON. Nothing secret is ever an argument, so `ps` on a shared host shows only
//! `php`. The script answers with one JSON document on stdout.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::inventory::Site;
use crate::remote::{Connection, RemoteCommand};
use crate::site_error::SiteError;

/// Largest answer a fact script may give.
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// `script` (PHP source starting with `<?php`) with `$params` defined from `params`.
pub fn with_params<P: Serialize>(script: &str, params: &P) -> Result<String, SiteError> {
    let json = serde_json::to_vec(params)
        .map_err(|e| SiteError::failed("encoding script parameters", e))?;
    let hex: String = json.iter().map(|b| format!("{b:02x}")).collect();
    let body = script
        .strip_prefix("<?php")
        .ok_or_else(|| SiteError::failed("internal", "a PHP script must start with <?php"))?;
    Ok(format!(
        "<?php\n$params = json_decode(hex2bin('{hex}'), true);\n{body}"
    ))
}

/// Runs `script` with the site's PHP in the site's root and parses its JSON answer.
pub async fn run_json<P: Serialize, T: DeserializeOwned>(
    host: &Connection,
    site: &Site,
    script: &str,
    params: &P,
) -> Result<T, SiteError> {
    let program = with_params(script, params)?;
    let command = RemoteCommand::new(&site.php)
        .arg("-d")
        .arg("display_errors=stderr")
        .in_dir(&site.path);
    let output = host
        .run(&command, Some(program.as_bytes()), ANSWER_LIMIT)
        .await?;
    serde_json::from_slice(&output.stdout).map_err(|e| {
        SiteError::failed(
            format!("PHP on {}", host.destination()),
            format!(
                "unexpected answer ({e}): {}",
                output.stdout_text().chars().take(200).collect::<String>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_parameters_as_hex_json() {
        let out = with_params(
            "<?php\necho $params['a'];",
            &serde_json::json!({"a": "x'y"}),
        )
        .unwrap();
        assert!(out.starts_with(
            "<?php\n$params = json_decode(hex2bin('7b2261223a22782779227d'), true);\n"
        ));
        assert!(out.ends_with("\necho $params['a'];"));
    }
}
