//! An error and its causes as people read them, one line, `: `-separated.

/// `error` and its causes, `: `-separated: a cause whose text an error already shows
/// (`"writing files: <cause>"`) is not repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing files: {0}")]
    struct Files(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("{context}")]
    struct Context {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    }

    #[test]
    fn causes_already_shown_are_not_repeated() {
        let io = || std::io::Error::other("disk full");
        let cases: [(Box<dyn std::error::Error>, &str); 3] = [
            (Box::new(Files(io())), "writing files: disk full"),
            (
                Box::new(Context {
                    context: "checkpoint 3",
                    source: Box::new(Files(io())),
                }),
                "checkpoint 3: writing files: disk full",
            ),
            (
                Box::new(Context {
                    context: "reading x",
                    source: Box::new(io()),
                }),
                "reading x: disk full",
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(error_chain(e.as_ref()), expected);
        }
    }
}
