"""`floe compact` while `floe upsert` keeps committing, read back by DuckDB 1.5's iceberg
extension.

One thread commits seeded random upsert checkpoints (one `floe upsert` process each) while the
main thread runs `floe compact` over and over. After every writer commit DuckDB must read
exactly the in-memory model, both at that snapshot (time travel) and at the table's current
state; at the end every snapshot of main's ancestry, writer's and compactor's alike, is read
with time travel and compared with the model of its newest writer ancestor. A final
compaction must leave no delete files and at most one small data file per bucket, and a dry
run after it must plan nothing. Also: bad options are refused and change nothing.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import defaultdict

from conftest import floe_binary, make_catalog
from interop_util import location_to_path
from test_upsert_duckdb import (
    COMMITTED_RE,
    ChangeStream,
    assert_rows,
    current_snapshot,
    duck_select,
    floe_upsert,
    load_table,
    run_floe,
    write_parquet,
)

SEED = 424242
KEY_SPACE = 400
CHECKPOINTS = 21  # checkpoint 1 creates the table, 2..21 run while compaction runs
WRITER = "w"
TARGET = 64 * 1024
# Pace of the writer: a debug-build compaction run takes most of a second, so without a
# pause the writer could finish before the compactor commits anything in between.
WRITER_PAUSE = 0.15

PLANNED_RE = re.compile(r"^(\S+): planned (\d+) groups on snapshot (\d+): (\d+) data files, ", re.M)
GROUP_COMMITTED_RE = re.compile(
    r"committed snapshot (\d+) \(sequence number (\d+)\), (\d+) delete files removed"
)
GROUP_SKIPPED_RE = re.compile(r"skipped, left for the next run: (.*)$", re.M)
TOTAL_RE = re.compile(r"^(\d+) of (\d+) groups committed;", re.M)


class CompactRun:
    """One `floe compact` run's report, parsed."""

    def __init__(self, out: str, dry_run: bool = False):
        self.out = out
        m = PLANNED_RE.search(out)
        assert m, f"no 'planned N groups' line in:\n{out}"
        self.planned = int(m.group(2))
        self.on_snapshot = int(m.group(3))
        self.committed = [(int(a), int(b), int(c)) for a, b, c in GROUP_COMMITTED_RE.findall(out)]
        self.skipped = GROUP_SKIPPED_RE.findall(out)
        t = TOTAL_RE.search(out)
        if dry_run:
            # The plan only: one line per group, nothing written or committed.
            assert t is None and not self.committed and not self.skipped, out
            assert len(re.findall(r"^  \S.* -> about \d+ files \[", out, re.M)) == self.planned, out
            return
        assert t, f"no 'X of Y groups committed' line in:\n{out}"
        assert int(t.group(1)) == len(self.committed), out
        assert int(t.group(2)) == self.planned == len(self.committed) + len(self.skipped), out


def floe_compact(url: str, table: str, *args: str) -> CompactRun:
    return CompactRun(run_floe("compact", "--catalog", url, "--table", table, *args), "--dry-run" in args)


def test_compaction_while_upserts_run(floe_url, http, duck_factory, unique_name, tmp_path):
    ns = unique_name("cmp")
    table = f"{ns}.t"
    stream = ChangeStream(SEED, key_space=KEY_SPACE)

    # All checkpoints up front (deterministic), with the model after each one.
    inputs = {}
    models: dict[int, dict] = {}
    for i in range(1, CHECKPOINTS + 1):
        rows = stream.checkpoint(stream.rng.randrange(200, 400))
        inputs[i] = write_parquet(tmp_path / f"cp{i:03}.parquet", rows, stream.rng)
        models[i] = dict(stream.model)  # values are tuples: a copy of the dict is a deep copy

    snapshot_of: dict[int, int] = {}  # checkpoint -> the snapshot it committed

    def upsert(i: int, *extra: str) -> int:
        out = floe_upsert(floe_url, table, [inputs[i]], "--writer-id", WRITER, "--checkpoint", str(i), *extra)
        m = COMMITTED_RE.search(out)
        assert m and int(m.group(1)) == i, f"checkpoint {i}: unexpected output {out!r}"
        snapshot_of[i] = int(m.group(2))
        return snapshot_of[i]

    upsert(1, "--create", "--key", "id", "--buckets", "4")
    assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), models[1], "after checkpoint 1")

    # ----------------------------------------------------------------------------------
    # The writer thread: checkpoints 2.., each checked by DuckDB right after its commit.
    writer_duck = duck_factory()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(2, CHECKPOINTS + 1):
                if stop.is_set():
                    return
                sid = upsert(i)
                what = f"checkpoint {i} (snapshot {sid}), committed while compacting"
                # The snapshot it committed, by time travel through the attached catalog ...
                assert_rows(
                    duck_select(writer_duck, f"c.{ns}.t AT (VERSION => {sid})"), models[i], f"{what}, AT VERSION"
                )
                # ... and the table's current state: compactions may have committed on top
                # since, but only this writer changes rows.
                assert_rows(duck_select(writer_duck, f"c.{ns}.t"), models[i], f"{what}, current state")
                time.sleep(WRITER_PAUSE)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    # ----------------------------------------------------------------------------------
    # The main thread compacts until the writer is done.
    runs: list[CompactRun] = []
    started = time.monotonic()
    thread = threading.Thread(target=writer, name="floe-upsert-writer", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            run = floe_compact(floe_url, table, "--target-file-size", "64KiB", "--min-input-files", "2")
            runs.append(run)
            if run.planned == 0:
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive(), "the writer thread did not finish"
    if errors:
        raise errors[0]
    concurrent_secs = time.monotonic() - started
    assert sorted(snapshot_of) == list(range(1, CHECKPOINTS + 1))

    compaction_snapshots = {sid: seq for run in runs for sid, seq, _ in run.committed}
    groups_committed = sum(len(r.committed) for r in runs)
    groups_skipped = [why for r in runs for why in r.skipped]
    assert groups_committed == len(compaction_snapshots)
    assert groups_committed > 0, f"no group committed in {len(runs)} compaction runs while the writer ran"
    deletes_removed = sum(n for r in runs for _, _, n in r.committed)
    assert deletes_removed > 0, "the compactions while the writer ran removed no delete files"
    print(
        f"\n{len(runs)} compaction runs in {concurrent_secs:.1f} s while {CHECKPOINTS - 1} checkpoints were "
        f"committed: {groups_committed} groups committed ({deletes_removed} delete files removed), "
        f"{len(groups_skipped)} skipped {groups_skipped[:3]}"
    )

    # ----------------------------------------------------------------------------------
    # The final compaction, then one that must find nothing to do.
    final = floe_compact(floe_url, table, "--target-file-size", "64KiB", "--min-input-files", "1")
    print(final.out)
    assert final.skipped == [], final.out
    for sid, seq, _ in final.committed:
        compaction_snapshots[sid] = seq
    settled = floe_compact(
        floe_url, table, "--target-file-size", "64KiB", "--min-input-files", "1", "--dry-run"
    )
    assert settled.planned == 0, f"after the final compaction a dry run still plans:\n{settled.out}"
    assert "committed" not in settled.out, settled.out

    # ----------------------------------------------------------------------------------
    # Every snapshot of main, oldest first, read by DuckDB with time travel.
    meta = load_table(http, ns, "t")
    md = meta["metadata"]
    by_id = {s["snapshot-id"]: s for s in md["snapshots"]}
    assert md["refs"]["main"]["snapshot-id"] == md["current-snapshot-id"]
    chain = []
    sid = md["current-snapshot-id"]
    while sid is not None:
        assert sid in by_id, f"snapshot {sid} is an ancestor of main but not in the metadata"
        chain.append(by_id[sid])
        sid = by_id[sid].get("parent-snapshot-id")
    chain.reverse()
    assert {s["snapshot-id"] for s in chain} == set(by_id), "snapshots outside main's ancestry"
    seqs = [s["sequence-number"] for s in chain]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"sequence numbers along main: {seqs}"

    location = str(location_to_path(meta["metadata-location"]))
    duck = duck_factory()
    model = None
    checkpoint = 0
    writer_seen = []
    compactions_seen = []
    compaction_before_a_writer_commit = 0
    for snap in chain:
        s = snap["summary"]
        sid = snap["snapshot-id"]
        if s.get("floe.writer-id") == WRITER:
            checkpoint = int(s["floe.checkpoint-id"])
            assert snapshot_of.get(checkpoint) == sid, (
                f"snapshot {sid} is checkpoint {checkpoint} by its summary, the writer printed "
                f"{snapshot_of.get(checkpoint)}"
            )
            model = models[checkpoint]
            writer_seen.append(checkpoint)
            what = f"snapshot {sid} (seq {snap['sequence-number']}, checkpoint {checkpoint})"
        else:
            assert s.get("floe.operation") == "compaction", f"snapshot {sid} is neither the writer's nor a compaction: {s}"
            assert s.get("operation") == "replace", f"compaction snapshot {sid}: {s}"
            assert model is not None, f"compaction snapshot {sid} before the first checkpoint"
            assert sid in compaction_snapshots, f"compaction snapshot {sid} was not reported by floe compact"
            assert compaction_snapshots[sid] == snap["sequence-number"], (sid, compaction_snapshots[sid], snap)
            compactions_seen.append(sid)
            if checkpoint < CHECKPOINTS:
                compaction_before_a_writer_commit += 1
            what = f"compaction snapshot {sid} (seq {snap['sequence-number']}, after checkpoint {checkpoint})"
        assert_rows(
            duck_select(duck, f"iceberg_scan('{location}', snapshot_from_id => {sid})"), model, f"{what}, time travel"
        )
    assert writer_seen == list(range(1, CHECKPOINTS + 1)), writer_seen
    assert sorted(compactions_seen) == sorted(compaction_snapshots), "reported compaction snapshots missing from main"
    # Proof of interleaving: a compaction committed, then the writer committed on top of it.
    assert compaction_before_a_writer_commit > 0, "every compaction committed after the last checkpoint"
    print(
        f"{len(chain)} snapshots read back: {len(writer_seen)} checkpoints, {len(compactions_seen)} compactions "
        f"({compaction_before_a_writer_commit} of them between checkpoints)"
    )

    # The current state, through the attached catalog and a fresh connection.
    assert_rows(duck_select(duck_factory(), f"c.{ns}.t"), models[CHECKPOINTS], "after the final compaction")
    if final.committed:
        assert current_snapshot(meta)["summary"].get("floe.operation") == "compaction", current_snapshot(meta)

    # ----------------------------------------------------------------------------------
    # What the final compaction left: no delete files, at most one small file per bucket.
    files = make_catalog(floe_url).load_table(table).inspect.files().to_pylist()
    deletes = [f for f in files if f["content"] != 0]
    assert deletes == [], f"delete files left after the final compaction: {[f['file_path'] for f in deletes]}"
    per_bucket = defaultdict(list)
    for f in files:
        per_bucket[f["partition"]["id_bucket"]].append(f)
    small = {b: [f["file_size_in_bytes"] for f in fs if f["file_size_in_bytes"] < 0.75 * TARGET] for b, fs in per_bucket.items()}
    assert all(len(sizes) <= 1 for sizes in small.values()), f"small data files per bucket: {small}"
    assert sum(f["record_count"] for f in files) == len(models[CHECKPOINTS]), "live rows != model rows"
    assert set(per_bucket) <= {0, 1, 2, 3}, sorted(per_bucket)

    # `floe table show` agrees.
    shown = run_floe("table", "show", "--catalog", floe_url, "--table", table)
    m = re.search(r"rows in data files (\d+), equality deletes (\d+), position deletes (\d+)", shown)
    assert m, shown[-3000:]
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (len(models[CHECKPOINTS]), 0, 0), m.group(0)
    m = re.search(r"live files \((\d+)\)", shown)
    assert m and int(m.group(1)) == len(files), shown[-3000:]
    assert "equality-deletes " not in shown.split("live files", 1)[1], shown[-3000:]
    assert "position-deletes " not in shown.split("live files", 1)[1], shown[-3000:]


def test_compact_refuses_bad_options(floe_url, http, unique_name, tmp_path):
    ns = unique_name("cmpbad")
    table = f"{ns}.t"
    stream = ChangeStream(3, key_space=50)
    for i in (1, 2, 3):
        path = write_parquet(tmp_path / f"cp{i}.parquet", stream.checkpoint(40))
        extra = ["--create", "--key", "id", "--buckets", "2"] if i == 1 else []
        floe_upsert(floe_url, table, [path], *extra)
    before = load_table(http, ns, "t")
    # There is something to compact, so a run that went ahead would change the table.
    plan = floe_compact(floe_url, table, "--target-file-size", "64KiB", "--min-input-files", "2", "--dry-run")
    assert plan.planned > 0, plan.out

    cases = [
        (["--option", "min-inputs=2"], ["min-inputs"]),
        (["--target-file-size", "12parsecs"], ["target-file-size", "12parsecs"]),
        (["--option", "min-input-files=two"], ["min-input-files", "two"]),
        (["--option", "delete-file-threshold"], ["delete-file-threshold"]),
    ]
    for args, named in cases:
        cmd = [str(floe_binary()), "compact", "--catalog", floe_url, "--table", table, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode != 0, f"{args}: exit code 0\n{r.stdout}\n{r.stderr}"
        for word in named:
            assert word in r.stderr, f"{args}: the error does not name {word!r}: {r.stderr!r}"
        assert "committed snapshot" not in r.stdout, r.stdout
        after = load_table(http, ns, "t")
        assert after["metadata-location"] == before["metadata-location"], f"{args} changed the table"
        assert after["metadata"]["snapshots"] == before["metadata"]["snapshots"]
