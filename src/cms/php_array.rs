//! PHP array literals, read without running PHP: Magento's `app/etc/env.php` and
//! `config.php` are `return [ … ];` files of nested arrays.
//!
//! Running them would need the host's PHP and could run code; they are plain literals, so
//! tend parses them: `[ … ]` and `array( … )`, `key => value` and list entries, quoted
//! strings with PHP's escapes, numbers, `true`/`false`/`null`. Anything else (a constant, a
//! function call, string concatenation) is an error naming what was found, never a guess.

use super::php_source::{literal, strip_comments};

#[derive(Debug, Clone, PartialEq)]
pub enum PhpValue {
    /// Strings, numbers and booleans, as PHP would print them (`true` → `1`, `false` → ``).
    Scalar(String),
    Null,
    /// Entries in order; list entries get keys 0, 1, … as PHP gives them.
    Array(Vec<(String, PhpValue)>),
}

impl PhpValue {
    /// The entry at `key` of an array.
    pub fn get(&self, key: &str) -> Option<&PhpValue> {
        match self {
            PhpValue::Array(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry at a path of keys.
    pub fn at(&self, path: &[&str]) -> Option<&PhpValue> {
        path.iter().try_fold(self, |value, key| value.get(key))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            PhpValue::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// The value a PHP file `return`s.
pub fn parse_return(source: &str) -> Result<PhpValue, String> {
    let source = strip_comments(source);
    let start = find_return(&source).ok_or("the file does not `return` a value")?;
    let mut parser = Parser {
        rest: &source[start..],
    };
    let value = parser.value()?;
    parser.skip_space();
    if !parser.rest.starts_with(';') && !parser.rest.is_empty() {
        return Err(format!(
            "unexpected `{}` after the returned value",
            parser.peek_word()
        ));
    }
    Ok(value)
}

fn find_return(source: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = source[from..].find("return") {
        let at = from + i;
        let before_ok = at == 0
            || !source[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        let after = &source[at + "return".len()..];
        if before_ok && after.starts_with(|c: char| c.is_whitespace() || c == '[' || c == '(') {
            return Some(at + "return".len());
        }
        from = at + "return".len();
    }
    None
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn peek_word(&self) -> String {
        self.rest.chars().take(24).collect()
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if let Some(rest) = self.rest.strip_prefix(token) {
            self.rest = rest;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<PhpValue, String> {
        self.skip_space();
        if self.eat("[") {
            return self.entries("]");
        }
        let lower = self.rest.get(..5).map(str::to_ascii_lowercase);
        if lower.as_deref() == Some("array") {
            let after = self.rest[5..].trim_start();
            if let Some(rest) = after.strip_prefix('(') {
                self.rest = rest;
                return self.entries(")");
            }
        }
        let lower4 = self.rest.get(..4).map(str::to_ascii_lowercase);
        if lower4.as_deref() == Some("null")
            && !self.rest[4..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            self.rest = &self.rest[4..];
            return Ok(PhpValue::Null);
        }
        // A leading minus on a number.
        let negative = self.rest.starts_with('-');
        let text = if negative { &self.rest[1..] } else { self.rest };
        match literal(text) {
            Some((value, rest)) => {
                self.rest = rest;
                self.ensure_value_ends()?;
                Ok(PhpValue::Scalar(if negative {
                    format!("-{value}")
                } else {
                    value
                }))
            }
            None => Err(format!(
                "`{}` is not a literal (tend reads literal values only)",
                self.peek_word()
            )),
        }
    }

    /// A literal must be followed by `,`, `=>`, `]`, `)` or `;`: `'a' . 'b'` is refused.
    fn ensure_value_ends(&mut self) -> Result<(), String> {
        self.skip_space();
        if self.rest.is_empty()
            || [",", "=>", "]", ")", ";"]
                .iter()
                .any(|t| self.rest.starts_with(t))
        {
            Ok(())
        } else {
            Err(format!(
                "`{}` follows a value (tend reads literal values only)",
                self.peek_word()
            ))
        }
    }

    fn entries(&mut self, close: &str) -> Result<PhpValue, String> {
        let mut entries: Vec<(String, PhpValue)> = Vec::new();
        let mut next_index: i64 = 0;
        loop {
            if self.eat(close) {
                return Ok(PhpValue::Array(entries));
            }
            if self.rest.trim().is_empty() {
                return Err(format!("the array is not closed with `{close}`"));
            }
            let first = self.value()?;
            let (key, value) = if self.eat("=>") {
                let key = match first {
                    PhpValue::Scalar(k) => k,
                    PhpValue::Null => String::new(),
                    PhpValue::Array(_) => return Err("an array cannot be a key".to_owned()),
                };
                (key, self.value()?)
            } else {
                (next_index.to_string(), first)
            };
            if let Ok(n) = key.parse::<i64>() {
                next_index = next_index.max(n + 1);
            }
            // A later duplicate key replaces the earlier one, as in PHP.
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
            if !self.eat(",") {
                self.skip_space();
                if !self.rest.starts_with(close) {
                    return Err(format!(
                        "expected `,` or `{close}`, found `{}`",
                        self.peek_word()
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV_PHP: &str = r#"<?php
return [
    'backend' => [
        'frontName' => 'admin_x1'
    ],
    'db' => [
        'table_prefix' => 'mg_',
        'connection' => [
            'default' => [
                'host' => 'localhost:3307',
                'dbname' => 'magento',
                'username' => 'magento',
                'password' => 'it\'s "secret"',
                'model' => 'mysql4',
                'engine' => 'innodb',
                'initStatements' => 'SET NAMES utf8;',
                'active' => '1',
                'driver_options' => [
                    1014 => false
                ]
            ]
        ]
    ],
    // a comment
    'MAGE_MODE' => 'production',
    'cache_types' => array('config' => 1, 'layout' => 1),
    'x-frame-options' => 'SAMEORIGIN',
    'install' => [ 'date' => 'Tue, 01 Oct 2024 10:00:00 +0000' ],
    'list' => ['a', 'b', 5 => 'c', 'd'],
    'none' => null,
    'neg' => -1,
];
"#;

    #[test]
    fn reads_magento_env_php() {
        let env = parse_return(ENV_PHP).unwrap();
        let db = env.at(&["db", "connection", "default"]).unwrap();
        assert_eq!(db.get("host").unwrap().as_str(), Some("localhost:3307"));
        assert_eq!(
            db.get("password").unwrap().as_str(),
            Some("it's \"secret\"")
        );
        assert_eq!(
            env.at(&["db", "table_prefix"]).unwrap().as_str(),
            Some("mg_")
        );
        assert_eq!(env.get("MAGE_MODE").unwrap().as_str(), Some("production"));
        assert_eq!(
            env.at(&["cache_types", "layout"]).unwrap().as_str(),
            Some("1")
        );
        let list = env.get("list").unwrap();
        assert_eq!(list.get("0").unwrap().as_str(), Some("a"));
        assert_eq!(list.get("5").unwrap().as_str(), Some("c"));
        assert_eq!(list.get("6").unwrap().as_str(), Some("d"));
        assert_eq!(env.get("none"), Some(&PhpValue::Null));
        assert_eq!(env.get("neg").unwrap().as_str(), Some("-1"));
    }

    #[test]
    fn refuses_what_is_not_a_literal() {
        assert!(parse_return("<?php return ['a' => FOO];")
            .unwrap_err()
            .contains("FOO"));
        assert!(parse_return("<?php return ['a' => 'x' . 'y'];")
            .unwrap_err()
            .contains("follows a value"));
        assert!(parse_return("<?php return ['a' => 'x'").is_err());
        assert!(parse_return("<?php $x = 1;").is_err());
    }
}
