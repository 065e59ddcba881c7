"""Helpers for the proxy tests: a deterministic classifier and real `nines` server processes."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import httpx
import numpy as np


class HashClassifier:
    """A deterministic pseudo-random score in [0, 1) per (prompt, completion): about half pass 0.5.

    ``delay_s`` makes every call slow (to test that scoring does not block the event loop).
    """

    def __init__(self, threshold: float = 0.5, delay_s: float = 0.0) -> None:
        self.threshold = threshold
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    @staticmethod
    def score_one(prompt: str, completion: str) -> float:
        digest = hashlib.sha256(f"{prompt}\x00{completion}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        return np.array([self.score_one(p, c) for p, c in zip(prompts, completions)], dtype=np.float64)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


class NinesProcess:
    """A `nines <verb> ... --port P` subprocess, waited on until its health URL answers."""

    def __init__(self, args: list[str], port: int | None = None, health: str = "/health") -> None:
        self.port = port or free_port()
        self.args = [sys.executable, "-m", "nines", *args, "--host", "127.0.0.1", "--port", str(self.port)]
        self.health = health
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 120.0) -> NinesProcess:
        self.proc = subprocess.Popen(self.args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"{' '.join(self.args)} exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{self.health}", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"{' '.join(self.args)} did not answer within {timeout_s} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> NinesProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


