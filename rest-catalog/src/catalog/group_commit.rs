//! Group commit: the single-table commits that queue on this node for one table while its
//! lock is held are applied together, in arrival order, under one hold of the lock. Each
//! is checked against the metadata the one before it produced (its requirements decide
//! its answer, as if it had run alone), each is written as its own metadata file, whose
//! metadata log names the one before, and the pointer moves once for the whole group (one
//! compare-and-swap: one ZooKeeper `setData` or one redb transaction).
//!
//! Answers: a member whose requirements fail, or whose updates are invalid, is answered
//! at once (nothing of it was written). The others wait for the pointer move and share
//! its outcome: moved, each gets its own metadata file; certainly not moved, each gets 409
//! and the group's files are deleted; unknown, each gets CommitStateUnknown and nothing is
//! deleted. A group takes at most [`MAX_GROUP_COMMITS`] commits and stops taking more
//! once it has worked [`MAX_GROUP_TIME`]; the rest form the next group.
//!
//! The queue of a table is drained by one task (spawned by the commit that found the
//! queue empty), so a client that disconnects never abandons the commits queued with it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use floe_locks::LockGuard;
use iceberg::{TableIdent, TableRequirement};
use tokio::sync::oneshot;

use super::commits::{nothing_written, TableChange};
use super::tables::record;
use super::{Catalog, MetadataFile};
use crate::error::{CatalogError, Failure, Result};
use crate::store::PointerSwap;

/// The most commits one group applies.
pub const MAX_GROUP_COMMITS: usize = 32;

/// How long a group keeps taking members: once its work has taken this long, the commits
/// left wait for the next group (under the same lock, or another node's turn).
pub const MAX_GROUP_TIME: Duration = Duration::from_millis(100);

/// A commit waiting in its table's queue.
struct Queued {
    change: TableChange,
    answer: oneshot::Sender<Result<MetadataFile>>,
}

/// The queues of single-table commits on this node, by lock key. A key is present while a
/// task drains its queue.
#[derive(Default)]
pub(crate) struct CommitQueues {
    queues: Mutex<HashMap<String, VecDeque<Queued>>>,
}

impl CommitQueues {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Queued>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a commit; `true` when no task drains the key's queue yet (start one).
    fn push(&self, key: &str, queued: Queued) -> bool {
        let mut queues = self.queues();
        match queues.get_mut(key) {
            Some(queue) => {
                queue.push_back(queued);
                false
            }
            None => {
                queues.insert(key.to_string(), VecDeque::from([queued]));
                true
            }
        }
    }

    /// The next group: the oldest commits, up to `max`, that name the same table as the
    /// oldest (a table renamed meanwhile may be queued under two names).
    fn take(&self, key: &str, max: usize) -> Vec<Queued> {
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(key) else {
            return Vec::new();
        };
        let mut group = Vec::new();
        while group.len() < max {
            match queue.front() {
                Some(next)
                    if group
                        .first()
                        .is_none_or(|first: &Queued| same_table(first, next)) =>
                {
                    group.extend(queue.pop_front())
                }
                _ => break,
            }
        }
        group
    }

    /// Puts commits a group did not reach back at the front of the queue, in order.
    fn put_back(&self, key: &str, rest: Vec<Queued>) {
        let mut queues = self.queues();
        let queue = queues.entry(key.to_string()).or_default();
        for queued in rest.into_iter().rev() {
            queue.push_front(queued);
        }
    }

    /// Ends the draining task of `key` when its queue is empty: `true` then.
    fn finish_if_empty(&self, key: &str) -> bool {
        let mut queues = self.queues();
        if queues.get(key).is_some_and(|q| !q.is_empty()) {
            return false;
        }
        queues.remove(key);
        true
    }
}

/// Frees a table's queue when its draining task panics: the commits still queued (never
/// applied) are answered, and the next commit starts a task of its own. (The group in
/// flight, if any, answers unknown: its answers are dropped unsent.)
struct AbandonOnPanic {
    queues: Arc<CommitQueues>,
    key: String,
}

impl Drop for AbandonOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let abandoned = self.queues.queues().remove(&self.key).unwrap_or_default();
        let stopped = CatalogError::commit_failed(
            "the task committing this table's queue stopped; nothing of this commit was \
             written, retry it",
        );
        answer_all(abandoned, &stopped);
    }
}

/// Answers every commit of `queued` with `error` (none of them was applied).
fn answer_all(queued: impl IntoIterator<Item = Queued>, error: &CatalogError) {
    for queued in queued {
        let _ = queued.answer.send(Err(error.clone()));
    }
}

fn same_table(a: &Queued, b: &Queued) -> bool {
    a.change.ident == b.change.ident
}

/// What a member that passed its checks waits for: the file it answers with once the
/// pointer moved.
struct Waiting {
    answer: oneshot::Sender<Result<MetadataFile>>,
    file: MetadataFile,
}

impl Catalog {
    /// Commits one change to an existing table (lock key `key`) in its table's next group.
    pub(super) async fn commit_in_group(
        &self,
        key: String,
        change: TableChange,
    ) -> Result<MetadataFile> {
        let (answer, answered) = oneshot::channel();
        if self.queues.push(&key, Queued { change, answer }) {
            let catalog = self.clone();
            tokio::spawn(async move { catalog.drain_queue(key).await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(CatalogError::CommitStateUnknown(Failure::from(
                "the task committing this table's group stopped before answering; no file \
                 was deleted",
            )))
        })
    }

    /// Commits the queue of `key` group by group until it is empty, taking the table's lock
    /// for each group.
    async fn drain_queue(&self, key: String) {
        let _unwinding = AbandonOnPanic {
            queues: self.queues.clone(),
            key: key.clone(),
        };
        loop {
            let waiting = Instant::now();
            let guard = self.locks.acquire(&key, self.lock_timeout).await;
            self.telemetry.lock_wait(waiting.elapsed());
            let group = self.queues.take(&key, MAX_GROUP_COMMITS);
            match guard {
                Ok(guard) => {
                    let held = std::slice::from_ref(&guard);
                    let rest = self.commit_group(&key, group, held).await;
                    self.queues.put_back(&key, rest);
                    drop(guard);
                }
                Err(e) => answer_all(group, &nothing_written(e.into())),
            }
            if self.queues.finish_if_empty(&key) {
                return;
            }
        }
    }

    /// Applies a group under its table's lock (`held`, on `key`) and answers every member
    /// it reached; returns those it did not reach (its time ran out).
    async fn commit_group(
        &self,
        key: &str,
        group: Vec<Queued>,
        held: &[Box<dyn LockGuard>],
    ) -> Vec<Queued> {
        let started = Instant::now();
        let Some(first) = group.first() else {
            return Vec::new();
        };
        let ident = first.change.ident.clone();
        let base = match self
            .group_base(key, &ident, &first.change.requirements)
            .await
        {
            Ok(base) => base,
            Err(e) => {
                answer_all(group, &nothing_written(e));
                return Vec::new();
            }
        };
        let mut head = base.clone();
        let (mut written, mut waiting) = (Vec::new(), Vec::new());
        let mut members = group.into_iter();
        for queued in members.by_ref() {
            let Queued { change, answer } = queued;
            match self.apply_member(&ident, &head, change).await {
                Ok(None) => waiting.push(Waiting {
                    answer,
                    file: head.clone(),
                }),
                Ok(Some(file)) => {
                    written.push(file.location.clone());
                    head = file.clone();
                    waiting.push(Waiting { answer, file });
                }
                Err(e) => {
                    let _ = answer.send(Err(e));
                }
            }
            if started.elapsed() >= MAX_GROUP_TIME {
                break;
            }
        }
        let outcome = if written.is_empty() {
            Ok(())
        } else {
            let swap = PointerSwap {
                ident: ident.clone(),
                expected: Some(base.location.clone()),
                new: record(&head.location, &head.metadata),
            };
            self.move_pointers(&[swap], &written, held).await
        };
        for Waiting { answer, file } in waiting {
            let _ = answer.send(outcome.clone().map(|()| file));
        }
        members.collect()
    }

    /// The metadata file a group of `ident` (lock key `key`) starts from, read under the
    /// lock. A table dropped, or replaced under its name, since this node learned its key
    /// is refused, and the key forgotten.
    async fn group_base(
        &self,
        key: &str,
        ident: &TableIdent,
        requirements: &[TableRequirement],
    ) -> Result<MetadataFile> {
        match self.load_current(ident, requirements).await? {
            Some((uuid, base)) if uuid == key => Ok(base),
            other => {
                self.lock_keys.invalidate(ident);
                Err(match other {
                    None => CatalogError::NoSuchTable(ident.to_string()),
                    Some(_) => CatalogError::commit_failed(format!(
                        "table {ident} was replaced while the commit waited; nothing was \
                         written, retry the commit"
                    )),
                })
            }
        }
    }

    /// Applies one member on top of `head`: its new metadata file, written; `None` when it
    /// changes nothing. An error leaves nothing of it behind.
    async fn apply_member(
        &self,
        ident: &TableIdent,
        head: &MetadataFile,
        change: TableChange,
    ) -> Result<Option<MetadataFile>> {
        let TableChange {
            requirements,
            updates,
            ..
        } = change;
        let planned = self.plan_on(ident, head, &requirements, updates).await;
        let Some(metadata) = planned.map_err(nothing_written)? else {
            return Ok(None);
        };
        self.write_metadata(metadata, Some(&head.location))
            .await
            .map(Some)
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
