use super::*;
use crate::test_support::string_map;

fn overrides(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn sizes_parse_with_and_without_units() {
    let cases = [
        ("134217728", Ok(134217728)),
        ("128MiB", Ok(128 << 20)),
        ("64KiB", Ok(64 << 10)),
        ("1GiB", Ok(1 << 30)),
        ("512MB", Ok(512_000_000)),
        ("10B", Ok(10)),
        (" 7 ", Ok(7)),
    ];
    for (text, want) in cases {
        assert_eq!(parse_size(text), want, "{text}");
    }
    for bad in ["", "MiB", "12XB", "-1", "1.5MiB", "99999999999999999999GiB"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_follow_the_target() {
    let o = CompactionOptions::resolve(&HashMap::new(), &[]).unwrap();
    assert_eq!(o.target_file_size_bytes, 128 << 20);
    assert_eq!(o.min_file_size_bytes, (128u64 << 20) * 3 / 4);
    assert_eq!(o.max_file_size_bytes, ((128u64 << 20) as f64 * 1.8) as u64);
    assert_eq!(o.min_input_files, 5);
    assert_eq!(o.delete_file_threshold, usize::MAX);
    assert_eq!(o.delete_ratio_threshold, 0.3);
    assert_eq!(o.max_concurrent_file_group_rewrites, 4);

    let props = string_map(&[("write.target-file-size-bytes", "1000")]);
    let o = CompactionOptions::resolve(&props, &[]).unwrap();
    assert_eq!(
        (
            o.target_file_size_bytes,
            o.min_file_size_bytes,
            o.max_file_size_bytes
        ),
        (1000, 750, 1800)
    );
}

#[test]
fn overrides_beat_table_properties_which_beat_defaults() {
    let props = string_map(&[
        ("write.target-file-size-bytes", "1000"),
        ("floe.compaction.target-file-size-bytes", "2000"),
        ("floe.compaction.min-input-files", "3"),
        ("floe.compaction.enabled", "true"),
        ("floe.compaction.something-else", "x"),
    ]);
    let o = CompactionOptions::resolve(&props, &[]).unwrap();
    assert_eq!((o.target_file_size_bytes, o.min_input_files), (2000, 3));
    let o = CompactionOptions::resolve(
        &props,
        &overrides(&[
            ("target-file-size-bytes", "4KiB"),
            ("min-input-files", "1"),
            ("delete-ratio-threshold", "0.5"),
        ]),
    )
    .unwrap();
    assert_eq!((o.target_file_size_bytes, o.min_input_files), (4096, 1));
    assert_eq!(o.delete_ratio_threshold, 0.5);
    assert_eq!(
        o.min_file_size_bytes, 3072,
        "derived from the resolved target"
    );
}

#[test]
fn bad_options_name_the_option_its_source_and_the_problem() {
    /// (table properties, overrides, words the error must contain)
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        &'a [&'a str],
    );
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec![("min-inputs", "2")],
            &["min-inputs", "unknown option"],
        ),
        (
            vec![],
            vec![("target-file-size-bytes", "0")],
            &["target-file-size-bytes", "more than 0"],
        ),
        (
            vec![("floe.compaction.min-input-files", "many")],
            vec![],
            &[
                "min-input-files",
                "table property floe.compaction.min-input-files",
                "whole number",
            ],
        ),
        (
            vec![],
            vec![("min-input-files", "0")],
            &["min-input-files", "at least 1"],
        ),
        (
            vec![],
            vec![
                ("target-file-size-bytes", "100"),
                ("min-file-size-bytes", "200"),
            ],
            &["min-file-size-bytes", "above the target"],
        ),
        (
            vec![],
            vec![
                ("target-file-size-bytes", "100"),
                ("max-file-size-bytes", "50"),
            ],
            &["max-file-size-bytes", "below the target"],
        ),
        (
            vec![],
            vec![("delete-ratio-threshold", "0")],
            &["delete-ratio-threshold", "(0, 1]"],
        ),
        (
            vec![],
            vec![("delete-ratio-threshold", "1.5")],
            &["delete-ratio-threshold"],
        ),
        (
            vec![],
            vec![("delete-file-threshold", "0")],
            &["delete-file-threshold"],
        ),
        (
            vec![],
            vec![("max-concurrent-file-group-rewrites", "0")],
            &["max-concurrent-file-group-rewrites"],
        ),
        (
            vec![],
            vec![("delete-ratio-threshold", "NaN")],
            &["delete-ratio-threshold", "override delete-ratio-threshold"],
        ),
        (
            vec![],
            vec![("delete-ratio-threshold", "a third")],
            &["delete-ratio-threshold", "not a number"],
        ),
        (
            vec![],
            vec![("min-input-files", "-1")],
            &[
                "min-input-files",
                "override min-input-files",
                "whole number",
            ],
        ),
        (
            vec![("floe.compaction.min-file-size-bytes", "2GiB")],
            vec![],
            &[
                "min-file-size-bytes",
                "table property floe.compaction.min-file-size-bytes",
                "above the target 134217728",
            ],
        ),
        (
            vec![],
            vec![
                ("target-file-size-bytes", "100"),
                ("max-file-group-size-bytes", "179"),
            ],
            &["max-file-group-size-bytes", "below the max file size 180"],
        ),
        (
            vec![],
            vec![("floe.compaction.min-input-files", "2")],
            &["floe.compaction.min-input-files", "unknown option"],
        ),
        (
            vec![("write.target-file-size-bytes", "12 parsecs")],
            vec![],
            &[
                "target-file-size-bytes",
                "write.target-file-size-bytes",
                "unit",
            ],
        ),
    ];
    for (props, over, words) in cases {
        let props: HashMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = CompactionOptions::resolve(&props, &overrides(&over))
            .unwrap_err()
            .to_string();
        for word in words {
            assert!(err.contains(word), "{err:?} lacks {word:?}");
        }
    }
}

#[test]
fn bounds_and_explicit_values_resolve() {
    /// (table properties, overrides, want: target, min, max, min inputs, ratio, group size)
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        (u64, u64, u64, usize, f64, u64),
    );
    const G100: u64 = 100 << 30;
    let cases: Vec<Case> = vec![
        (&[], &[], (128 << 20, 96 << 20, 241_591_910, 5, 0.3, G100)),
        (
            &[],
            &[
                ("target-file-size-bytes", "100"),
                ("min-file-size-bytes", "100"),
                ("max-file-size-bytes", "100"),
            ],
            (100, 100, 100, 5, 0.3, G100),
        ),
        (
            &[
                ("floe.compaction.target-file-size-bytes", "1KiB"),
                ("floe.compaction.min-file-size-bytes", "0"),
                ("floe.compaction.max-file-size-bytes", "4KiB"),
                ("floe.compaction.delete-ratio-threshold", "1"),
                ("floe.compaction.max-file-group-size-bytes", "1MB"),
            ],
            &[],
            (1024, 0, 4096, 5, 1.0, 1_000_000),
        ),
        (
            &[("floe.compaction.min-file-size-bytes", "10")],
            &[("target-file-size-bytes", "1000")],
            (1000, 10, 1800, 5, 0.3, G100),
        ),
        (
            &[("write.target-file-size-bytes", "100GiB")],
            &[],
            (G100, 75 << 30, 193_273_528_320, 5, 0.3, 193_273_528_320),
        ),
        (
            &[
                ("floe.compaction.enabled", "false"),
                ("floe.compaction.min-inputs", "nonsense"),
            ],
            &[("min-input-files", "1")],
            (128 << 20, 96 << 20, 241_591_910, 1, 0.3, G100),
        ),
    ];
    for (props, over, want) in cases {
        let o = CompactionOptions::resolve(&string_map(props), &overrides(over))
            .unwrap_or_else(|e| panic!("{props:?} {over:?}: {e}"));
        let got = (
            o.target_file_size_bytes,
            o.min_file_size_bytes,
            o.max_file_size_bytes,
            o.min_input_files,
            o.delete_ratio_threshold,
            o.max_file_group_size_bytes,
        );
        assert_eq!(got, want, "{props:?} {over:?}");
    }
}

#[test]
fn counts_resolve_from_both_sources() {
    let props = string_map(&[
        ("floe.compaction.delete-file-threshold", "7"),
        ("floe.compaction.max-concurrent-file-group-rewrites", "2"),
    ]);
    let o = CompactionOptions::resolve(&props, &[]).unwrap();
    assert_eq!(
        (
            o.delete_file_threshold,
            o.max_concurrent_file_group_rewrites
        ),
        (7, 2)
    );
    let over = overrides(&[("max-concurrent-file-group-rewrites", "16")]);
    let o = CompactionOptions::resolve(&props, &over).unwrap();
    assert_eq!(
        (
            o.delete_file_threshold,
            o.max_concurrent_file_group_rewrites
        ),
        (7, 16)
    );
}

#[test]
fn an_error_reads_as_one_sentence() {
    let err = CompactionOptions::resolve(&HashMap::new(), &overrides(&[("min-input-files", "0")]))
        .unwrap_err();
    assert_eq!(
        err,
        OptionError {
            name: "min-input-files".into(),
            source_of: "override min-input-files".into(),
            problem: "must be at least 1".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "compaction option min-input-files (override min-input-files): must be at least 1"
    );
}

#[test]
fn verification_is_on_unless_turned_off() {
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: [(Pairs, Pairs, Result<bool, &str>); 5] = [
        (&[], &[], Ok(true)),
        (&[("floe.compaction.verify", "false")], &[], Ok(false)),
        (
            &[("floe.compaction.verify", "false")],
            &[("verify", "true")],
            Ok(true),
        ),
        (&[], &[("verify", "false")], Ok(false)),
        (
            &[],
            &[("verify", "no")],
            Err("compaction option verify (override verify): \"no\" is not true or false"),
        ),
    ];
    for (props, given, want) in cases {
        let got = CompactionOptions::resolve(&string_map(props), &overrides(given))
            .map(|o| o.verify)
            .map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(str::to_string), "{props:?} {given:?}");
    }
}
