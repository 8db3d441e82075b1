//! The one commit loop, for every operation: plan on the table as loaded, commit, and on
//! a conflict wait, reload and plan again, as the table's `commit.retry.*` properties say
//! (Iceberg's names and defaults). A commit whose outcome is unknown is settled on the
//! next load by looking for the change itself (the snapshot id on the main branch): found,
//! it committed; not found, it is tried again, which the commit's requirements make safe
//! (a late landing of the first makes the second conflict). Once any attempt's outcome was
//! unknown, every failure after it is reported as [`ErrorKind::Unknown`], so no caller
//! deletes files a commit may reference.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::catalog::{LoadedTable, TableCatalog};
use crate::error::{Error, ErrorKind, Result};
use crate::operation::{Plan, TableOperation};
use crate::properties::{
    read, PropertyError, COMMIT_MAX_WAIT_MS, COMMIT_MIN_WAIT_MS, COMMIT_NUM_RETRIES,
    COMMIT_TOTAL_TIMEOUT_MS, DEFAULT_COMMIT_MAX_WAIT_MS, DEFAULT_COMMIT_MIN_WAIT_MS,
    DEFAULT_COMMIT_NUM_RETRIES, DEFAULT_COMMIT_TOTAL_TIMEOUT_MS,
};

/// How often and how patiently something is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub num_retries: u32,
    /// The wait before the first retry; each next one waits twice as long.
    pub min_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// No retry starts once this long has passed since the first attempt.
    pub total_timeout: Duration,
}

impl Default for RetryPolicy {
    /// Iceberg's defaults: 4 retries, waits from 100 ms up to 1 minute, 30 minutes in all.
    fn default() -> Self {
        Self {
            num_retries: DEFAULT_COMMIT_NUM_RETRIES as u32,
            min_wait: Duration::from_millis(DEFAULT_COMMIT_MIN_WAIT_MS),
            max_wait: Duration::from_millis(DEFAULT_COMMIT_MAX_WAIT_MS),
            total_timeout: Duration::from_millis(DEFAULT_COMMIT_TOTAL_TIMEOUT_MS),
        }
    }
}

impl RetryPolicy {
    /// The commit retry policy of a table with `properties`.
    pub fn from_properties(
        properties: &std::collections::HashMap<String, String>,
    ) -> Result<Self, PropertyError> {
        let ms = |key: &str, default: u64| {
            read(
                properties,
                key,
                default,
                |_| true,
                "a whole number of milliseconds",
            )
            .map(Duration::from_millis)
        };
        let defaults = Self::default();
        let num_retries = read(
            properties,
            COMMIT_NUM_RETRIES,
            defaults.num_retries,
            |_| true,
            "a count of retries",
        )?;
        Ok(Self {
            num_retries,
            min_wait: ms(COMMIT_MIN_WAIT_MS, DEFAULT_COMMIT_MIN_WAIT_MS)?,
            max_wait: ms(COMMIT_MAX_WAIT_MS, DEFAULT_COMMIT_MAX_WAIT_MS)?,
            total_timeout: ms(COMMIT_TOTAL_TIMEOUT_MS, DEFAULT_COMMIT_TOTAL_TIMEOUT_MS)?,
        })
    }

    /// The wait before retry `retry` (from 1), without jitter: `min_wait` doubled at each
    /// retry, at most `max_wait` (and at least a millisecond).
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubled = self
            .min_wait
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        doubled.min(self.max_wait).max(Duration::from_millis(1))
    }

    /// The waits before each retry, starting now: each backoff plus up to half of it
    /// again (so contenders that collided do not collide again), until the retries are
    /// spent or the total timeout has passed.
    pub fn waits(&self) -> Waits {
        Waits {
            policy: *self,
            retries: 0,
            started: Instant::now(),
        }
    }
}

/// The waits of a [`RetryPolicy`]; see [`RetryPolicy::waits`].
#[derive(Clone, Debug)]
pub struct Waits {
    policy: RetryPolicy,
    retries: u32,
    started: Instant,
}

impl Iterator for Waits {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retries >= self.policy.num_retries
            || self.started.elapsed() >= self.policy.total_timeout
        {
            return None;
        }
        self.retries += 1;
        let wait = self.policy.backoff(self.retries);
        let spread = (Uuid::new_v4().as_u128() % 1000) as u32;
        Some(wait + wait / 2 * spread / 1000)
    }
}

/// How an operation ended.
#[derive(Debug)]
pub struct Finished<T> {
    /// The operation's answer.
    pub output: T,
    /// The table as last seen: as committed, or as loaded when nothing was committed.
    pub table: LoadedTable,
    /// Commit attempts sent.
    pub attempts: u32,
}

/// Runs `operation` on `table` (as the caller last loaded it: a stale table costs one
/// conflict) until it commits, is done without a commit, fails, or runs out of retries.
pub async fn commit<O: TableOperation + ?Sized>(
    catalog: &dyn TableCatalog,
    table: LoadedTable,
    operation: &mut O,
) -> Result<Finished<O::Output>> {
    let policy = RetryPolicy::from_properties(table.metadata.properties())?;
    let ident = table.ident.clone();
    let uuid = table.metadata.uuid();
    let mut waits = policy.waits();
    let mut base = table;
    // The last failed attempt, and whether any attempt's outcome was unknown.
    let mut last: Option<Error> = None;
    let mut unknown = false;
    let after_unknown = |e: Error, unknown: bool| match (unknown, e.kind()) {
        (true, kind) if kind != ErrorKind::Unknown => e.into_kind(
            ErrorKind::Unknown,
            "an earlier commit attempt has an unknown outcome, and then",
        ),
        _ => e,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            let Some(wait) = waits.next() else { break };
            tokio::time::sleep(wait).await;
            base = catalog
                .load_table(&ident)
                .await
                .map_err(|e| after_unknown(e, unknown))?;
            if base.metadata.uuid() != uuid {
                let replaced = Error::table_replaced(&ident, uuid, base.metadata.uuid());
                return Err(after_unknown(replaced, unknown));
            }
            if let Some(output) = operation.landed(&base) {
                // An earlier attempt whose answer was lost did land.
                return Ok(Finished {
                    output,
                    table: base,
                    attempts: attempt - 1,
                });
            }
        }
        let plan = operation
            .plan(&base, attempt)
            .await
            .map_err(|e| after_unknown(e, unknown))?;
        let commit = match plan {
            Plan::Done(output) => {
                return Ok(Finished {
                    output,
                    table: base,
                    attempts: attempt - 1,
                })
            }
            Plan::Commit(commit) => commit,
        };
        match catalog.commit_table(&ident, commit).await {
            Ok(committed) => {
                return match operation.landed(&committed) {
                    Some(output) => Ok(Finished {
                        output,
                        table: committed,
                        attempts: attempt,
                    }),
                    None => Err(Error::new(
                        ErrorKind::Unknown,
                        format!("the catalog accepted the commit to {ident}, but its answer does not hold the change"),
                    )),
                };
            }
            Err(e) if e.is_retryable() => {
                tracing::info!(attempt, error = %e, table = %ident, "commit not acknowledged; reloading and retrying");
                unknown |= e.kind() == ErrorKind::Unknown;
                last = Some(e);
            }
            Err(e) => return Err(after_unknown(e, unknown)),
        }
    }
    let attempts = attempt - 1;
    let cause = last.as_ref().map_or_else(String::new, |e| e.to_string());
    let with_cause = |error: Error| match last {
        Some(e) => error.with_source(e),
        None => error,
    };
    if unknown {
        // Settle once more before giving up: the last attempt may have landed.
        if let Ok(now) = catalog.load_table(&ident).await {
            if let Some(output) = operation.landed(&now) {
                return Ok(Finished {
                    output,
                    table: now,
                    attempts,
                });
            }
        }
        return Err(with_cause(Error::new(
            ErrorKind::Unknown,
            format!(
                "gave up after {attempts} commit attempts to {ident}, an outcome unknown: {cause}"
            ),
        )));
    }
    Err(with_cause(Error::new(
        ErrorKind::Conflict,
        format!(
            "gave up after {attempts} commit attempts to {ident}, the table kept moving: {cause}"
        ),
    )))
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;
