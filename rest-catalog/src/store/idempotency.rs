//! Idempotency keys (the REST spec's `Idempotency-Key` header): what a store keeps per
//! key, and the one rule every backend applies when a request arrives with one. The first
//! request claims the key (a record without an answer), runs, and keeps its final answer
//! under it; a retry with the same key, on any node of the store, gets that answer instead
//! of running again. Keys are pruned once the advertised lifetime has passed.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;

/// A claim without an answer this old is taken over: the request that made it died before
/// it kept its answer or released the key. Longer than any request runs (a commit waits
/// at most its lock timeout, 30 s by default, then writes one file and moves a pointer).
pub const CLAIM_ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

/// What a store keeps under a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// What the request was (method, path, query, body): a retry must be the same request.
    pub fingerprint: String,
    /// When the key was claimed, or its answer kept: epoch milliseconds.
    pub at_ms: i64,
    /// The final answer; `None` while the request that claimed the key runs.
    pub answer: Option<KeptAnswer>,
}

/// A final answer, as it is replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The headers that describe the body (`content-type`, `etag`), by lowercase name.
    pub headers: Vec<(String, String)>,
    /// The body (the catalog's answers are JSON text, or empty).
    pub body: String,
    /// For a table answer too large to keep (its metadata lists many snapshots): the
    /// metadata file it was built from, which the replay builds it from again; `body` is
    /// then empty. Metadata files never change, so the replay is the same answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_location: Option<String>,
}

/// What a request that arrives with a key meets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// The key is this request's now: it runs, then keeps its answer or releases the key.
    Claimed,
    /// Another request with this key is running.
    Running {
        /// That request's fingerprint.
        fingerprint: String,
    },
    /// A request with this key has finished.
    Finished {
        /// That request's fingerprint.
        fingerprint: String,
        /// Its answer.
        answer: KeptAnswer,
    },
}

/// The rule of arrival: what a request arriving at `now_ms` meets under its key, given
/// the record found there. `Claimed` tells the backend to write a claim, provided the
/// record is still the one it read (a compare-and-swap), or else to read again.
pub fn on_arrival(found: Option<&KeyRecord>, now_ms: i64) -> KeyState {
    let Some(record) = found else {
        return KeyState::Claimed;
    };
    match &record.answer {
        Some(answer) => KeyState::Finished {
            fingerprint: record.fingerprint.clone(),
            answer: answer.clone(),
        },
        None if now_ms - record.at_ms > CLAIM_ABANDONED_AFTER_MS => KeyState::Claimed,
        None => KeyState::Running {
            fingerprint: record.fingerprint.clone(),
        },
    }
}

/// The claim a request writes when it takes a key.
pub fn claim(fingerprint: &str, now_ms: i64) -> KeyRecord {
    KeyRecord {
        fingerprint: fingerprint.to_string(),
        at_ms: now_ms,
        answer: None,
    }
}

/// What the catalog needs from a backend to keep idempotency keys. Every backend of
/// [`super::CatalogStore`] is one, so a retry that reaches another node over the same
/// store gets the first answer.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint` arriving at `now_ms` (see
    /// [`on_arrival`]), or answers what holds it.
    async fn claim_key(
        &self,
        key: Uuid,
        fingerprint: &str,
        now_ms: i64,
    ) -> Result<KeyState, StoreError>;
    /// Keeps the final answer of the request that claimed `key`.
    async fn keep_answer(&self, key: Uuid, record: &KeyRecord) -> Result<(), StoreError>;
    /// Frees `key` after an answer that is not final (a 5xx): a retry runs again.
    async fn release_key(&self, key: Uuid) -> Result<(), StoreError>;
    /// Removes every key claimed or answered before `before_ms`; answers how many.
    async fn prune_keys(&self, before_ms: i64) -> Result<usize, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_claims_a_free_or_abandoned_key_and_meets_any_other() {
        let answer = KeptAnswer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: "{}".into(),
            metadata_location: None,
        };
        let running = claim("f", 1_000);
        let finished = KeyRecord {
            answer: Some(answer.clone()),
            ..claim("f", 1_000)
        };
        let abandoned = 1_000 + CLAIM_ABANDONED_AFTER_MS;
        // (record found, arrival time, what the request meets)
        let cases = [
            (None, 5_000, KeyState::Claimed),
            (
                Some(&running),
                2_000,
                KeyState::Running {
                    fingerprint: "f".into(),
                },
            ),
            (
                Some(&running),
                abandoned,
                KeyState::Running {
                    fingerprint: "f".into(),
                },
            ),
            (Some(&running), abandoned + 1, KeyState::Claimed),
            (
                Some(&finished),
                abandoned + 1,
                KeyState::Finished {
                    fingerprint: "f".into(),
                    answer,
                },
            ),
        ];
        for (found, now, want) in cases {
            assert_eq!(on_arrival(found, now), want, "{found:?} at {now}");
        }
    }
}
