//! Errors on one line.

/// An error with its sources, on one line: `outer: cause: root cause`. The SDK's errors
/// display as little as "service error"; their sources say what happened.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn every_source_on_one_line() {
        let e = Layer(
            "service error",
            Some(Box::new(Layer(
                "dispatch failure",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            chain(&e),
            "service error: dispatch failure: connection refused"
        );
        assert_eq!(chain(&Layer("alone", None)), "alone");
    }
}
