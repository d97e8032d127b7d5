//! Just enough of PHP's syntax to read configuration files without running them.
//!
//! `wp-config.php`, Joomla's `configuration.php` and version files are PHP, but running them
//! would boot the CMS. They assign literals (`define('DB_NAME', 'x');`, `public $host =
//! 'x';`, `const MAJOR_VERSION = 5;`), so tend strips comments and reads those literals,
//! honouring PHP's quoting rules. Anything that is not a literal is reported, not guessed.

/// `source` with `//`, `#` and `/* */` comments removed (strings are left intact).
pub fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut out),
            '#' if chars.peek() != Some(&'[') => skip_line(&mut chars, &mut out),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                    }
                    if previous == '*' && d == '/' {
                        break;
                    }
                    previous = d;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    for d in chars.by_ref() {
        if d == '\n' {
            out.push('\n');
            break;
        }
    }
}

/// A PHP literal at the start of `text` (after whitespace): a quoted string, a number,
/// `true`/`false`/`null`. Returns its value as text and the rest after it.
pub fn literal(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    match first {
        '\'' => {
            let mut value = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    if c != '\'' && c != '\\' {
                        value.push('\\');
                    }
                    value.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\'' {
                    return Some((value, &text[i + 1..]));
                } else {
                    value.push(c);
                }
            }
            None
        }
        '"' => {
            let mut value = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    match c {
                        'n' => value.push('\n'),
                        't' => value.push('\t'),
                        'r' => value.push('\r'),
                        '"' | '\\' | '$' => value.push(c),
                        other => {
                            value.push('\\');
                            value.push(other);
                        }
                    }
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    return Some((value, &text[i + 1..]));
                } else if c == '$' {
                    // Interpolation: not a literal we can know without running PHP.
                    return None;
                } else {
                    value.push(c);
                }
            }
            None
        }
        _ => {
            let end = text
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
                .unwrap_or(text.len());
            if end == 0 {
                return None;
            }
            let word = &text[..end];
            let is_literal = word.parse::<f64>().is_ok()
                || matches!(
                    word.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null"
                );
            is_literal.then(|| (word.to_owned(), &text[end..]))
        }
    }
}

/// The value of `define('NAME', <literal>)` in comment-stripped `source`.
/// `Err` when NAME is defined with something other than a literal.
pub fn define(source: &str, name: &str) -> Result<Option<String>, String> {
    let mut rest = source;
    while let Some(i) = find_word(rest, "define") {
        let after = rest[i + "define".len()..].trim_start();
        rest = &rest[i + "define".len()..];
        let Some(args) = after.strip_prefix('(') else {
            continue;
        };
        let Some((constant, after_name)) = literal(args) else {
            continue;
        };
        if constant != name {
            continue;
        }
        let Some(value_text) = after_name.trim_start().strip_prefix(',') else {
            continue;
        };
        return match literal(value_text) {
            Some((value, tail))
                if tail.trim_start().starts_with(')') || tail.trim_start().starts_with(',') =>
            {
                Ok(Some(value))
            }
            _ => Err(format!(
                "{name} is not set to a plain value (an expression or a variable)"
            )),
        };
    }
    Ok(None)
}

/// The literal assigned by `<keyword> $name = <literal>;` or `$name = <literal>;`
/// (`keyword` e.g. `public`, `const`; for `const` pass the name without `$`).
pub fn assignment(source: &str, name: &str) -> Result<Option<String>, String> {
    let mut rest = source;
    while let Some(i) = find_word(rest, name) {
        let before = &rest[..i];
        let after = rest[i + name.len()..].trim_start();
        rest = &rest[i + name.len()..];
        if name.starts_with('$') && before.ends_with('$') {
            continue;
        }
        let Some(value_text) = after.strip_prefix('=') else {
            continue;
        };
        if value_text.starts_with('=') || value_text.starts_with('>') {
            continue;
        }
        return match literal(value_text) {
            Some((value, tail)) if tail.trim_start().starts_with(';') => Ok(Some(value)),
            _ => Err(format!(
                "{name} is not set to a plain value (an expression or a variable)"
            )),
        };
    }
    Ok(None)
}

/// Position of `word` in `text` where it stands alone (not part of a longer name).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name(c));
        let after_ok = text[end..].chars().next().is_none_or(|c| !is_name(c));
        if before_ok && after_ok {
            return Some(start);
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_comments_but_not_strings() {
        let src = "a // c1\nb # c2\n/* c3\n */ c 'x // y' \"#z\" #[Attr]";
        assert_eq!(strip_comments(src), "a \nb \n\n c 'x // y' \"#z\" #[Attr]");
    }

    #[test]
    fn reads_literals_with_php_quoting() {
        assert_eq!(
            literal(" 'it\\'s \\n' rest").unwrap(),
            ("it's \\n".to_owned(), " rest")
        );
        assert_eq!(literal("\"a\\\"b\\n\"").unwrap().0, "a\"b\n");
        assert_eq!(literal("53496;").unwrap(), ("53496".to_owned(), ";"));
        assert!(literal("getenv('X')").is_none());
        assert!(literal("\"$x\"").is_none());
    }

    #[test]
    fn finds_defines_and_assignments() {
        let src = strip_comments(
            "// define('DB_NAME', 'old');\ndefine( 'DB_NAME', 'wp' );\ndefine(\"DB_HOST\",\"localhost:3307\");\ndefine('DB_PASSWORD', getenv('PW'));\n$table_prefix = 'wp_';\n$wp_version = '6.1.9';",
        );
        assert_eq!(define(&src, "DB_NAME").unwrap().as_deref(), Some("wp"));
        assert_eq!(
            define(&src, "DB_HOST").unwrap().as_deref(),
            Some("localhost:3307")
        );
        assert!(define(&src, "DB_PASSWORD").is_err());
        assert_eq!(define(&src, "DB_USER").unwrap(), None);
        assert_eq!(
            assignment(&src, "$table_prefix").unwrap().as_deref(),
            Some("wp_")
        );
        assert_eq!(
            assignment(&src, "$wp_version").unwrap().as_deref(),
            Some("6.1.9")
        );
    }
}
