//! Floe compaction (empty until the compactor issue).
