//! `${VAR}` in inventory strings: secrets (an SMTP password, a webhook token) stay out of the
//! file and come from the environment tend runs in.
//!
//! Expansion happens while the YAML is deserialized, on each string *value* the parser hands
//! over — never on the raw text — so a variable's value cannot inject YAML, and an unset
//! variable fails at the position of the scalar that names it (the YAML deserializer stamps
//! the node's position on an error raised by its visitor). Mapping keys (site and group
//! names, setting names) and enum values (`cms:`) are left as written. `$${` stands for a
//! literal `${`.
//!
//! Every value taken from the environment is registered with [`crate::secrets`]: the reason
//! to keep a value out of the inventory is nearly always that it is a secret.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Where variables are read from (the process environment, or a map in tests).
pub type ReadVar<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why a `${…}` could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("`${{` without a closing `}}` in `{text}`")]
    Unterminated { text: String },
    #[error("`${{{name}}}` is not an environment variable reference: names are letters, digits and `_`, not starting with a digit")]
    BadName { name: String },
    #[error("environment variable {name} is not set")]
    Unset { name: String },
}

impl ExpandError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ExpandError::Unset { .. } => "export it in the environment tend runs in (cron and systemd start with almost none), or write `$${` for a literal `${`",
            ExpandError::Unterminated { .. } | ExpandError::BadName { .. } => {
                "write `${NAME}` to take NAME from the environment, `$${` for a literal `${`"
            }
        }
    }
}

/// The variables a document is expanded from, and the first expansion that failed: serde
/// carries an error only as text, so the typed error is kept here for the caller.
pub struct Env<'a> {
    read: ReadVar<'a>,
    failure: RefCell<Option<ExpandError>>,
}

impl<'a> Env<'a> {
    pub fn new(read: ReadVar<'a>) -> Env<'a> {
        Env {
            read,
            failure: RefCell::new(None),
        }
    }

    /// The expansion that failed, if one did.
    pub fn failure(&self) -> Option<ExpandError> {
        self.failure.borrow().clone()
    }

    fn expand(&self, text: &str) -> Result<String, ExpandError> {
        expand(text, self.read).inspect_err(|e| {
            self.failure.borrow_mut().get_or_insert_with(|| e.clone());
        })
    }
}

/// What the deserializers below carry.
type Lookup<'a> = &'a Env<'a>;

/// `text` with every `${NAME}` replaced by the variable's value and `$${` by `${`.
pub fn expand(text: &str, lookup: ReadVar<'_>) -> Result<String, ExpandError> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(ExpandError::Unterminated {
                    text: text.to_owned(),
                });
            };
            let name = &tail[..end];
            if !valid_name(name) {
                return Err(ExpandError::BadName {
                    name: name.to_owned(),
                });
            }
            match lookup(name) {
                Some(value) => {
                    crate::secrets::register(&value);
                    out.push_str(&value);
                }
                None => {
                    return Err(ExpandError::Unset {
                        name: name.to_owned(),
                    })
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The process environment; a variable holding invalid UTF-8 counts as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A deserializer that expands `${VAR}` in every string value `inner` produces.
pub struct Expand<'l, D> {
    pub inner: D,
    pub lookup: Lookup<'l>,
}

impl<'l, D> Expand<'l, D> {
    pub fn new(inner: D, lookup: Lookup<'l>) -> Self {
        Expand { inner, lookup }
    }
}

struct ExpandVisitor<'l, V> {
    inner: V,
    lookup: Lookup<'l>,
}

struct ExpandSeed<'l, S> {
    inner: S,
    lookup: Lookup<'l>,
}

struct ExpandAccess<'l, A> {
    inner: A,
    lookup: Lookup<'l>,
}

macro_rules! forward {
    ($($method:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method(ExpandVisitor { inner: visitor, lookup: self.lookup })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Expand<'_, D> {
    type Error = D::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = ExpandVisitor {
            inner: visitor,
            lookup: self.lookup,
        };
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = ExpandVisitor {
            inner: visitor,
            lookup: self.lookup,
        };
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = ExpandVisitor {
            inner: visitor,
            lookup: self.lookup,
        };
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = ExpandVisitor {
            inner: visitor,
            lookup: self.lookup,
        };
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = ExpandVisitor {
            inner: visitor,
            lookup: self.lookup,
        };
        self.inner.deserialize_struct(name, fields, visitor)
    }

    /// Enum values are names from a fixed list: left as written.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! pass {
    ($($method:ident: $ty:ty),*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ExpandVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    pass!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>
    );

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        if v.contains("${") {
            let expanded = self.lookup.expand(v).map_err(E::custom)?;
            return self.inner.visit_string(expanded);
        }
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if v.contains("${") {
            let expanded = self.lookup.expand(v).map_err(E::custom)?;
            return self.inner.visit_string(expanded);
        }
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if v.contains("${") {
            let expanded = self.lookup.expand(&v).map_err(E::custom)?;
            return self.inner.visit_string(expanded);
        }
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner.visit_some(Expand::new(d, self.lookup))
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        self.inner.visit_newtype_struct(Expand::new(d, self.lookup))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(ExpandAccess {
            inner: seq,
            lookup: self.lookup,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(ExpandAccess {
            inner: map,
            lookup: self.lookup,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ExpandSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner
            .deserialize(Expand::new(deserializer, self.lookup))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ExpandAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(ExpandSeed {
            inner: seed,
            lookup: self.lookup,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ExpandAccess<'_, A> {
    type Error = A::Error;

    /// Keys are names, left as written.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(ExpandSeed {
            inner: seed,
            lookup: self.lookup,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("T0KEN-abc".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_keeps_the_rest() {
        assert_eq!(expand("a/${TOKEN}/b", &env).unwrap(), "a/T0KEN-abc/b");
        assert_eq!(
            expand("${TOKEN}${TOKEN}", &env).unwrap(),
            "T0KEN-abcT0KEN-abc"
        );
        assert_eq!(expand("x${EMPTY}y", &env).unwrap(), "xy");
        assert_eq!(expand("price $5, $HOME", &env).unwrap(), "price $5, $HOME");
        assert_eq!(expand("no vars", &env).unwrap(), "no vars");
    }

    #[test]
    fn double_dollar_is_a_literal() {
        assert_eq!(
            expand("$${TOKEN} ${TOKEN}", &env).unwrap(),
            "${TOKEN} T0KEN-abc"
        );
    }

    #[test]
    fn unset_and_malformed_references_are_errors_naming_them() {
        let unset = expand("x ${SMTP_PASSWORD}", &env).unwrap_err();
        assert_eq!(
            unset.to_string(),
            "environment variable SMTP_PASSWORD is not set"
        );
        assert!(unset.hint().starts_with("export it"));
        assert!(matches!(
            expand("${NOPE", &env).unwrap_err(),
            ExpandError::Unterminated { .. }
        ));
        assert_eq!(
            expand("${1X}", &env).unwrap_err(),
            ExpandError::BadName { name: "1X".into() }
        );
    }

    #[test]
    fn values_from_the_environment_are_masked() {
        expand("${TOKEN}", &env).unwrap();
        assert_eq!(crate::secrets::mask("url/T0KEN-abc"), "url/********");
    }
}
