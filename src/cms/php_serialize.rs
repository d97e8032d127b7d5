//! Reading PHP's `serialize()` format, for the options WordPress stores that way
//! (`active_plugins` is `a:1:{i:0;s:19:"akismet/akismet.php";}`).
//!
//! Only what option values need: arrays, strings, integers, booleans, null. String
//! lengths count bytes, as PHP writes them. Objects are refused rather than guessed.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// Key/value pairs in order; keys are ints or strings.
    Array(Vec<(Value, Value)>),
}

impl Value {
    /// The string values of an array, in order (what a list of slugs or files is).
    pub fn strings(&self) -> Vec<String> {
        match self {
            Value::Array(items) => items
                .iter()
                .filter_map(|(_, v)| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

pub fn unserialize(input: &str) -> Result<Value, String> {
    let bytes = input.as_bytes();
    let (value, used) = parse(bytes, 0)?;
    if used != bytes.len() {
        return Err(format!("serialized value has extra data at byte {used}"));
    }
    Ok(value)
}

fn parse(b: &[u8], at: usize) -> Result<(Value, usize), String> {
    let kind = *b.get(at).ok_or("serialized value ends early")?;
    match kind {
        b'N' => expect(b, at + 1, b";").map(|next| (Value::Null, next)),
        b'b' => {
            let (text, next) = until(b, expect(b, at + 1, b":")?, b';')?;
            Ok((Value::Bool(text == "1"), next))
        }
        b'i' => {
            let (text, next) = until(b, expect(b, at + 1, b":")?, b';')?;
            let n = text.parse().map_err(|_| format!("bad integer `{text}`"))?;
            Ok((Value::Int(n), next))
        }
        b's' => {
            let (len, next) = until(b, expect(b, at + 1, b":")?, b':')?;
            let len: usize = len
                .parse()
                .map_err(|_| format!("bad string length `{len}`"))?;
            let start = expect(b, next, b"\"")?;
            let end = start + len;
            let raw = b.get(start..end).ok_or("serialized string is cut short")?;
            let text = String::from_utf8_lossy(raw).into_owned();
            Ok((Value::Str(text), expect(b, end, b"\";")?))
        }
        b'a' => {
            let (count, next) = until(b, expect(b, at + 1, b":")?, b':')?;
            let count: usize = count
                .parse()
                .map_err(|_| format!("bad array size `{count}`"))?;
            let mut pos = expect(b, next, b"{")?;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                let (key, after_key) = parse(b, pos)?;
                let (value, after_value) = parse(b, after_key)?;
                items.push((key, value));
                pos = after_value;
            }
            Ok((Value::Array(items), expect(b, pos, b"}")?))
        }
        other => Err(format!("unsupported serialized type `{}`", other as char)),
    }
}

fn expect(b: &[u8], at: usize, what: &[u8]) -> Result<usize, String> {
    if b.get(at..at + what.len()) == Some(what) {
        Ok(at + what.len())
    } else {
        Err(format!(
            "expected `{}` at byte {at}",
            String::from_utf8_lossy(what)
        ))
    }
}

fn until(b: &[u8], at: usize, stop: u8) -> Result<(String, usize), String> {
    let len = b
        .get(at..)
        .and_then(|rest| rest.iter().position(|&c| c == stop))
        .ok_or("serialized value ends early")?;
    Ok((
        String::from_utf8_lossy(&b[at..at + len]).into_owned(),
        at + len + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_active_plugins_as_wordpress_stores_them() {
        let v =
            unserialize("a:2:{i:0;s:19:\"akismet/akismet.php\";i:1;s:9:\"hello.php\";}").unwrap();
        assert_eq!(v.strings(), ["akismet/akismet.php", "hello.php"]);
        assert_eq!(
            unserialize("a:0:{}").unwrap().strings(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn counts_bytes_not_characters() {
        let v = unserialize("a:1:{s:4:\"clé\";b:1;}").unwrap();
        assert_eq!(
            v,
            Value::Array(vec![(Value::Str("clé".into()), Value::Bool(true))])
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(unserialize("O:8:\"stdClass\":0:{}").is_err());
        assert!(unserialize("a:1:{i:0;s:50:\"short\";}").is_err());
        assert!(unserialize("s:1:\"a\";junk").is_err());
    }
}
