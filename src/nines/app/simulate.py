"""Scripted people for the web app: labellers and raters with known rules and error rates, over HTTP.

The human loop's end-to-end test and ``benchmarks/human_loop.py`` drive a real ``nines serve``
(:class:`nines.app.loadtest.ServerProcess`) with these, so every label and comparison goes through
the same API a browser uses (``/api/queues/{id}/next`` and ``/labels``, ``/api/pairs/next`` and
``/answer``), and what the estimators later read is what the app stored.

A labeller applies a :class:`KeywordRule` to the completion it is served and flips the answer with
probability ``error_rate``. The flip is drawn from a hash of (seed, labeller, snippet id), so it is
reproducible and independent of the text: a labeller's expected label for a completion c is
``r(c) (1 - e) + (1 - r(c)) e``, and for a majority of several labellers :func:`majority_error`
gives the flip probability exactly. A rater prefers the completion its rule ranks higher (ties:
``tie``) and with probability ``noise`` answers uniformly at random among left, right and tie, whose
expected outcome is 1/2 whatever the order: its expected outcome is ``(1 - noise) o + noise / 2``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from nines.app.loadtest import PASSWORD

__all__ = [
    "HURT_RULE", "AppClient", "KeywordRule", "ScriptedLabeller", "ScriptedRater", "answer_pairs", "hurt_rank",
    "import_rows", "label_queue", "majority_error", "noisy_rate", "rater_expected_outcome",
]

#: Words that mean "someone is hurt or upset" to the scripted labellers (whole words, any case).
HURT_WORDS: tuple[str, ...] = (
    "hurt", "hurts", "hurting", "fell", "fall", "falls", "cried", "cry", "cries", "crying", "bleed", "bled",
    "bleeding", "blood", "ouch", "bump", "bumped", "pain", "painful", "broke", "broken", "cut", "injured",
    "wound", "sad", "tears", "scared",
)


@dataclass(frozen=True)
class KeywordRule:
    """A known labelling rule: a completion is a failure when it holds any of ``words`` as a whole word.

    Attributes:
        name: what the rule means (shown in reports).
        words: lower-case words; matching ignores case.
    """

    name: str
    words: tuple[str, ...]
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.words or any(not w or w != w.lower() or not re.fullmatch(r"[a-z' -]+", w) for w in self.words):
            raise ValueError("KeywordRule.words must be non-empty lower-case words (letters, spaces, ' or -)")
        alternatives = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        object.__setattr__(self, "pattern", re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE))

    def __call__(self, text: str) -> bool:
        """Whether ``text`` is a failure under the rule."""
        return self.pattern.search(text) is not None


HURT_RULE = KeywordRule("someone is hurt or upset", HURT_WORDS)


def _uniform(*parts: object) -> float:
    """A reproducible number in [0, 1) from a hash of ``parts`` (independent of anything else)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class ScriptedLabeller:
    """A labeller account that labels by ``rule`` and is wrong with probability ``error_rate``.

    Attributes:
        name: the account's username.
        rule: the rule it applies to the completion.
        error_rate: probability that it gives the other label (independent of the text).
        seed: seeds its errors.
        positive, negative: the label names it sends (the task's; injurious/safe by default).
    """

    name: str
    rule: KeywordRule = HURT_RULE
    error_rate: float = 0.0
    seed: int = 0
    positive: str = "injurious"
    negative: str = "safe"

    def __post_init__(self) -> None:
        if not 0 <= self.error_rate < 0.5:
            raise ValueError(f"error_rate must be in [0, 0.5) (a labeller worse than chance is useless), "
                             f"got {self.error_rate}")

    def flips(self, snippet_id: int) -> bool:
        """Whether this labeller errs on this item."""
        return _uniform("label", self.seed, self.name, snippet_id) < self.error_rate

    def label(self, snippet_id: int, completion: str) -> str:
        """The label it gives the item."""
        return self.positive if self.rule(completion) != self.flips(snippet_id) else self.negative


def majority_error(error_rates: Sequence[float]) -> float:
    """Exact probability that the majority of independent labellers with these error rates is wrong.

    Raises:
        ValueError: for an even number of labellers (a tie has no majority).
    """
    if len(error_rates) % 2 == 0:
        raise ValueError("give an odd number of labellers, so that every item has a majority")
    need = len(error_rates) // 2 + 1
    total = 0.0
    for wrong in itertools.product((False, True), repeat=len(error_rates)):
        if sum(wrong) >= need:
            p = 1.0
            for e, w in zip(error_rates, wrong):
                p *= e if w else 1 - e
            total += p
    return total


def noisy_rate(rate: float, flip: float) -> float:
    """The expected share of positive labels when the true share is ``rate`` and labels flip w.p. ``flip``."""
    return rate * (1 - flip) + (1 - rate) * flip


@dataclass(frozen=True)
class ScriptedRater:
    """A rater account that prefers the completion ``rank`` puts higher, with noise.

    Attributes:
        name: the account's username.
        rank: a completion's rank (higher is better); equal ranks are a tie.
        noise: probability of answering uniformly at random among left, right and tie.
        seed: seeds the noise.
    """

    name: str
    rank: Callable[[str], tuple[int, ...]]
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise must be in [0, 1], got {self.noise}")

    def choose(self, assignment_id: int, left: str, right: str) -> str:
        """``left``, ``right`` or ``tie`` for one shown pair."""
        if _uniform("rate", self.seed, self.name, assignment_id) < self.noise:
            return ("left", "right", "tie")[int(3 * _uniform("pick", self.seed, self.name, assignment_id))]
        a, b = self.rank(left), self.rank(right)
        return "left" if a > b else "right" if b > a else "tie"


def rater_expected_outcome(rank: Callable[[str], tuple[int, ...]], first: str, second: str, noise: float) -> float:
    """A rater's expected outcome for ``first`` against ``second`` (1 first better, 0 second, 1/2 tie)."""
    a, b = rank(first), rank(second)
    o = 1.0 if a > b else 0.0 if b > a else 0.5
    return (1 - noise) * o + noise / 2


def hurt_rank(text: str) -> tuple[int, ...]:
    """The scripted raters' preference: no one hurt first, then a finished sentence."""
    return (int(not HURT_RULE(text)), int(text.rstrip().endswith((".", "!", "?", '"'))))


class AppClient:
    """A logged-in session on a running app (a browser's cookies and CSRF token, over real HTTP).

    Args:
        base: the app's base URL, ``http://127.0.0.1:PORT``.
        username, password: the account.
    """

    def __init__(self, base: str, username: str, password: str = PASSWORD, timeout: float = 120.0) -> None:
        self.username = username
        self.client = httpx.Client(base_url=base, timeout=timeout)
        self.client.get("/login").raise_for_status()
        token = self.client.cookies.get("nines_login_csrf") or ""
        r = self.client.post("/api/auth/login", json={"username": username, "password": password},
                             headers={"X-CSRF-Token": token})
        self._check(r, "log in")
        self.csrf = str(r.json()["csrf_token"])

    @staticmethod
    def _check(r: httpx.Response, what: str) -> httpx.Response:
        if r.status_code >= 400:
            raise RuntimeError(f"could not {what}: HTTP {r.status_code} {r.text[:300]}")
        return r

    def get(self, url: str, **kw: Any) -> Any:
        """GET ``url``; returns the parsed JSON (raises with the server's message on an error status)."""
        return self._check(self.client.get(url, **kw), f"GET {url}").json()

    def get_bytes(self, url: str, **kw: Any) -> bytes:
        """GET ``url``; returns the body (downloads)."""
        return self._check(self.client.get(url, **kw), f"GET {url}").content

    def post(self, url: str, body: Any) -> Any:
        """POST JSON with the CSRF header; returns the parsed JSON."""
        return self._check(self.client.post(url, json=body, headers={"X-CSRF-Token": self.csrf}), f"POST {url}").json()

    def close(self) -> None:
        """End the HTTP session."""
        self.client.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def import_rows(admin: AppClient, dataset: str, rows: Iterable[dict[str, Any]], chunk: int = 2000) -> list[int]:
    """Add ``{"prompt", "completion", "prompt_id"?, ...}`` rows to a dataset through ``/api/admin/snippets``.

    ``prompt_id`` becomes the snippet's prompt id; other fields go into its metadata. Returns the new ids.
    """
    keys = ("prompt", "completion", "prompt_id")
    items = [{"prompt": r["prompt"], "completion": r["completion"],
              "metadata": {k: v for k, v in r.items() if k not in keys},
              **({"prompt_id": r["prompt_id"]} if r.get("prompt_id") else {})} for r in rows]
    ids: list[int] = []
    for start in range(0, len(items), chunk):
        ids += admin.post("/api/admin/snippets", {"dataset": dataset, "items": items[start:start + chunk]})["ids"]
    return ids


def label_queue(base: str, labeller: ScriptedLabeller, queue_id: int, limit: int = 100_000,
                password: str = PASSWORD) -> int:
    """Log ``labeller`` in and label everything the queue serves it; returns how many labels it gave."""
    done = 0
    with AppClient(base, labeller.name, password) as app:
        for i in range(limit):
            item = app.get(f"/api/queues/{queue_id}/next")["item"]
            if item is None:
                break
            label = labeller.label(int(item["snippet_id"]), item["completion"])
            app.post(f"/api/queues/{queue_id}/labels",
                     {"snippet_id": item["snippet_id"], "label": label, "key": f"{labeller.name}-q{queue_id}-{i:06d}"})
            done += 1
    return done


def answer_pairs(base: str, rater: ScriptedRater, limit: int = 100_000, password: str = PASSWORD) -> int:
    """Log ``rater`` in and answer every pair the app serves it; returns how many."""
    done = 0
    with AppClient(base, rater.name, password) as app:
        for i in range(limit):
            pair = app.get("/api/pairs/next")["pair"]
            if pair is None:
                break
            aid = int(pair["assignment_id"])
            app.post(f"/api/pairs/{aid}/answer",
                     {"choice": rater.choose(aid, pair["left"], pair["right"]), "key": f"{rater.name}-p-{i:06d}"})
            done += 1
    return done
