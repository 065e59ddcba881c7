"""Load test of the labelling app: 50 concurrent labellers x 40 labels against a real server on loopback.

Starts ``nines serve`` as a child process on a fresh store, creates the labellers and 2,000
snippets through the API, then every labeller logs in and labels 40 items concurrently
(``GET next`` then ``POST label``). Checks that exactly labellers x labels labels are stored,
every submission has its label row, and no request got a 5xx. Prints throughput and latencies.

Run: ``.venv/bin/python benchmarks/app_load.py`` (about a minute on 2 cores), or with
``--db postgresql://user:pass@127.0.0.1/db`` against PostgreSQL (the database must be empty).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from nines.app import schema as t
from nines.app.loadtest import LoadResult, ServerProcess, create_admin, percentile, run_load, setup
from nines.data.store import make_engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stored(db: str) -> dict[str, int]:
    """Counts straight from the database: labels, live submissions, submissions without a label row."""
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            s, lt = t.submissions, t.labels_table
            live = s.c.undone_at.is_(None)
            orphan = sa.select(sa.func.count()).select_from(s.outerjoin(lt, lt.c.id == s.c.label_id)).where(
                live, lt.c.id.is_(None))
            return {
                "labels": int(conn.execute(sa.select(sa.func.count()).select_from(lt)).scalar_one()),
                "submissions": int(conn.execute(sa.select(sa.func.count()).where(live)).scalar_one()),
                "without_label_row": int(conn.execute(orphan).scalar_one()),
                "items_labelled": int(conn.execute(sa.select(sa.func.count(sa.distinct(s.c.snippet_id)))).scalar_one()),
            }
    finally:
        engine.dispose()


def _table(res: LoadResult, stored: dict[str, int], labellers: int, per: int, setup_s: float) -> str:
    n5xx = sum(v for k, v in res.statuses.items() if k >= 500)
    rows = [
        ("labellers x labels each", f"{labellers} x {per}"),
        ("labels acknowledged (2xx)", f"{len(res.acked)}"),
        ("labels stored", f"{stored['labels']}"),
        ("distinct items labelled", f"{stored['items_labelled']}"),
        ("submissions without a label row", f"{stored['without_label_row']}"),
        ("5xx responses", f"{n5xx}"),
        ("other non-2xx", f"{sum(v for k, v in res.statuses.items() if k >= 300 and k < 500)}"),
        ("connection errors", f"{len(res.errors)}"),
        ("setup (accounts, snippets, queue)", f"{setup_s:.1f} s"),
        ("labelling wall time", f"{res.seconds:.1f} s"),
        ("throughput", f"{len(res.acked) / res.seconds:.1f} labels/s"),
        ("POST label latency p50 / p95", f"{percentile(res.label_ms, 50):.0f} / {percentile(res.label_ms, 95):.0f} ms"),
        ("GET next latency p50 / p95", f"{percentile(res.next_ms, 50):.0f} / {percentile(res.next_ms, 95):.0f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labellers", type=int, default=50)
    ap.add_argument("--labels", type=int, default=40, help="labels per labeller")
    ap.add_argument("--db", default=None, help="store URL (default: a fresh SQLite file in a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "load.db")
        create_admin(db)
        server = ServerProcess(db, _free_port(), Path(tmp) / "server.log").start()
        try:
            t0 = time.perf_counter()
            queue_id, names = asyncio.run(setup(server.base, args.labellers, args.labellers * args.labels))
            setup_s = time.perf_counter() - t0
            res = asyncio.run(run_load(server.base, names, queue_id, args.labels))
        finally:
            server.stop()
        stored = _stored(db)
        print(f"nines app load test ({'PostgreSQL' if db.startswith('postgres') else 'SQLite'}, "
              "one uvicorn process on 127.0.0.1)")
        print(_table(res, stored, args.labellers, args.labels, setup_s))
        want = args.labellers * args.labels
        ok = (stored["labels"] == stored["submissions"] == len(res.acked) == want
              and stored["without_label_row"] == 0 and not any(k >= 500 for k in res.statuses) and not res.errors)
        print("PASS" if ok else f"FAIL: expected exactly {want} labels, no 5xx, no errors")
        for e in res.errors[:5]:
            print("  error:", e)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
