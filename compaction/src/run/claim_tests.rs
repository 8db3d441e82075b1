//! The claim state machine, table-driven: names, transitions, and whole runs of events.

use super::*;

#[test]
fn names_are_the_partition_and_the_index_among_its_groups() {
    let names = group_names(["id_bucket=1", "id_bucket=0", "id_bucket=1", "", ""]);
    assert_eq!(
        names,
        [
            "id_bucket=1#0",
            "id_bucket=0#0",
            "id_bucket=1#1",
            "#0",
            "#1"
        ]
    );
}

#[test]
fn transitions() {
    use Claim::*;
    use End::*;
    // (from, event, to); every pair not listed cannot happen.
    let allowed = [
        (Trying, Event::Claimed, Mine),
        (Trying, Event::Busy, HeldElsewhere),
        (Trying, Event::Failed, Ended(Failed)),
        (Waiting, Event::Claimed, Mine),
        (Waiting, Event::Busy, Ended(LeftElsewhere)),
        (Waiting, Event::Failed, Ended(Failed)),
        (Mine, Event::Stale, Ended(DoneElsewhere)),
        (Mine, Event::Rewritten, Ended(Rewritten)),
    ];
    let states = [
        Open,
        Trying,
        HeldElsewhere,
        Waiting,
        Mine,
        Ended(Rewritten),
        Ended(DoneElsewhere),
        Ended(LeftElsewhere),
        Ended(Failed),
    ];
    let events = [
        Event::Claimed,
        Event::Busy,
        Event::Stale,
        Event::Rewritten,
        Event::Failed,
    ];
    for from in states {
        for event in events {
            let expected = allowed
                .iter()
                .find(|(f, e, _)| *f == from && *e == event)
                .map(|(_, _, to)| *to);
            assert_eq!(transition(from, event), expected, "{from:?} on {event:?}");
        }
    }
}

/// A line of a scripted run: the step `next` must answer, or an event to record.
enum Line {
    Next(Step),
    Record(usize, Event),
}

/// A scripted run: its name, how many groups, the first one tried, the script, and the
/// states at the end.
type Case = (&'static str, usize, usize, Vec<Line>, Vec<Claim>);

fn play(groups: usize, first: usize, script: &[Line]) -> Claims {
    let mut claims = Claims::new(groups, first);
    for (i, line) in script.iter().enumerate() {
        match line {
            Line::Next(step) => assert_eq!(claims.next(), *step, "line {i}"),
            Line::Record(g, e) => assert!(claims.record(*g, *e), "line {i}: {e:?} of {g}"),
        }
    }
    claims
}

#[test]
fn runs() {
    use End::*;
    use Line::*;
    use Step::*;
    let cases: Vec<Case> = vec![
        ("no groups", 0, 3, vec![Next(Finished)], vec![]),
        (
            "alone: every group claimed and rewritten, from the first one on",
            3,
            1,
            vec![
                Next(Try(1)),
                Next(Try(2)),
                Record(1, Event::Claimed),
                Next(Try(0)),
                Next(Pending),
                Record(2, Event::Claimed),
                Record(0, Event::Claimed),
                Record(1, Event::Rewritten),
                Record(0, Event::Rewritten),
                Next(Pending),
                Record(2, Event::Rewritten),
                Next(Finished),
            ],
            vec![Claim::Ended(Rewritten); 3],
        ),
        (
            "a group held elsewhere is waited for only once every group was tried",
            3,
            0,
            vec![
                Next(Try(0)),
                Record(0, Event::Busy),
                Next(Try(1)),
                Record(1, Event::Claimed),
                Next(Try(2)),
                Record(2, Event::Claimed),
                Next(Wait(0)),
                Next(Pending),
                Record(1, Event::Rewritten),
                Record(0, Event::Claimed),
                Record(0, Event::Stale),
                Record(2, Event::Rewritten),
                Next(Finished),
            ],
            vec![
                Claim::Ended(DoneElsewhere),
                Claim::Ended(Rewritten),
                Claim::Ended(Rewritten),
            ],
        ),
        (
            "the holder died: the waiter gets the claim and rewrites the group",
            2,
            1,
            vec![
                Next(Try(1)),
                Next(Try(0)),
                Record(1, Event::Busy),
                Record(0, Event::Claimed),
                Next(Wait(1)),
                Next(Pending),
                Record(1, Event::Claimed),
                Record(1, Event::Rewritten),
                Record(0, Event::Rewritten),
                Next(Finished),
            ],
            vec![Claim::Ended(Rewritten); 2],
        ),
        (
            "a holder still busy after the wait keeps its group; failed claims end too",
            3,
            2,
            vec![
                Next(Try(2)),
                Record(2, Event::Busy),
                Next(Try(0)),
                Record(0, Event::Failed),
                Next(Try(1)),
                Record(1, Event::Busy),
                Next(Wait(2)),
                Next(Wait(1)),
                Next(Pending),
                Record(2, Event::Claimed),
                Record(1, Event::Busy),
                Next(Pending),
                Record(2, Event::Rewritten),
                Next(Finished),
            ],
            vec![
                Claim::Ended(Failed),
                Claim::Ended(LeftElsewhere),
                Claim::Ended(Rewritten),
            ],
        ),
    ];
    for (name, groups, first, script, end) in cases {
        let claims = play(groups, first, &script);
        assert_eq!(claims.states(), end.as_slice(), "{name}");
    }
}

#[test]
fn an_event_out_of_turn_changes_nothing() {
    let mut claims = Claims::new(2, 0);
    assert!(!claims.record(0, Event::Claimed), "not tried yet");
    assert!(!claims.record(5, Event::Claimed), "no such group");
    assert_eq!(claims.next(), Step::Try(0));
    assert!(!claims.record(0, Event::Rewritten), "not claimed yet");
    assert!(!claims.record(0, Event::Stale), "not claimed yet");
    assert_eq!(claims.states(), [Claim::Trying, Claim::Open]);
}
