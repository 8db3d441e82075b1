//! The errors of the lock managers: a lock wait that timed out, or a lock service that is
//! unavailable, with the ZooKeeper error behind it when there is one.

use std::fmt;
use std::time::Duration;

/// Why a lock could not be taken or kept.
// `Display` and `source` are written out rather than derived: the text of `Unavailable`
// names its ZooKeeper cause, and that cause is the error's source directly, so an error
// chain names it only once more.
#[derive(Debug)]
pub enum LockError {
    /// Another holder kept the lock for longer than the caller was willing to wait.
    Timeout {
        /// The key whose lock was asked for.
        key: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The lock service could not be reached or failed; whether the lock is held is unknown.
    Unavailable(Unavailable),
}

impl LockError {
    /// [`LockError::Unavailable`] for a reason of its own, no ZooKeeper error behind it.
    pub(crate) fn unavailable(what: impl Into<String>) -> Self {
        LockError::Unavailable(Unavailable::new(what))
    }
}

impl From<Unavailable> for LockError {
    fn from(why: Unavailable) -> Self {
        LockError::Unavailable(why)
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Timeout { key, waited } => {
                write!(
                    f,
                    "timed out after {waited:?} waiting for the lock on {key}"
                )
            }
            LockError::Unavailable(why) => write!(f, "lock service unavailable: {why}"),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Timeout { .. } => None,
            LockError::Unavailable(why) => why.source(),
        }
    }
}

/// What made the lock service unavailable: what was being done, and the ZooKeeper error
/// that stopped it, when there was one (then also the error's
/// [`source`](std::error::Error::source)). It displays as `what: error`, or `what`.
#[derive(Debug, Clone)]
pub struct Unavailable {
    what: String,
    cause: Option<zookeeper_client::Error>,
}

impl Unavailable {
    /// Unavailable for a reason of its own, no ZooKeeper error behind it.
    pub fn new(what: impl Into<String>) -> Self {
        Unavailable {
            what: what.into(),
            cause: None,
        }
    }

    /// `cause` stopped `what` (say, `"ZooKeeper: listing /floe/locks/t"`).
    pub fn caused_by(what: impl Into<String>, cause: zookeeper_client::Error) -> Self {
        Unavailable {
            what: what.into(),
            cause: Some(cause),
        }
    }

    /// What was being done, or why the service is unavailable, without the cause.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The ZooKeeper error that stopped it, if any.
    pub fn zookeeper_error(&self) -> Option<&zookeeper_client::Error> {
        self.cause.as_ref()
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Unavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use zookeeper_client::Error as ZkError;

    use super::*;

    #[test]
    fn unavailable_says_what_and_why_and_keeps_the_cause_as_its_source() {
        let what = "ZooKeeper: listing /floe/locks/t";
        let e = LockError::Unavailable(Unavailable::caused_by(what, ZkError::ConnectionLoss));
        assert_eq!(
            e.to_string(),
            "lock service unavailable: ZooKeeper: listing /floe/locks/t: \
             connection to server has lost"
        );
        let source = e.source().expect("the ZooKeeper error");
        assert_eq!(source.downcast_ref(), Some(&ZkError::ConnectionLoss));
        assert!(source.source().is_none());

        let closed = LockError::unavailable("ZooKeeper session is closed for good");
        let text = "lock service unavailable: ZooKeeper session is closed for good";
        assert_eq!(closed.to_string(), text);
        assert!(closed.source().is_none());
        let waited = Duration::from_millis(400);
        let timeout = LockError::Timeout {
            key: "t".into(),
            waited,
        };
        let text = "timed out after 400ms waiting for the lock on t";
        assert_eq!(timeout.to_string(), text);
    }
}
