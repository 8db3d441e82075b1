//! What the upsert modules' unit tests share: the check that a refusal is the expected
//! error and that its message says what was wrong.

use std::fmt::{Debug, Display};

/// `result` must be an error that `check` accepts and whose message contains every word.
pub fn assert_refused<T: Debug, E: Debug + Display>(
    name: &str,
    result: Result<T, E>,
    check: impl Fn(&E) -> bool,
    words: &[&str],
) {
    let err = match result {
        Ok(accepted) => panic!("{name}: accepted as {accepted:?}"),
        Err(e) => e,
    };
    assert!(check(&err), "{name}: wrong error {err:?}");
    let message = err.to_string();
    for word in words {
        assert!(
            message.contains(word),
            "{name}: {message:?} does not say {word:?}"
        );
    }
}
