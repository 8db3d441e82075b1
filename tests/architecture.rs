//! The crate graph of the README's Architecture section, checked against `cargo tree`:
//! dependencies point inward to `floe-table`, and no library crate links the server.

use std::collections::BTreeSet;
use std::process::Command;

/// The packages `package` links in normal (not dev or build) use, itself excluded.
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "-p", package])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_string)
        .collect()
}

/// What the server, the CLI and the coordination service bring.
const SERVER_CRATES: &[&str] = &[
    "axum",
    "redb",
    "zookeeper-client",
    "jsonwebtoken",
    "clap",
    "floe",
    "floe-rest-catalog",
    "floe-locks",
];

#[test]
fn dependencies_point_inward() {
    // (package, what it must link, what it must not)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "floe-table",
            &["iceberg", "parquet", "object_store"],
            &["floe-upsert", "floe-compaction"],
        ),
        ("floe-upsert", &["floe-table"], &["floe-compaction"]),
        (
            "floe-compaction",
            &["floe-table"],
            &["floe-upsert", "floe-verify"],
        ),
        (
            "floe-verify",
            &["floe-table", "floe-compaction"],
            &["floe-upsert", "floe-client"],
        ),
        ("floe-locks", &["zookeeper-client"], &["floe-table", "axum"]),
        (
            "floe-rest-catalog",
            &["floe-table", "floe-locks", "axum", "redb"],
            &["floe-upsert", "floe-compaction", "clap"],
        ),
        (
            "floe-client",
            &["floe-table", "floe-upsert", "reqwest"],
            &["floe-compaction"],
        ),
        (
            "floe-ui",
            &["floe-rest-catalog", "floe-table", "askama", "axum"],
            &[
                "floe",
                "floe-upsert",
                "floe-compaction",
                "floe-client",
                "clap",
            ],
        ),
        (
            "floe-python",
            &["floe-client", "floe-upsert", "floe-compaction", "pyo3"],
            &[],
        ),
    ];
    for (package, must, must_not) in cases {
        let deps = normal_dependencies(package);
        for crate_ in *must {
            assert!(deps.contains(*crate_), "{package} should link {crate_}");
        }
        let mut forbidden: Vec<&str> = must_not.to_vec();
        let libraries = [
            "floe-table",
            "floe-upsert",
            "floe-compaction",
            "floe-verify",
            "floe-client",
            "floe-python",
        ];
        if libraries.contains(package) {
            forbidden.extend(SERVER_CRATES);
        }
        for crate_ in forbidden {
            assert!(!deps.contains(crate_), "{package} links {crate_}");
        }
    }
}
