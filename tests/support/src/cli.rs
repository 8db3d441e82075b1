//! Running the `floe` binary as a user runs it: a finished run ([`Run`]) with its exit
//! status and output, the one error line a failed run prints, and the line a run printed
//! about a checkpoint.

use std::ffi::OsStr;
use std::process::{Command, ExitStatus, Stdio};

use crate::server::floe_bin;

/// A finished `floe` run.
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// What a failed run printed about its failure: stderr from its one error line (`floe:
    /// ...`, or clap's `error: ...` for usage errors) to the end.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        let starts: Vec<usize> = self
            .stderr
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .chain([0])
            .filter(|&i| {
                let rest = &self.stderr[i..];
                rest.starts_with("floe: ") || rest.starts_with("error: ")
            })
            .collect();
        assert_eq!(
            starts.len(),
            1,
            "one error line on stderr; stderr:\n{}",
            self.stderr
        );
        self.stderr[starts[0]..].trim_end()
    }

    /// The stdout line about checkpoint `c`.
    #[track_caller]
    pub fn checkpoint_line(&self, c: i64) -> &str {
        let prefix = format!("checkpoint {c} (");
        let found: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one line for checkpoint {c}; stdout:\n{}",
            self.stdout
        );
        found[0]
    }
}

/// `floe ARGS` with stdin closed, stdout and stderr piped, logging at `warn`.
pub fn floe_command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(floe_bin());
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `floe ARGS` to its end.
pub fn floe<S: AsRef<OsStr>>(args: &[S]) -> Run {
    Run::from(floe_command(args).output().expect("run the floe binary"))
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts that the run succeeded, printing what it wrote when it did not.
    #[track_caller]
    pub fn succeeded(self, what: &str) -> Self {
        assert!(
            self.status.success(),
            "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}
