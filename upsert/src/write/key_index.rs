//! The per-checkpoint key index: for every key seen in the current checkpoint, where its
//! live row of this checkpoint is (if any). From it the writer decides how an upsert or a
//! delete hides the key's older rows:
//!
//! - a key first seen in this checkpoint gets one equality delete, which hides the rows of
//!   earlier checkpoints (data sequence number < this commit's) and none of this one;
//! - a key whose row was written earlier in this checkpoint gets a position delete against
//!   that row (an equality delete could not hide it: same sequence number);
//! - a key seen before in this checkpoint but without a live row (deleted again) needs
//!   nothing more.
//!
//! Bound: the index holds one entry per distinct key of the checkpoint (the encoded key
//! plus [`ENTRY_OVERHEAD`] bytes) and is emptied when the checkpoint goes to commit. Past
//! `limit_bytes` it refuses to grow, and the checkpoint fails with a clear error rather
//! than exhausting memory: checkpoint more often, or raise the limit.

use std::collections::HashMap;

/// Where a row was written: the index of its data file in the writer's list and the
/// row's position in that file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPosition {
    pub file: u32,
    pub pos: u64,
}

/// What hides the older rows of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hide {
    /// Write the key into this checkpoint's equality-delete file.
    EqualityDelete,
    /// Write a position delete against a row of this checkpoint.
    PositionDelete(RowPosition),
    /// Older rows are already hidden.
    Nothing,
}

/// Bytes an entry costs besides its key: the map slot, the boxed key's pointer and
/// length, the position and the allocator's rounding, measured roughly.
pub const ENTRY_OVERHEAD: usize = 48;

/// A checkpoint holds more distinct keys than the key index may keep.
#[derive(Debug, thiserror::Error)]
#[error(
    "the checkpoint holds {keys} distinct keys, more than the key index's limit of {limit_mib} MiB \
     allows: checkpoint more often or raise the limit"
)]
pub struct KeyIndexFull {
    /// Keys the checkpoint holds.
    pub keys: usize,
    /// The limit.
    pub limit_mib: usize,
}

/// The key index of one partition (rows of one key always share a partition).
#[derive(Debug)]
pub struct KeyIndex {
    live: HashMap<Box<[u8]>, Option<RowPosition>, ahash::RandomState>,
    bytes: usize,
    limit_bytes: usize,
}

impl KeyIndex {
    pub fn new(limit_bytes: usize) -> Self {
        Self {
            live: HashMap::default(),
            bytes: 0,
            limit_bytes,
        }
    }

    /// Approximate memory held, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets every key: the checkpoint is committed.
    pub fn clear(&mut self) {
        self.live = HashMap::default();
        self.bytes = 0;
    }

    fn set(&mut self, key: &[u8], row: Option<RowPosition>) -> Result<Hide, KeyIndexFull> {
        if let Some(slot) = self.live.get_mut(key) {
            let hide = match slot.take() {
                Some(old) => Hide::PositionDelete(old),
                None => Hide::Nothing,
            };
            *slot = row;
            return Ok(hide);
        }
        let cost = key.len() + ENTRY_OVERHEAD;
        if self.bytes + cost > self.limit_bytes {
            return Err(KeyIndexFull {
                keys: self.live.len() + 1,
                limit_mib: self.limit_bytes >> 20,
            });
        }
        self.bytes += cost;
        self.live.insert(key.into(), row);
        Ok(Hide::EqualityDelete)
    }

    /// An upsert (`+I`, `+U`) of `key` whose new row is at `row`.
    pub fn upsert(&mut self, key: &[u8], row: RowPosition) -> Result<Hide, KeyIndexFull> {
        self.set(key, Some(row))
    }

    /// A delete (`-D`) of `key`.
    pub fn delete(&mut self, key: &[u8]) -> Result<Hide, KeyIndexFull> {
        self.set(key, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: u32, pos: u64) -> RowPosition {
        RowPosition { file, pos }
    }

    enum Op {
        Up(&'static str, u32, u64),
        Del(&'static str),
    }

    #[test]
    fn decisions_follow_the_sequence_number_rules() {
        use Hide::*;
        use Op::*;
        let cases: Vec<(&str, Vec<(Op, Hide)>)> = vec![
            (
                "new key: equality delete",
                vec![(Up("a", 0, 0), EqualityDelete)],
            ),
            (
                "repeat inside the checkpoint: position delete of the earlier row",
                vec![
                    (Up("a", 0, 0), EqualityDelete),
                    (Up("a", 0, 1), PositionDelete(at(0, 0))),
                    (Up("a", 1, 0), PositionDelete(at(0, 1))),
                ],
            ),
            (
                "delete of a key written in this checkpoint, then re-insert",
                vec![
                    (Up("a", 0, 0), EqualityDelete),
                    (Del("a"), PositionDelete(at(0, 0))),
                    (Del("a"), Nothing),
                    (Up("a", 0, 1), Nothing),
                    (Del("a"), PositionDelete(at(0, 1))),
                ],
            ),
            (
                "delete of a key not written: equality delete once",
                vec![(Del("b"), EqualityDelete), (Del("b"), Nothing)],
            ),
            (
                "keys are independent",
                vec![
                    (Up("a", 0, 0), EqualityDelete),
                    (Up("b", 0, 1), EqualityDelete),
                    (Up("a", 0, 2), PositionDelete(at(0, 0))),
                    (Del("b"), PositionDelete(at(0, 1))),
                ],
            ),
        ];
        for (name, steps) in cases {
            let mut index = KeyIndex::new(1 << 20);
            for (i, (op, expected)) in steps.into_iter().enumerate() {
                let got = match op {
                    Up(k, f, p) => index.upsert(k.as_bytes(), at(f, p)),
                    Del(k) => index.delete(k.as_bytes()),
                }
                .unwrap();
                assert_eq!(got, expected, "{name}, step {i}");
            }
        }
    }

    #[test]
    fn the_index_is_bounded_and_cleared_per_checkpoint() {
        let limit = 3 * (8 + ENTRY_OVERHEAD);
        let mut index = KeyIndex::new(limit);
        for k in 0u64..3 {
            index.upsert(&k.to_be_bytes(), at(0, k)).unwrap();
        }
        // Known keys still update in place.
        assert_eq!(
            index.upsert(&1u64.to_be_bytes(), at(0, 9)).unwrap(),
            Hide::PositionDelete(at(0, 1))
        );
        let full = index.upsert(&7u64.to_be_bytes(), at(0, 3)).unwrap_err();
        assert_eq!(full.keys, 4);
        assert!(full.to_string().contains("checkpoint more often"));
        assert_eq!(index.bytes(), limit);
        index.clear();
        assert!(index.is_empty());
        assert_eq!(
            index.upsert(&7u64.to_be_bytes(), at(1, 0)).unwrap(),
            Hide::EqualityDelete
        );
    }
}
