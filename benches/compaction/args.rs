//! The compaction benchmark's command line: the input table's shape, the rounds, the
//! reads, and the options of the child processes that run one measurement each.

#[derive(Clone)]
pub struct Args {
    pub checkpoints: usize,
    pub checkpoint_rows: usize,
    pub rounds: usize,
    pub buckets: u32,
    pub read_budget: f64,
    pub read_memory_gib: u32,
    pub reads: bool,
    /// Also read the table before compaction (DuckDB can take minutes and fail on it).
    pub read_before: bool,
    // Child modes.
    pub mode: Option<String>,
    pub url: String,
    pub table: String,
    pub list: String,
    pub threads: usize,
    /// The child's compaction checks its groups (the option `verify`).
    pub verify: bool,
}

pub fn args() -> Args {
    let mut a = Args {
        checkpoints: 125,
        checkpoint_rows: 240_000,
        rounds: 3,
        buckets: 16,
        read_budget: 120.0,
        read_memory_gib: 8,
        reads: true,
        read_before: true,
        mode: None,
        url: String::new(),
        table: String::new(),
        list: String::new(),
        threads: 1,
        verify: true,
    };
    let mut files = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("a value after {flag}"));
        match flag.as_str() {
            "--checkpoints" => a.checkpoints = value().parse().expect("--checkpoints N"),
            "--files" => files = Some(value().parse::<usize>().expect("--files N")),
            "--checkpoint-rows" => {
                a.checkpoint_rows = value().parse().expect("--checkpoint-rows N")
            }
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--buckets" => a.buckets = value().parse().expect("--buckets N"),
            "--read-budget" => a.read_budget = value().parse().expect("--read-budget SECONDS"),
            "--read-memory-gib" => {
                a.read_memory_gib = value().parse().expect("--read-memory-gib N")
            }
            "--no-reads" => a.reads = false,
            "--no-before-read" => a.read_before = false,
            "--quick" => {
                a.checkpoints = 10;
                a.checkpoint_rows = 50_000;
                a.rounds = 1;
            }
            "--mode" => a.mode = Some(value()),
            "--url" => a.url = value(),
            "--table" => a.table = value(),
            "--list" => a.list = value(),
            "--threads" => a.threads = value().parse().expect("--threads N"),
            "--no-verify" => a.verify = false,
            _ => {} // cargo bench passes --bench
        }
    }
    if let Some(files) = files {
        a.checkpoints = files.div_ceil(a.buckets as usize).max(1);
    }
    assert!(a.rounds >= 1 && a.checkpoints >= 1 && a.checkpoint_rows >= 2);
    a
}

impl Args {
    /// The keys the stream writes: all live at the end (an upsert never deletes a key).
    pub fn live_rows(&self) -> u64 {
        (self.checkpoint_rows + (self.checkpoints - 1) * (self.checkpoint_rows / 2)) as u64
    }

    pub fn command(&self) -> String {
        format!(
            "cargo bench --bench compaction -- --checkpoints {} --checkpoint-rows {} --buckets {} --rounds {} --read-budget {} --read-memory-gib {}{}",
            self.checkpoints,
            self.checkpoint_rows,
            self.buckets,
            self.rounds,
            self.read_budget,
            self.read_memory_gib,
            match (self.reads, self.read_before) {
                (false, _) => " --no-reads",
                (true, false) => " --no-before-read",
                (true, true) => "",
            }
        )
    }
}
