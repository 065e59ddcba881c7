"""Drive a real ``nines serve`` process with many concurrent labellers (the load and crash tests).

Used by ``benchmarks/app_load.py`` and the fault test: start the server as a child process,
set up accounts and a queue through the API, then run labellers concurrently, recording the
latency of every request and which submissions the server acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "load-test-password"


class ServerProcess:
    """``nines serve`` in a child process (so it can be killed hard).

    Args:
        db: the store URL or SQLite path.
        port: the port on 127.0.0.1.
        log: file receiving the server's output.
    """

    def __init__(self, db: str, port: int, log: Path) -> None:
        self.db, self.port, self.log = db, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait until it answers."""
        env = {**os.environ, "NINES_PASSWORD": PASSWORD, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "nines.cli.main", "serve", "--db", self.db, "--port", str(self.port),
               "--runs", str(self.log.parent / "no-runs")]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight transactions are cut off."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def create_admin(db: str, name: str = "admin") -> None:
    """Create the admin account with :data:`PASSWORD` through the CLI (as an operator would)."""
    env = {**os.environ, "NINES_PASSWORD": PASSWORD}
    subprocess.run([sys.executable, "-m", "nines.cli.main", "user", "create", name, "--role", "admin", "--db", db],
                   check=True, env=env, capture_output=True)


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    """Log a client in the way a browser does; returns the session's CSRF token."""
    page = await client.get("/login")
    page.raise_for_status()
    token = client.cookies.get("nines_login_csrf") or ""
    r = await client.post("/api/auth/login", json={"username": name, "password": password},
                          headers={"X-CSRF-Token": token})
    r.raise_for_status()
    return str(r.json()["csrf_token"])


async def setup(base: str, labellers: int, items: int, admin: str = "admin") -> tuple[int, list[str]]:
    """Create the labellers, ``items`` snippets and a random queue; returns ``(queue id, names)``."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        csrf = {"X-CSRF-Token": await login(client, admin)}
        names = [f"labeller{i:03d}" for i in range(labellers)]
        for name in names:
            r = await client.post("/api/admin/users", json={"username": name, "password": PASSWORD,
                                                            "roles": ["labeller"]}, headers=csrf)
            r.raise_for_status()
        for start in range(0, items, 1000):
            chunk = [{"prompt": f"Story {i}: Tom walked to the river.", "completion": f"He saw fish number {i}."}
                     for i in range(start, min(items, start + 1000))]
            (await client.post("/api/admin/snippets", json={"dataset": "load", "items": chunk}, headers=csrf)
             ).raise_for_status()
        r = await client.post("/api/admin/queues", json={"name": "load", "dataset": "load", "strategy": "random"},
                              headers=csrf)
        r.raise_for_status()
        return int(r.json()["id"]), names


@dataclass
class LoadResult:
    """What a load run observed.

    Attributes:
        acked: ``(username, key, snippet_id, label)`` of every label the server answered 2xx to.
        statuses: count of each HTTP status seen.
        label_ms: latency of each label submission, milliseconds.
        next_ms: latency of each next-item request, milliseconds.
        errors: connection-level failures (e.g. the server was killed).
        seconds: wall time of the labelling phase.
    """

    acked: list[tuple[str, str, int, str]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    label_ms: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def _timed(result: LoadResult, sink: list[float], call: Any) -> httpx.Response:
    t0 = time.perf_counter()
    r: httpx.Response = await call
    sink.append((time.perf_counter() - t0) * 1000)
    result.statuses[r.status_code] += 1
    return r


async def labeller(base: str, name: str, queue_id: int, n: int, result: LoadResult,
                   on_ack: Callable[[], None] | None = None, tag: str = "load") -> None:
    """Log in, then label ``n`` items (next, then submit with a fresh key), recording everything."""
    labels = ("injurious", "safe", "unsure")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            headers = {"X-CSRF-Token": await login(client, name)}
            for i in range(n):
                r = await _timed(result, result.next_ms, client.get(f"/api/queues/{queue_id}/next"))
                item = r.json().get("item") if r.status_code == 200 else None
                if item is None:
                    return
                key = f"{name}-{tag}-{i:04d}"
                label = labels[(item["snippet_id"] + i) % 3]
                body = {"snippet_id": item["snippet_id"], "label": label, "key": key}
                r = await _timed(result, result.label_ms,
                                 client.post(f"/api/queues/{queue_id}/labels", json=body, headers=headers))
                if 200 <= r.status_code < 300:
                    result.acked.append((name, key, int(item["snippet_id"]), label))
                    if on_ack is not None:
                        on_ack()
    except httpx.HTTPError as e:
        result.errors.append(f"{name}: {type(e).__name__}: {e}")


async def run_load(base: str, names: Sequence[str], queue_id: int, per_labeller: int,
                   on_ack: Callable[[], None] | None = None, tag: str = "load") -> LoadResult:
    """Run every labeller concurrently; returns the observations.

    Args:
        tag: part of every idempotency key; use a new one for each run with the same labellers.
    """
    result = LoadResult()
    t0 = time.perf_counter()
    await asyncio.gather(*(labeller(base, n, queue_id, per_labeller, result, on_ack, tag) for n in names))
    result.seconds = time.perf_counter() - t0
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
