//! Which group a node compacting a table together with others does next, pure: the names
//! its groups are claimed by (the same on every node that plans the same snapshot), and a
//! small state machine over the groups. Pass 1 tries each group's claim without waiting,
//! starting at a group of the node's own so that nodes starting together spread out; pass
//! 2 waits for the groups another node held, which it rewrites only when their files are
//! still to do (that node died). `cluster.rs` drives it with real claims.

/// The claim name of each planned group, in plan order: its partition as a path and the
/// group's index among the plan's groups of that partition (`id_bucket=3#0`; `#0` for an
/// unpartitioned table). The planner is deterministic, so nodes planning the same
/// snapshot name the same files alike; a node planning a later snapshot names a
/// partition's group alike too, and its re-check finds files another node replaced.
pub fn group_names<'a>(partitions: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    partitions
        .into_iter()
        .map(|partition| {
            let index = seen.entry(partition).or_default();
            let name = format!("{partition}#{index}");
            *index += 1;
            name
        })
        .collect()
}

/// Where one group of a node's run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Not tried yet.
    Open,
    /// Its claim is being tried without waiting (pass 1).
    Trying,
    /// Another node held its claim when tried: to wait for in pass 2.
    HeldElsewhere,
    /// Waiting for another node's claim (pass 2).
    Waiting,
    /// This node holds its claim: re-checking, rewriting, committing.
    Mine,
    /// Nothing more to do here.
    Ended(End),
}

/// How a group ended for this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// This node rewrote it (and committed it, or reports why not).
    Rewritten,
    /// Claimed, but its files were no longer all live: another node did it.
    DoneElsewhere,
    /// Another node still held its claim after the wait: left to that node.
    LeftElsewhere,
    /// Claiming it failed (the coordination service did not answer).
    Failed,
}

/// What happened to a group, as the driver reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Its claim was taken.
    Claimed,
    /// Another node held its claim past the wait.
    Busy,
    /// Claimed, but its files were not all live any more.
    Stale,
    /// Rewritten (its commit ended one way or another); the claim is released.
    Rewritten,
    /// Taking its claim failed.
    Failed,
}

/// What the driver does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Try to claim this group without waiting (pass 1).
    Try(usize),
    /// Wait for this group's claim (pass 2).
    Wait(usize),
    /// Nothing to start: wait for an event of a group in flight.
    Pending,
    /// Every group ended.
    Finished,
}

/// The state a group moves to on `event`, or `None` when the event cannot happen there.
pub fn transition(state: Claim, event: Event) -> Option<Claim> {
    use Claim::*;
    Some(match (state, event) {
        (Trying | Waiting, Event::Claimed) => Mine,
        (Trying, Event::Busy) => HeldElsewhere,
        (Waiting, Event::Busy) => Ended(End::LeftElsewhere),
        (Trying | Waiting, Event::Failed) => Ended(End::Failed),
        (Mine, Event::Stale) => Ended(End::DoneElsewhere),
        (Mine, Event::Rewritten) => Ended(End::Rewritten),
        _ => return None,
    })
}

/// The groups of one node's run, in the order it tries them.
#[derive(Clone, Debug)]
pub struct Claims {
    order: Vec<usize>,
    states: Vec<Claim>,
}

impl Claims {
    /// `groups` groups, tried from group `first` on (wrapping around).
    pub fn new(groups: usize, first: usize) -> Self {
        let first = if groups == 0 { 0 } else { first % groups };
        Self {
            order: (0..groups).map(|i| (first + i) % groups).collect(),
            states: vec![Claim::Open; groups],
        }
    }

    /// The next step, marking the group it names as tried or waited for: every open group
    /// is tried before any held one is waited for.
    pub fn next(&mut self) -> Step {
        let find = |wanted: Claim| {
            self.order
                .iter()
                .copied()
                .find(|&g| self.states[g] == wanted)
        };
        if let Some(g) = find(Claim::Open) {
            self.states[g] = Claim::Trying;
            return Step::Try(g);
        }
        if let Some(g) = find(Claim::HeldElsewhere) {
            self.states[g] = Claim::Waiting;
            return Step::Wait(g);
        }
        if self.states.iter().any(|s| !matches!(s, Claim::Ended(_))) {
            Step::Pending
        } else {
            Step::Finished
        }
    }

    /// Records `event` of group `group`; `false` (nothing changed) when it cannot happen
    /// in the group's state.
    pub fn record(&mut self, group: usize, event: Event) -> bool {
        match self.states.get(group).and_then(|&s| transition(s, event)) {
            Some(next) => {
                self.states[group] = next;
                true
            }
            None => false,
        }
    }

    /// Where each group stands.
    pub fn states(&self) -> &[Claim] {
        &self.states
    }
}

#[cfg(test)]
#[path = "claim_tests.rs"]
mod tests;
