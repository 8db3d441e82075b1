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
