//! Which keys a bucket may already hold, so the writer writes no equality delete that
//! cannot match. A bucket's [`KeyHull`] is, per key column, the smallest lower and the
//! largest upper bound of the keys its live data files hold (from their manifest entries),
//! widened by every key this writer wrote since. A key outside the hull on any one key
//! column has no older row in the bucket: its equality delete would hide nothing.
//!
//! Only integer-like key columns (int, long, date, time, timestamps) are bounded: their
//! bounds in manifests are exact. A string's may be truncated by the writer that made the
//! file (`truncate(16)` is Iceberg's default), so a string column never proves a key
//! absent; a table whose bucket holds no live data file needs no delete whatever its key.

use std::collections::HashMap;

use iceberg::spec::{DataFile, Datum, PrimitiveLiteral, PrimitiveType, Schema, Struct};

/// One key column's bounds: `None` when the column proves nothing (not integer-like, or a
/// file without bounds for it).
pub type ColumnBounds = Option<(i64, i64)>;

/// The keys a bucket may hold.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum KeyHull {
    /// No live data file and no row written: no key can have an older row.
    #[default]
    Empty,
    /// Per key column, the bounds every key the bucket may hold lies within.
    Keys(Vec<ColumnBounds>),
}

impl KeyHull {
    /// Whether a key (its integer-like columns' values, `None` for the others) may have an
    /// older row in the bucket: inside the bounds of every bounded column.
    pub fn may_hold(&self, key: &[Option<i64>]) -> bool {
        match self {
            KeyHull::Empty => false,
            KeyHull::Keys(columns) => {
                columns
                    .iter()
                    .zip(key)
                    .all(|(bounds, value)| match (bounds, value) {
                        (Some((lower, upper)), Some(v)) => lower <= v && v <= upper,
                        _ => true,
                    })
            }
        }
    }

    /// Widens the hull by keys with these per-column bounds.
    pub fn widen(&mut self, bounds: &[ColumnBounds]) {
        match self {
            KeyHull::Empty => *self = KeyHull::Keys(bounds.to_vec()),
            KeyHull::Keys(columns) => {
                for (column, added) in columns.iter_mut().zip(bounds) {
                    *column = match (*column, *added) {
                        (Some((l1, u1)), Some((l2, u2))) => Some((l1.min(l2), u1.max(u2))),
                        _ => None,
                    };
                }
            }
        }
    }

    /// Widens the hull by another's keys.
    pub fn merge(&mut self, other: &KeyHull) {
        if let KeyHull::Keys(bounds) = other {
            self.widen(bounds);
        }
    }
}

/// The keys of one bucket whose equality delete a checkpoint left out, each as its
/// integer-like columns' values: what the commit checks against data files the writer did
/// not know of when it left them out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkippedKeys {
    keys: Vec<Vec<Option<i64>>>,
}

impl SkippedKeys {
    /// Notes a key left out.
    pub fn push(&mut self, key: &[Option<i64>]) {
        self.keys.push(key.to_vec());
    }

    /// How many keys were left out.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a data file with these bounds may hold one of the keys.
    pub fn may_be_in(&self, file: &[ColumnBounds]) -> bool {
        let hull = KeyHull::Keys(file.to_vec());
        self.keys.iter().any(|key| hull.may_hold(key))
    }
}

/// The hulls of a table's buckets (by partition tuple) as this writer knows them, and
/// which data files they account for: the table's live data files when the writer opened
/// it, every key it wrote since, and each live data file a commit checked. Every widening
/// by files opens a new generation; a checkpoint records the generation it started at, and
/// its commit checks its left-out keys against every live data file of a later generation
/// or none (a compaction's output, another writer's rows).
#[derive(Clone, Debug, Default)]
pub struct KeyHulls {
    by_partition: HashMap<Struct, KeyHull>,
    /// A live data file of another partition spec was seen: no bucket proves anything.
    other_spec: bool,
    width: usize,
    /// Data file path -> the generation its bounds joined the hulls.
    known: HashMap<String, u64>,
    generation: u64,
}

impl KeyHulls {
    /// No bucket holds anything yet; keys have `width` columns.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            ..Self::default()
        }
    }

    /// The generation a checkpoint opened now starts at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The hull of a bucket.
    pub fn of(&self, partition: &Struct) -> KeyHull {
        if self.other_spec {
            return KeyHull::Keys(vec![None; self.width]);
        }
        self.by_partition
            .get(partition)
            .cloned()
            .unwrap_or_default()
    }

    /// Widens a bucket's hull by keys a checkpoint wrote.
    pub fn merge(&mut self, partition: &Struct, written: &KeyHull) {
        if *written != KeyHull::Empty {
            let hull = self.by_partition.entry(partition.clone()).or_default();
            hull.merge(written);
        }
    }

    /// Whether the bounds of `path` were in the hulls at `generation`.
    pub fn knew(&self, path: &str, generation: u64) -> bool {
        self.known.get(path).is_some_and(|g| *g <= generation)
    }

    /// Widens the hulls by live data files (path, partition of the default spec or
    /// `None`, bounds), in a new generation.
    pub fn learn<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a str, Option<&'a Struct>, Vec<ColumnBounds>)>,
    ) {
        self.generation += 1;
        for (path, partition, bounds) in files {
            if self.known.contains_key(path) {
                continue;
            }
            match partition {
                Some(p) => self
                    .by_partition
                    .entry(p.clone())
                    .or_default()
                    .widen(&bounds),
                None => self.other_spec = true,
            }
            self.known.insert(path.to_string(), self.generation);
        }
    }
}

/// The key columns of a table as the hull reads them: each key field's id, and whether its
/// type is integer-like (exact bounds).
#[derive(Clone, Debug)]
pub struct KeyColumns {
    fields: Vec<(i32, bool)>,
}

impl KeyColumns {
    /// The key fields `field_ids` of `schema`.
    pub fn new(schema: &Schema, field_ids: &[i32]) -> Self {
        let fields = field_ids
            .iter()
            .map(|id| {
                let bounded = schema
                    .field_by_id(*id)
                    .and_then(|f| f.field_type.as_primitive_type().cloned())
                    .is_some_and(|t| integer_like(&t));
                (*id, bounded)
            })
            .collect();
        Self { fields }
    }

    /// Whether key column `i` is integer-like.
    pub fn is_bounded(&self, i: usize) -> bool {
        self.fields[i].1
    }

    /// How many key columns there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// The bounds of a data file's keys, from its manifest entry's lower and upper bounds.
    pub fn file_bounds(&self, file: &DataFile) -> Vec<ColumnBounds> {
        self.fields
            .iter()
            .map(|(id, bounded)| {
                let lower = file.lower_bounds().get(id).and_then(integer);
                let upper = file.upper_bounds().get(id).and_then(integer);
                match (bounded, lower, upper) {
                    (true, Some(l), Some(u)) => Some((l, u)),
                    _ => None,
                }
            })
            .collect()
    }
}

fn integer_like(t: &PrimitiveType) -> bool {
    matches!(
        t,
        PrimitiveType::Int
            | PrimitiveType::Long
            | PrimitiveType::Date
            | PrimitiveType::Time
            | PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz
            | PrimitiveType::TimestampNs
            | PrimitiveType::TimestamptzNs
    )
}

/// The integer value of an integer-like bound.
fn integer(datum: &Datum) -> Option<i64> {
    match datum.literal() {
        PrimitiveLiteral::Int(v) => Some(i64::from(*v)),
        PrimitiveLiteral::Long(v) => Some(*v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_outside_one_bounded_column_has_no_older_row() {
        let hull = KeyHull::Keys(vec![Some((10, 20)), None, Some((0, 5))]);
        // (key, may hold)
        let cases: &[(&[Option<i64>], bool)] = &[
            (&[Some(15), None, Some(3)], true),
            (&[Some(10), Some(99), Some(5)], true),
            (&[Some(21), None, Some(3)], false),
            (&[Some(9), None, Some(3)], false),
            (&[Some(15), None, Some(6)], false),
            (&[None, None, Some(3)], true),
        ];
        for (key, want) in cases {
            assert_eq!(hull.may_hold(key), *want, "{key:?}");
        }
        assert!(!KeyHull::Empty.may_hold(&[Some(15), None, Some(3)]));
        let unbounded = KeyHull::Keys(vec![None]);
        assert!(unbounded.may_hold(&[Some(i64::MAX)]));
    }

    #[test]
    fn left_out_keys_are_checked_one_by_one() {
        let mut skipped = SkippedKeys::default();
        skipped.push(&[Some(5)]);
        skipped.push(&[Some(25)]);
        // A file between the two keys holds neither, though their hull spans it.
        assert!(!skipped.may_be_in(&[Some((10, 20))]));
        assert!(skipped.may_be_in(&[Some((20, 30))]));
        assert!(
            skipped.may_be_in(&[None]),
            "a file without bounds may hold any"
        );
        assert!(!SkippedKeys::default().may_be_in(&[None]));
    }

    #[test]
    fn files_join_the_hulls_in_generations() {
        let (a, b) = (
            Struct::from_iter([Some(iceberg::spec::Literal::int(0))]),
            Struct::from_iter([Some(iceberg::spec::Literal::int(1))]),
        );
        let mut hulls = KeyHulls::new(1);
        assert_eq!(hulls.of(&a), KeyHull::Empty);
        hulls.learn([("f1", Some(&a), vec![Some((1, 10))])]);
        let started = hulls.generation();
        hulls.learn([
            ("f1", Some(&a), vec![Some((1, 10))]),
            ("f2", Some(&a), vec![Some((50, 60))]),
        ]);
        assert!(hulls.knew("f1", started));
        assert!(
            !hulls.knew("f2", started),
            "learnt after the checkpoint started"
        );
        assert!(hulls.knew("f2", hulls.generation()));
        assert_eq!(hulls.of(&a), KeyHull::Keys(vec![Some((1, 60))]));
        hulls.merge(&b, &KeyHull::Keys(vec![Some((7, 7))]));
        assert_eq!(hulls.of(&b), KeyHull::Keys(vec![Some((7, 7))]));
        hulls.learn([("old-spec", None, vec![None])]);
        assert_eq!(
            hulls.of(&b),
            KeyHull::Keys(vec![None]),
            "another spec proves nothing"
        );
    }

    #[test]
    fn widening_covers_both_and_an_unknown_bound_stays_unknown() {
        let mut hull = KeyHull::Empty;
        hull.widen(&[Some((5, 9)), Some((1, 1))]);
        assert_eq!(hull, KeyHull::Keys(vec![Some((5, 9)), Some((1, 1))]));
        hull.widen(&[Some((1, 7)), None]);
        assert_eq!(hull, KeyHull::Keys(vec![Some((1, 9)), None]));
        hull.widen(&[Some((20, 30)), Some((0, 0))]);
        assert_eq!(hull, KeyHull::Keys(vec![Some((1, 30)), None]));
        let mut other = KeyHull::Empty;
        other.merge(&KeyHull::Empty);
        assert_eq!(other, KeyHull::Empty);
        other.merge(&hull);
        assert_eq!(other, hull);
    }
}
