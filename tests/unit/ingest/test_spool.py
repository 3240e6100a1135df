"""The on-disk spool: order, commit, bounds, restart and a crash in the middle of an append."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.spool import Position, Spool, SpoolFull


def batch(i: int, n: int = 3) -> list[str]:
    return [f"station_reading,station=S{i} pm25={j}.5 {1_700_000_000 + 60 * j}" for j in range(n)]


def test_batches_replay_in_order_until_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=300)  # small segments: several files
    for i in range(10):
        spool.append(batch(i))
    replayed = list(spool.replay())
    assert [b.lines for b in replayed] == [batch(i) for i in range(10)]
    assert len(list(tmp_path.glob("spool-*.log"))) > 2
    spool.commit(replayed[5].end)
    assert [b.lines for b in spool.replay()] == [batch(i) for i in range(6, 10)]
    assert [b.lines for b in spool.replay(limit=2)] == [batch(6), batch(7)]
    # segments wholly committed are gone
    assert min(int(p.name[6:14]) for p in tmp_path.glob("spool-*.log")) == replayed[5].end.segment
    spool.commit(replayed[-1].end)
    assert list(spool.replay()) == [] and spool.pending_bytes() == 0


def test_spool_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(4):
        spool.append(batch(i))
    spool.commit(next(iter(spool.replay())).end)
    spool.close()
    reopened = Spool(tmp_path)
    assert [b.lines for b in reopened.replay()] == [batch(i) for i in range(1, 4)]
    reopened.append(batch(9))
    assert [b.lines for b in reopened.replay()][-1] == batch(9)


def test_full_spool_refuses_and_takes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=400)
    spool.append(batch(0))
    spool.append(batch(1))
    with pytest.raises(SpoolFull, match="of 400 bytes"):
        spool.append(batch(2, n=10))
    assert len(list(spool.replay())) == 2
    spool.commit(list(spool.replay())[-1].end)
    spool.append(batch(2, n=3))  # room again once drained
    assert [b.lines for b in spool.replay()] == [batch(2)]


def test_a_torn_tail_is_cut_and_later_appends_follow(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(batch(0))
    spool.append(batch(1))
    spool.close()
    segment = next(tmp_path.glob("spool-*.log"))
    with open(segment, "ab") as handle:  # a crash after writing half a record
        handle.write(b"\x00\x00\x01\x00garbage")
    reopened = Spool(tmp_path)
    assert [b.lines for b in reopened.replay()] == [batch(0), batch(1)]
    reopened.append(batch(2))
    assert [b.lines for b in reopened.replay()] == [batch(0), batch(1), batch(2)]


def test_sigkill_while_appending_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    """A child appends batches and prints each one's number once append() returned (durable:
    the moment the collector would acknowledge). SIGKILL it mid-stream: every printed batch
    must replay, in order, and nothing else but possibly the one being written."""
    script = textwrap.dedent(f"""
        import sys
        from ingest.spool import Spool
        spool = Spool({str(tmp_path)!r}, segment_bytes=50_000)
        i = 0
        while True:
            spool.append([f"m,k=v f={{i}}i {{1_700_000_000 + i}}"] * 20)
            print(i, flush=True)
            i += 1
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[3])
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    rest = child.stdout.read().split()
    acknowledged = int(rest[-1]) if rest else acknowledged
    replayed = [int(b.lines[0].split("f=")[1].split("i")[0]) for b in Spool(tmp_path).replay()]
    assert replayed[:acknowledged + 1] == list(range(acknowledged + 1))
    assert len(replayed) in (acknowledged + 1, acknowledged + 2)
    print(f"SIGKILL after {acknowledged + 1} acknowledged batches: {len(replayed)} replayed")


def test_position_orders_by_segment_then_offset() -> None:
    assert Position(1, 900) < Position(2, 0) < Position(2, 10)
