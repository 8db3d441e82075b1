use iceberg::spec::{Literal, Struct};

use super::*;

const KIB: u64 = 1024;

fn options(target: u64, min_input_files: usize) -> CompactionOptions {
    let overrides = vec![
        ("target-file-size-bytes".to_string(), target.to_string()),
        ("min-input-files".to_string(), min_input_files.to_string()),
    ];
    CompactionOptions::resolve(&Default::default(), &overrides).unwrap()
}

#[test]
fn groups_are_bounded_by_max_file_group_size() {
    let mut o = options(100 * KIB, 2);
    o.max_file_group_size_bytes = 200 * KIB;
    let data: Vec<DataFileInfo> = (0..5)
        .map(|i| file(&format!("f{i}"), 0, 60 * KIB, &[]))
        .collect();
    let groups = plan(&data, &[], &o);
    assert_eq!(
        names(&data, &groups),
        vec![
            (
                strings(&["f0", "f1", "f2"]),
                GroupReason::EnoughInputFiles,
                2
            ),
            (strings(&["f3", "f4"]), GroupReason::EnoughInputFiles, 2),
        ]
    );
}

fn bucket(b: i32) -> PartitionKey {
    PartitionKey {
        spec_id: 0,
        value: Struct::from_iter([Some(Literal::int(b))]),
    }
}

fn file(name: &str, b: i32, size: u64, deletes: &[usize]) -> DataFileInfo {
    DataFileInfo {
        path: name.to_string(),
        partition: bucket(b),
        size_bytes: size,
        record_count: size / 10,
        deletes: deletes.to_vec(),
    }
}

fn delete(name: &str, records: u64) -> DeleteFileInfo {
    DeleteFileInfo {
        path: name.to_string(),
        kind: DeleteKind::Equality,
        record_count: records,
        size_bytes: 100,
    }
}

/// The plan as (file names per group, reason, expected outputs).
fn names(data: &[DataFileInfo], groups: &[FileGroup]) -> Vec<(Vec<String>, GroupReason, usize)> {
    groups
        .iter()
        .map(|g| {
            let mut files: Vec<String> =
                g.data_files.iter().map(|&i| data[i].path.clone()).collect();
            files.sort();
            (files, g.reason.clone(), g.expected_output_files)
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_rules_decide_which_groups_are_rewritten() {
    use GroupReason::*;
    let target = 100 * KIB;
    let small = 10 * KIB;
    type Case = (
        &'static str,
        usize,
        Vec<DataFileInfo>,
        Vec<DeleteFileInfo>,
        Vec<(Vec<String>, GroupReason, usize)>,
    );
    let cases: Vec<Case> = vec![
        ("no files", 5, vec![], vec![], vec![]),
        (
            "five small files are enough",
            5,
            (0..5)
                .map(|i| file(&format!("f{i}"), 0, small, &[]))
                .collect(),
            vec![],
            vec![(
                strings(&["f0", "f1", "f2", "f3", "f4"]),
                EnoughInputFiles,
                1,
            )],
        ),
        (
            "four small files are not",
            5,
            (0..4)
                .map(|i| file(&format!("f{i}"), 0, small, &[]))
                .collect(),
            vec![],
            vec![],
        ),
        (
            "files at the target size are left alone",
            1,
            vec![file("a", 0, target, &[]), file("b", 0, 90 * KIB, &[])],
            vec![],
            vec![],
        ),
        (
            "a lone small file without deletes is never rewritten",
            1,
            vec![file("a", 0, small, &[])],
            vec![],
            vec![],
        ),
        (
            "a lone file with deletes is, with min-input-files 1",
            1,
            vec![file("a", 0, target, &[0])],
            vec![delete("e", 1)],
            vec![(strings(&["a"]), EnoughInputFiles, 1)],
        ),
        (
            "deletes over the ratio call for a rewrite of few files",
            5,
            vec![file("a", 0, small, &[0]), file("b", 0, small, &[0])],
            vec![delete("e", 700)],
            vec![(strings(&["a", "b"]), HighDeleteRatio, 1)],
        ),
        (
            "deletes under the ratio do not",
            5,
            vec![file("a", 0, small, &[0]), file("b", 0, small, &[0])],
            vec![delete("e", 10)],
            vec![],
        ),
        (
            "a file larger than max is split on its own",
            5,
            vec![file("big", 0, 400 * KIB, &[])],
            vec![],
            vec![(strings(&["big"]), FileTooLarge, 4)],
        ),
        (
            "partitions are planned apart",
            3,
            vec![
                file("a0", 0, small, &[]),
                file("b0", 1, small, &[]),
                file("a1", 0, small, &[]),
                file("b1", 1, small, &[]),
                file("a2", 0, small, &[]),
            ],
            vec![],
            vec![(strings(&["a0", "a1", "a2"]), EnoughInputFiles, 1)],
        ),
        (
            "a partition's candidates are one group, written as target-sized files",
            2,
            (0..5)
                .map(|i| file(&format!("f{i}"), 0, 60 * KIB, &[]))
                .collect(),
            vec![],
            vec![(
                strings(&["f0", "f1", "f2", "f3", "f4"]),
                EnoughInputFiles,
                3,
            )],
        ),
    ];
    for (name, min_inputs, data, deletes, want) in cases {
        let groups = plan(&data, &deletes, &options(target, min_inputs));
        assert_eq!(names(&data, &groups), want, "{name}");
    }
}

#[test]
fn the_delete_file_threshold_counts_deletes_per_file() {
    let mut o = options(100 * KIB, 5);
    o.delete_file_threshold = 3;
    let data = vec![
        file("a", 0, 10 * KIB, &[0, 1, 2]),
        file("b", 0, 10 * KIB, &[0]),
    ];
    let deletes = vec![delete("e0", 1), delete("e1", 1), delete("e2", 1)];
    let groups = plan(&data, &deletes, &o);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].reason, GroupReason::TooManyDeleteFiles);
    assert_eq!(groups[0].delete_files, vec![0, 1, 2]);
    assert_eq!(groups[0].delete_records, 3);
    o.delete_file_threshold = 4;
    assert!(plan(&data, &deletes, &o).is_empty());
}

#[test]
fn plans_are_deterministic_and_summarized() {
    let data: Vec<DataFileInfo> = (0..20)
        .map(|i| file(&format!("f{i:02}"), i % 3, (i as u64 + 1) * KIB, &[]))
        .collect();
    let o = options(16 * KIB, 2);
    let a = names(&data, &plan(&data, &[], &o));
    let mut reversed = data.clone();
    reversed.reverse();
    let b = names(&reversed, &plan(&reversed, &[], &o));
    let sorted = |mut v: Vec<(Vec<String>, GroupReason, usize)>| {
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    assert_eq!(sorted(a), sorted(b));
    let summary = summarize(&plan(&data, &[], &o));
    assert_eq!(
        summary.data_files, 11,
        "files of 12 KiB (0.75 x 16 KiB) and more are not small"
    );
    assert_eq!(summary.input_bytes, (1..=11).sum::<u64>() * KIB);
}

/// What a compaction of `groups` leaves: every group becomes its expected number of
/// target-sized files, the last one holding the remainder; no deletes.
fn compacted(data: &[DataFileInfo], groups: &[FileGroup], target: u64) -> Vec<DataFileInfo> {
    let rewritten: BTreeSet<usize> = groups
        .iter()
        .flat_map(|g| g.data_files.iter().copied())
        .collect();
    let mut out: Vec<DataFileInfo> = data
        .iter()
        .enumerate()
        .filter(|(i, _)| !rewritten.contains(i))
        .map(|(_, f)| DataFileInfo {
            deletes: vec![],
            ..f.clone()
        })
        .collect();
    for (n, g) in groups.iter().enumerate() {
        let mut left = g.input_bytes;
        for k in 0..g.expected_output_files {
            let size = target.min(left);
            left -= size;
            out.push(DataFileInfo {
                path: format!("out-{n}-{k}"),
                partition: g.partition.clone(),
                size_bytes: size,
                record_count: size / 10,
                deletes: vec![],
            });
        }
    }
    out
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        (z ^ (z >> 31)) % n
    }
}

#[test]
fn compaction_settles_planning_again_plans_nothing() {
    let target = 100 * KIB;
    let mut rng = Rng(42);
    for round in 0..300 {
        let files = rng.below(60) as usize;
        let data: Vec<DataFileInfo> = (0..files)
            .map(|i| {
                let size = match rng.below(4) {
                    0 => rng.below(500 * KIB) + 1,
                    _ => rng.below(40 * KIB) + 1,
                };
                let deletes = if rng.below(3) == 0 { vec![0] } else { vec![] };
                file(&format!("f{i}"), rng.below(4) as i32, size, &deletes)
            })
            .collect();
        let deletes = vec![delete("e", rng.below(1000))];
        let o = options(target, 1 + rng.below(6) as usize);
        let groups = plan(&data, &deletes, &o);
        let after = compacted(&data, &groups, target);
        let again = plan(&after, &deletes, &o);
        assert!(
            again.is_empty(),
            "round {round}: planned again {:?}",
            names(&after, &again)
        );
    }
}
