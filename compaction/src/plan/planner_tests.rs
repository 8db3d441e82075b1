use iceberg::spec::{Literal, Struct};

use super::*;

const KIB: u64 = 1024;
const TARGET: u64 = 100 * KIB;

/// Options with a target of 100 KiB (so min 75 KiB, max 180 KiB), then `overrides` as
/// `name=value` separated by spaces.
fn options(overrides: &str) -> CompactionOptions {
    let mut all = vec![("target-file-size-bytes".to_string(), TARGET.to_string())];
    all.extend(overrides.split_whitespace().map(|pair| {
        let (k, v) = pair.split_once('=').unwrap();
        (k.to_string(), v.to_string())
    }));
    CompactionOptions::resolve(&Default::default(), &all).unwrap()
}

fn key(spec_id: i32, b: i32) -> Partition {
    Partition {
        spec_id,
        value: Struct::from_iter([Some(Literal::int(b))]),
    }
}

/// A data file of partition `b` of spec 0, a record per 10 bytes.
fn file(name: &str, b: i32, size: u64, deletes: &[usize]) -> DataFileInfo {
    DataFileInfo {
        path: name.to_string(),
        partition: key(0, b),
        size_bytes: size,
        record_count: size / 10,
        deletes: deletes.to_vec(),
    }
}

/// Data files written as `name[@partition]=size[+delete,delete...]`, separated by
/// spaces; a size in bytes, or in KiB with a `K`.
fn layout(text: &str) -> Vec<DataFileInfo> {
    let number = |s: &str| s.parse::<u64>().unwrap();
    text.split_whitespace()
        .map(|token| {
            let (name, rest) = token.split_once('=').unwrap();
            let (name, b) = name.split_once('@').unwrap_or((name, "0"));
            let (size, deletes) = rest.split_once('+').unwrap_or((rest, ""));
            let size = size
                .strip_suffix('K')
                .map_or_else(|| number(size), |k| number(k) * KIB);
            let deletes: Vec<usize> = deletes
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| number(d) as usize)
                .collect();
            file(name, b.parse().unwrap(), size, &deletes)
        })
        .collect()
}

/// Delete files `e0`, `e1`, ... with these record counts.
fn deletes(records: &[u64]) -> Vec<DeleteFileInfo> {
    records
        .iter()
        .enumerate()
        .map(|(i, &record_count)| DeleteFileInfo {
            path: format!("e{i}"),
            kind: DeleteKind::Equality,
            record_count,
            size_bytes: 100,
        })
        .collect()
}

/// The plan as `"<file names, sorted>: <reason> x<expected outputs>"` per group.
fn show(data: &[DataFileInfo], groups: &[FileGroup]) -> Vec<String> {
    groups
        .iter()
        .map(|g| {
            let mut files: Vec<&str> = g
                .data_files
                .iter()
                .map(|&i| data[i].path.as_str())
                .collect();
            files.sort();
            format!(
                "{}: {:?} x{}",
                files.join(" "),
                g.reason,
                g.expected_output_files
            )
        })
        .collect()
}

/// The rules, a case in two lines: its name, then `option overrides | data layout | delete
/// records | the plan, groups separated by ;`.
const RULES: &str = "
no files
    | | |
only delete files
    | | 9 |
five small files are enough
    | f0=10K f1=10K f2=10K f3=10K f4=10K | | f0 f1 f2 f3 f4: EnoughInputFiles x1
four are not
    | f0=10K f1=10K f2=10K f3=10K | |
files from min to max without deletes are no candidates
    min-input-files=1 | min=75K target=100K max=180K | |
just under min and just over max are candidates
    min-input-files=2 | under=76799 over=184321 | | over under: EnoughInputFiles x3
a lone small file is never rewritten
    min-input-files=1 | a=10K | |
min-input-files 1 takes two
    min-input-files=1 | a=10K b=10K | | a b: EnoughInputFiles x1
a lone file with deletes is, with min-input-files 1
    min-input-files=1 | a=100K+0 | 1 | a: EnoughInputFiles x1
but not with 5 and few deletes
    | a=100K+0 | 1 |
deletes over the ratio
    | a=10K+0 b=10K+0 | 700 | a b: HighDeleteRatio x1
deletes under the ratio
    | a=10K+0 b=10K+0 | 10 |
a ratio at the threshold is enough (a delete file counts once)
    delete-ratio-threshold=0.5 | a=10000+0 b=10000+0 | 1000 | a b: HighDeleteRatio x1
one record less is not
    delete-ratio-threshold=0.5 | a=10000+0 b=10000 | 999 |
a file of the target size with deletes is a candidate
    min-input-files=2 | a=100K+0 b=100K | 5000 | a: HighDeleteRatio x1
a file with as many delete files as the threshold
    delete-file-threshold=3 | a=10K+0,1,2 b=10K+0 | 1 1 1 | a b: TooManyDeleteFiles x1
one delete file fewer
    delete-file-threshold=4 | a=10K+0,1,2 b=10K+0 | 1 1 1 |
a file larger than max is split
    | big=400K | | big: FileTooLarge x4
a file to split takes its partition's small files along
    | big=250K s0=10K s1=10K | | big s0 s1: FileTooLarge x3
enough files come first among the reasons
    delete-file-threshold=1 | f0=1K+0 f1=1K+0 f2=1K+0 f3=1K+0 f4=1K+0 | 9999 \
    | f0 f1 f2 f3 f4: EnoughInputFiles x1
too many delete files come before a high ratio
    delete-file-threshold=1 | a=10K+0 | 9999 | a: TooManyDeleteFiles x1
a high ratio comes before a split
    | big=400K+0 | 999999 | big: HighDeleteRatio x4
partitions are planned apart
    min-input-files=3 | a0=10K b0@1=10K a1=10K b1@1=10K a2=10K | | a0 a1 a2: EnoughInputFiles x1
partitions come in the order they first appear
    min-input-files=2 | a0=100K b0@1=10K a1=10K b1@1=10K a2=10K | \
    | a1 a2: EnoughInputFiles x1; b0 b1: EnoughInputFiles x1
a partition's candidates are one group, written as target-sized files
    min-input-files=2 | f0=60K f1=60K f2=60K f3=60K f4=60K | | f0 f1 f2 f3 f4: EnoughInputFiles x3
";

#[test]
fn the_rules_decide_which_groups_are_rewritten() {
    let lines: Vec<&str> = RULES.trim().lines().collect();
    assert_eq!(lines.len(), 2 * 25, "every case has its name and its line");
    for case in lines.chunks(2) {
        let fields: Vec<&str> = case[1].split('|').map(str::trim).collect();
        let [overrides, data, records, want] = fields[..] else {
            panic!("{}: four fields, not {fields:?}", case[0]);
        };
        let records: Vec<u64> = records
            .split_whitespace()
            .map(|r| r.parse().unwrap())
            .collect();
        let want: Vec<&str> = want
            .split(';')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .collect();
        let data = layout(data);
        let groups = plan(&data, &deletes(&records), &options(overrides));
        assert_eq!(show(&data, &groups), want, "{}", case[0]);
    }
}

#[test]
fn the_same_value_in_another_spec_is_another_partition() {
    let mut data = layout("a0=1K a1=1K b0=1K b1=1K");
    data[2].partition = key(1, 0);
    data[3].partition = key(1, 0);
    let groups = plan(&data, &[], &options("min-input-files=2"));
    let partitions: Vec<Partition> = groups.iter().map(|g| g.partition.clone()).collect();
    assert_eq!(partitions, vec![key(0, 0), key(1, 0)]);
    assert_eq!(groups[0].data_files, vec![0, 1]);
    assert_eq!(groups[1].data_files, vec![2, 3]);
}

#[test]
fn a_group_counts_its_inputs_and_the_union_of_its_deletes() {
    let data = layout("a=3K+2,0 b=2K+0 c=100K d=1K");
    let groups = plan(&data, &deletes(&[10, 99, 5]), &options("min-input-files=3"));
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g.partition, key(0, 0));
    assert_eq!(
        g.data_files,
        vec![0, 1, 3],
        "largest first; c is no candidate"
    );
    assert_eq!(g.delete_files, vec![0, 2]);
    assert_eq!(g.input_bytes, 6 * KIB);
    assert_eq!(g.input_records, 3 * KIB / 10 + 2 * KIB / 10 + KIB / 10);
    assert_eq!(g.delete_records, 15);
    assert_eq!(g.expected_output_files, 1);
    assert_eq!(g.reason, GroupReason::EnoughInputFiles);
}

#[test]
fn a_lone_file_without_deletes_stays_whatever_the_options() {
    let mut o = options("min-input-files=1");
    o.delete_file_threshold = 0; // Not valid as an option, but the fields are public.
    assert!(plan(&layout("a=1K"), &[], &o).is_empty());
    assert_eq!(plan(&layout("a=1K b=1K"), &[], &o).len(), 1);
}

#[test]
fn files_are_split_into_target_sized_files_and_a_remainder() {
    let max = 180 * KIB;
    for (size, outputs) in [
        (max + 1, 2),
        (2 * TARGET, 2),
        (2 * TARGET + 1, 3),
        (400 * KIB, 4),
        (1000 * KIB, 10),
        (1000 * KIB + 1, 11),
    ] {
        let groups = plan(&[file("big", 0, size, &[])], &[], &options(""));
        assert_eq!(groups.len(), 1, "{size}");
        assert_eq!(groups[0].reason, GroupReason::FileTooLarge, "{size}");
        assert_eq!(groups[0].expected_output_files, outputs, "{size}");
        assert_eq!(groups[0].input_bytes, size);
    }
}

#[test]
fn groups_are_bounded_by_max_file_group_size() {
    let mut o = options("min-input-files=2");
    o.max_file_group_size_bytes = 200 * KIB;
    let data = layout("f0=60K f1=60K f2=60K f3=60K f4=60K");
    let want = [
        "f0 f1 f2: EnoughInputFiles x2",
        "f3 f4: EnoughInputFiles x2",
    ];
    assert_eq!(show(&data, &plan(&data, &[], &o)), want);
    // Ties in size go by path, whatever the order of the input.
    let reversed: Vec<DataFileInfo> = data.iter().rev().cloned().collect();
    assert_eq!(show(&reversed, &plan(&reversed, &[], &o)), want);
    // First fit, largest first, into 120 KiB: 70 + 50, then 60 + 40 + 10 (10 does not fit
    // the first), then 30 alone, which is not rewritten.
    o.max_file_group_size_bytes = 120 * KIB;
    let data = layout("a=70K b=60K c=50K d=40K e=30K f=10K");
    assert_eq!(
        show(&data, &plan(&data, &[], &o)),
        ["a c: EnoughInputFiles x2", "b d f: EnoughInputFiles x2"]
    );
}

#[test]
fn plans_are_deterministic_and_summarized() {
    let data: Vec<DataFileInfo> = (0..20)
        .map(|i| file(&format!("f{i:02}"), i % 3, (i as u64 + 1) * KIB, &[]))
        .collect();
    let o = options("target-file-size-bytes=16KiB min-input-files=2");
    let a = show(&data, &plan(&data, &[], &o));
    assert_eq!(a, show(&data, &plan(&data, &[], &o)));
    let reversed: Vec<DataFileInfo> = data.iter().rev().cloned().collect();
    let mut b = show(&reversed, &plan(&reversed, &[], &o));
    assert_eq!(b[0], a[1], "f19, of the second partition, comes first");
    b.sort();
    assert_eq!(a, b);
    assert_eq!(
        a,
        [
            "f00 f03 f06 f09: EnoughInputFiles x2",
            "f01 f04 f07 f10: EnoughInputFiles x2",
            "f02 f05 f08: EnoughInputFiles x2",
        ]
    );
    // Files of 12 KiB (0.75 x 16 KiB) and more are not small: f00..f10 are.
    assert_eq!(
        summarize(&plan(&data, &[], &o)),
        PlanSummary {
            groups: 3,
            data_files: 11,
            delete_files: 0,
            input_bytes: (1..=11).sum::<u64>() * KIB,
            input_records: (1..=11).map(|k| k * KIB / 10).sum(),
        }
    );
    assert_eq!(summarize(&[]), PlanSummary::default());
}

#[test]
fn a_summary_counts_a_shared_delete_file_per_group() {
    let data = layout("a0=1K+0 a1=1K+0,1 b0@1=1K+0 b1@1=1K");
    let summary = summarize(&plan(
        &data,
        &deletes(&[1, 1]),
        &options("min-input-files=2"),
    ));
    let want = PlanSummary {
        groups: 2,
        data_files: 4,
        delete_files: 3,
        input_bytes: 4 * KIB,
        input_records: 4 * (KIB / 10),
    };
    assert_eq!(summary, want);
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
        assert_eq!(left, 0, "the expected files hold the group's bytes");
    }
    out
}

/// Plans, compacts as planned and plans again, which must plan nothing. Returns how
/// many groups the first plan had.
fn assert_settles(
    what: &str,
    data: &[DataFileInfo],
    deletes: &[DeleteFileInfo],
    o: &CompactionOptions,
) -> usize {
    let groups = plan(data, deletes, o);
    let after = compacted(data, &groups, o.target_file_size_bytes);
    let again = plan(&after, deletes, o);
    assert!(
        again.is_empty(),
        "{what}: planned again {:?}",
        show(&after, &again)
    );
    groups.len()
}

#[test]
fn compaction_settles_in_chosen_layouts() {
    /// (name, option overrides, data, delete records, groups planned first)
    type Case = (
        &'static str,
        &'static str,
        Vec<DataFileInfo>,
        &'static [u64],
        usize,
    );
    let many = |n: usize, partitions: i32, size: fn(usize) -> u64| -> Vec<DataFileInfo> {
        (0..n)
            .map(|i| file(&format!("f{i}"), i as i32 % partitions, size(i), &[]))
            .collect()
    };
    let cases: Vec<Case> = vec![
        ("nothing", "", vec![], &[], 0),
        (
            "remainders of 65 KiB would pair up in groups of at most max",
            "min-input-files=2",
            layout("a=55K b=55K c=55K d=55K e=55K f=55K"),
            &[],
            1,
        ),
        (
            "many tiny files",
            "min-input-files=1",
            many(1000, 1, |_| 3 * KIB),
            &[],
            1,
        ),
        (
            "a split and small files",
            "min-input-files=1",
            layout("big=250K s=5K t=7K"),
            &[],
            1,
        ),
        (
            "two files to split",
            "",
            layout("big0=250K big1=333K"),
            &[],
            1,
        ),
        (
            "files with deletes at the target size",
            "min-input-files=1",
            layout("a=100K+0 b=100K+0 c=100K+0"),
            &[1],
            1,
        ),
        (
            "too few small files stay as they are",
            "",
            layout("a=1K b=1K c=1K d=1K"),
            &[],
            0,
        ),
        (
            "several partitions",
            "min-input-files=2",
            many(40, 4, |i| (i as u64 % 9 + 1) * 11 * KIB),
            &[],
            4,
        ),
        (
            "a target that is also the min and the max",
            "min-file-size-bytes=100KiB max-file-size-bytes=100KiB min-input-files=1",
            layout("a=99K b=101K c=350K"),
            &[],
            1,
        ),
    ];
    for (name, overrides, data, records, first) in cases {
        let planned = assert_settles(name, &data, &deletes(records), &options(overrides));
        assert_eq!(planned, first, "{name}");
    }
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
fn compaction_settles_in_random_layouts() {
    let mut rng = Rng(42);
    let mut planned = 0;
    for round in 0..1000 {
        let target = (1 + rng.below(200)) * KIB;
        let files = rng.below(60) as usize;
        let data: Vec<DataFileInfo> = (0..files)
            .map(|i| {
                let size = match rng.below(4) {
                    0 => rng.below(5 * target) + 1,
                    _ => rng.below(target / 2) + 1,
                };
                let deletes: Vec<usize> = (0..3).filter(|_| rng.below(4) == 0).collect();
                file(&format!("f{i}"), rng.below(4) as i32, size, &deletes)
            })
            .collect();
        let records: Vec<u64> = (0..3).map(|_| rng.below(target / 5)).collect();
        let overrides = format!(
            "target-file-size-bytes={target} min-input-files={} delete-file-threshold={} \
             delete-ratio-threshold=0.{}",
            1 + rng.below(6),
            1 + rng.below(4),
            1 + rng.below(9)
        );
        let what = format!("round {round}: {overrides}");
        if assert_settles(&what, &data, &deletes(&records), &options(&overrides)) > 0 {
            planned += 1;
        }
    }
    assert!(planned > 500, "most layouts plan something: {planned}");
}
