//! An error with its causes on one line (`outer: inner: innermost`).
//!
//! reqwest, lettre and openssh put the useful part ("connection refused", "certificate has
//! expired") in a cause, not in the error's own message; everything tend shows of such an
//! error goes through here so the cause is never lost, and never repeated when the outer
//! message already quotes it.

/// `error` followed by each cause that its text does not already contain.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn causes_follow_once_each_on_one_line() {
        let error = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            super::describe(&error),
            "error sending request: client error (Connect): connection refused"
        );
        let quoted = Layer("tls: bad cert", Some(Box::new(Layer("bad cert", None))));
        assert_eq!(super::describe(&quoted), "tls: bad cert");
        let multiline = Layer("line one\nline two", None);
        assert_eq!(super::describe(&multiline), "line one line two");
    }
}
