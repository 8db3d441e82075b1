//! What a table of the compaction benchmark holds (live files by partition and by
//! content), and the list of its data files handed to the copy children.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use floe_client::RestClient;
use floe_table::live_entries;
use iceberg::spec::DataContentType;
use iceberg::TableIdent;

/// What a table holds: live data files by partition (path, bytes), and per content
/// (data, position deletes, equality deletes) the number of files, bytes and records.
pub struct Files {
    pub data: BTreeMap<String, Vec<(String, u64)>>,
    pub counts: [(usize, u64, u64); 3],
}

impl Files {
    pub fn data_bytes(&self) -> u64 {
        self.counts[0].1
    }

    pub fn describe(&self) -> String {
        let [d, p, e] = self.counts;
        format!(
            "{} data files ({:.1} MB, {} rows, {:.2} MB each on average), {} equality-delete files ({:.1} MB, {} rows), {} position-delete files ({:.1} MB, {} rows)",
            d.0,
            d.1 as f64 / 1e6,
            d.2,
            d.1 as f64 / 1e6 / d.0.max(1) as f64,
            e.0,
            e.1 as f64 / 1e6,
            e.2,
            p.0,
            p.1 as f64 / 1e6,
            p.2
        )
    }
}

pub async fn table_files(client: &RestClient, ident: &TableIdent) -> Files {
    let table = client.load_table(ident).await.unwrap();
    let entries = live_entries(&table.file_io, &table.metadata, None)
        .await
        .unwrap();
    let mut files = Files {
        data: BTreeMap::new(),
        counts: [(0, 0, 0); 3],
    };
    for (_, e) in entries {
        let c = &mut files.counts[e.content_type() as usize];
        c.0 += 1;
        c.1 += e.file_size_in_bytes();
        c.2 += e.record_count();
        if e.content_type() == DataContentType::Data {
            files
                .data
                .entry(format!("{:?}", e.data_file().partition()))
                .or_default()
                .push((e.file_path().to_string(), e.file_size_in_bytes()));
        }
    }
    files
}

/// Writes the data files by partition for the copy children: `partition \t path` lines.
pub fn write_list(files: &Files, path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for (p, (_, list)) in files.data.iter().enumerate() {
        for (file, _) in list {
            writeln!(out, "{p}\t{file}").unwrap();
        }
    }
}

pub fn read_list(path: &str) -> Vec<Vec<PathBuf>> {
    let mut parts: BTreeMap<usize, Vec<PathBuf>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let (p, file) = line.split_once('\t').unwrap();
        let file = file.strip_prefix("file://").unwrap_or(file);
        parts
            .entry(p.parse().unwrap())
            .or_default()
            .push(PathBuf::from(file));
    }
    parts.into_values().collect()
}
