//! Reading YAML files into typed models while keeping positions for every error.
//!
//! `serde_yaml` reports the position of syntax errors, unknown keys and wrong types on its own.
//! Errors we find later — an undefined group, a duplicate site, a missing `host` after
//! `defaults` were merged — refer to a *path* in the document (`sites.blog.groups[1]`).
//! [`locate`] turns such a path back into a line and column by walking the document again
//! with serde and stopping at the node: the deserializer stamps its own position on the
//! error we raise there. No second YAML parser is needed, and positions agree with the
//! ones serde_yaml gives for its own errors.
//!
//! Before any parsing, [`check_nesting`] scans the text once for collections nested more
//! than [`MAX_NESTING`] levels deep (flow brackets, or `- - - …` block markers on one line):
//! a document nested 200,000 levels deep used to cost the parser minutes of CPU before it
//! was refused. No tend file comes near the limit.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use crate::diagnostic::{did_you_mean, InputError, Position};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// The value under a mapping key (the first occurrence).
    Key(String),
    /// A sequence element.
    Index(usize),
}

impl Segment {
    pub fn key(name: &str) -> Segment {
        Segment::Key(name.to_owned())
    }
}

/// Which node the error should point at: a mapping key itself, or the value of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The key named by the last segment (its `occurrence`-th appearance, 1-based).
    Key { occurrence: usize },
    /// The value the whole path leads to.
    Value,
}

/// How deeply collections may nest in a tend file (an inventory needs about six levels).
pub const MAX_NESTING: usize = 64;

/// Where the text first nests more than [`MAX_NESTING`] levels, found in one pass without
/// parsing: flow collections (`[`, `{`) are counted outside quoted scalars and comments,
/// and compact block collections (`- - -`, `? ? `) at the start of a line are counted with
/// them. Brackets inside plain scalars count too; that can only over-count, and no real
/// file holds 64 of them unclosed.
pub fn check_nesting(text: &str) -> Result<(), Position> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut flow = 0usize;
    let mut quote = Quote::None;
    for (index, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let at = |column: usize| Position {
            line: index + 1,
            column: column + 1,
        };
        let mut i = 0;
        if quote == Quote::None && flow == 0 {
            let mut markers = 0;
            while i < chars.len() {
                match chars[i] {
                    ' ' | '\t' => i += 1,
                    '-' | '?' if matches!(chars.get(i + 1), None | Some(' ' | '\t')) => {
                        markers += 1;
                        if markers > MAX_NESTING {
                            return Err(at(i));
                        }
                        i += 1;
                    }
                    _ => break,
                }
            }
        }
        // The last character that could precede the start of a quoted scalar.
        let mut before = ' ';
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Quote::Double => match c {
                    '\\' => i += 1,
                    '"' => quote = Quote::None,
                    _ => {}
                },
                Quote::Single => {
                    if c == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 1;
                        } else {
                            quote = Quote::None;
                        }
                    }
                }
                Quote::None => match c {
                    '#' if before == ' ' || before == '\t' => break,
                    '"' | '\''
                        if matches!(before, ' ' | '\t' | ':' | '-' | '?' | '[' | '{' | ',') =>
                    {
                        quote = if c == '"' {
                            Quote::Double
                        } else {
                            Quote::Single
                        };
                    }
                    '[' | '{' => {
                        flow += 1;
                        if flow > MAX_NESTING {
                            return Err(at(i));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if quote == Quote::None {
                before = c;
            }
            i += 1;
        }
    }
    Ok(())
}

/// A YAML file read into memory, for parsing and for pointing into.
#[derive(Debug, Clone)]
pub struct YamlSource {
    pub path: PathBuf,
    pub text: String,
}

impl YamlSource {
    pub fn read(path: &Path, what: &str) -> Result<YamlSource, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(format!("cannot read {what} {}: {e}", path.display())))?;
        Ok(YamlSource {
            path: path.to_path_buf(),
            text,
        })
    }

    pub fn from_text(path: &Path, text: &str) -> YamlSource {
        YamlSource {
            path: path.to_path_buf(),
            text: text.to_owned(),
        }
    }

    /// Deserializes the whole document, turning serde_yaml's errors into positioned ones.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        self.check_nesting()?;
        serde_yaml::from_str(&self.text).map_err(|e| self.serde_error(&e))
    }

    /// Like [`YamlSource::parse`], with `${VAR}` in string values replaced from `lookup`
    /// (see [`crate::env_vars`]); an unset variable is an error at its scalar, with the
    /// hint for its kind.
    pub fn parse_expanding<T: DeserializeOwned>(
        &self,
        read: crate::env_vars::ReadVar<'_>,
    ) -> Result<T, InputError> {
        self.check_nesting()?;
        let env = crate::env_vars::Env::new(read);
        let deserializer = serde_yaml::Deserializer::from_str(&self.text);
        T::deserialize(crate::env_vars::Expand::new(deserializer, &env)).map_err(|e| {
            let error = self.serde_error(&e);
            match env.failure() {
                Some(failure) => error.with_hint(failure.hint()),
                None => error,
            }
        })
    }

    fn check_nesting(&self) -> Result<(), InputError> {
        check_nesting(&self.text).map_err(|position| {
            InputError::in_file(
                format!("the document nests more than {MAX_NESTING} levels deep"),
                &self.path,
                &self.text,
                Some(position),
            )
            .with_hint("tend files need a few levels; is this the right file?")
        })
    }

    /// An error positioned at `path`/`target` (or with no position if the path isn't there).
    pub fn error_at(
        &self,
        message: impl Into<String>,
        path: &[Segment],
        target: Target,
    ) -> InputError {
        let position = locate(&self.text, path, target);
        InputError::in_file(message, &self.path, &self.text, position)
    }

    fn serde_error(&self, error: &serde_yaml::Error) -> InputError {
        let position = error.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        let full = strip_positions(&error.to_string());
        let hint = unknown_key_hint(&full).or_else(|| {
            full.contains("while parsing a block")
                .then(|| "check the indentation of this line and of the line above it".to_owned())
        });
        let message = humanize(&full);
        InputError::in_file(message, &self.path, &self.text, position).with_optional_hint(hint)
    }
}

/// serde_yaml appends " at line L column C" (sometimes twice, for libyaml errors); we show
/// positions ourselves.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        let after = &after[digits..];
        if digits > 0 && after.starts_with(" column ") {
            let after = &after[" column ".len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            rest = &after[digits..];
        } else {
            out.push_str(" at line ");
            rest = &rest[i + " at line ".len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Speaks of keys, not fields and variants, which is what a YAML author writes.
fn humanize(message: &str) -> String {
    message
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("unknown variant", "unknown value")
        .replace(
            "expected one of `backup`",
            "expected a step: one of `backup`",
        )
}

/// For "unknown field `x`, expected one of `a`, `b`": the closest expected name.
fn unknown_key_hint(message: &str) -> Option<String> {
    let (before, expected) = message
        .split_once("unknown field `")
        .or_else(|| message.split_once("unknown variant `"))?;
    let _ = before;
    let (word, rest) = expected.split_once('`')?;
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let guess = did_you_mean(word, names.iter().copied())?;
    Some(format!("did you mean `{guess}`?"))
}

const FOUND: &str = "\u{1}tend-locate-found";

/// The position of the node at `path` in `text`, or `None` if there is no such node.
pub fn locate(text: &str, path: &[Segment], target: Target) -> Option<Position> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let seek = Seek { path, target };
    match seek.deserialize(deserializer) {
        Err(e) if e.to_string().contains(FOUND) => e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        }),
        _ => None,
    }
}

struct Seek<'p> {
    path: &'p [Segment],
    target: Target,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            // We are at the node: fail here so the deserializer stamps this node's position.
            return deserializer.deserialize_any(Found);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(wanted), rest)) = self.path.split_first() else {
            return Ok(());
        };
        let key_is_target = rest.is_empty() && matches!(self.target, Target::Key { .. });
        let occurrence = match self.target {
            Target::Key { occurrence } if rest.is_empty() => occurrence.max(1),
            _ => 1,
        };
        let mut seen = 0;
        loop {
            let key = KeySeed {
                wanted,
                stop_here: key_is_target && seen + 1 == occurrence,
            };
            let Some(matched) = map.next_key_seed(key)? else {
                return Ok(());
            };
            if matched {
                seen += 1;
                if !key_is_target && seen == occurrence {
                    return map.next_value_seed(Seek {
                        path: rest,
                        target: self.target,
                    });
                }
            }
            map.next_value::<IgnoredAny>()?;
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(wanted), rest)) = self.path.split_first() else {
            return Ok(());
        };
        let mut index = 0;
        loop {
            if index == *wanted {
                seq.next_element_seed(Seek {
                    path: rest,
                    target: self.target,
                })?;
                return Ok(());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads a mapping key; answers whether it is the wanted one, or fails on it to be located.
struct KeySeed<'w> {
    wanted: &'w str,
    stop_here: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let matched = key == self.wanted;
        if matched && self.stop_here {
            return Err(E::custom(FOUND));
        }
        Ok(matched)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Fails on whatever node it is given, so that the node's own position is reported.
struct Found;

impl<'de> Visitor<'de> for Found {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
sites:
  blog:
    host: a
    groups: [acme, nope]
  shop: { host: b, groups: [x] }
  blog:
    host: c
";

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = "[".repeat(200_000);
        assert_eq!(
            check_nesting(&format!("sites: {deep}")),
            Err(Position {
                line: 1,
                column: 8 + MAX_NESTING
            })
        );
        let source = YamlSource::from_text(Path::new("inv.yml"), &format!("sites: {deep}"));
        let err = source.parse::<serde_yaml::Value>().unwrap_err();
        assert!(err.message.contains("nests more than 64 levels"), "{err}");
        assert!(err.to_string().len() < 1000, "the line is cut: {err}");
        // Compact block sequences on one line, and mappings in flow style.
        let dashes = "- ".repeat(100);
        assert!(check_nesting(&format!("x:\n  {dashes}a\n")).is_err());
        assert!(check_nesting(&"{a: ".repeat(100)).is_err());
        // Brackets in quotes and comments, and an apostrophe in a plain scalar, are not
        // nesting; balanced flow collections are fine however many there are.
        let quoted = format!(
            "a: '{deep}'\nb: \"{deep}\"\nc: x # {deep}\nd: it's [[1]]\ne: 'it''s {deep}'\n{}",
            "f: [[1], {a: [2]}]\n".repeat(1000)
        );
        assert_eq!(check_nesting(&quoted), Ok(()));
        assert!(check_nesting(&format!("d: it's {deep}")).is_err());
        assert_eq!(check_nesting(DOC), Ok(()));
    }

    #[test]
    fn locates_keys_values_and_sequence_elements() {
        let k = Segment::key;
        assert_eq!(
            locate(DOC, &[k("sites"), k("blog")], Target::Key { occurrence: 1 }),
            at(2, 3)
        );
        assert_eq!(
            locate(DOC, &[k("sites"), k("blog")], Target::Key { occurrence: 2 }),
            at(6, 3)
        );
        assert_eq!(
            locate(
                DOC,
                &[k("sites"), k("blog"), k("groups"), Segment::Index(1)],
                Target::Value
            ),
            at(4, 20)
        );
        assert_eq!(
            locate(DOC, &[k("sites"), k("shop"), k("host")], Target::Value),
            at(5, 17)
        );
        assert_eq!(
            locate(DOC, &[k("sites"), k("nothing")], Target::Value),
            None
        );
    }

    #[test]
    fn strips_serde_positions() {
        assert_eq!(
            strip_positions("sites.blog: unknown field `hots` at line 3 column 5"),
            "sites.blog: unknown field `hots`"
        );
        assert_eq!(
            strip_positions("did not find expected key at line 3 column 1, while parsing a block mapping at line 1 column 1"),
            "did not find expected key, while parsing a block mapping"
        );
    }

    #[test]
    fn hints_the_closest_expected_key() {
        assert_eq!(
            unknown_key_hint("sites.blog: unknown field `hots`, expected one of `host`, `path`"),
            Some("did you mean `host`?".to_owned())
        );
    }
}
