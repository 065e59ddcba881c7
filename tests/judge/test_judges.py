"""Pairwise judges: StoryWorld Bradley-Terry, recorded human comparisons, and an LLM judge over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nines.generate.base import Completion
from nines.judge import (
    LLMJudge,
    PairwiseJudge,
    RecordedJudge,
    StoryWorldJudge,
    UnknownPairError,
    parse_verdict,
)
from nines.storyworld import StoryWorld

# ---- StoryWorldJudge ---------------------------------------------------------------------------


def test_storyworld_judge_follows_bradley_terry() -> None:
    judge = StoryWorldJudge(noise=0.1, seed=1)
    assert isinstance(judge, PairwiseJudge)
    n = 20_000
    good = [Completion("good", meta={"quality": 1.0})] * n
    bad = [{"quality": 0.9, "text": "bad"}] * n
    out = judge.compare_completions(["p"] * n, good, bad)
    expected = 1 / (1 + np.exp(-1.0))
    assert abs(out.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert judge.calls == n
    # antisymmetric: swapping gives 1 - p
    assert abs(judge.compare(["p"] * n, bad, good).mean() - (1 - expected)) < 0.02


def test_storyworld_judge_ties_and_quality_sources() -> None:
    judge = StoryWorldJudge(noise=0.1, tie_margin=0.05, quality_fn=lambda p, t: float(len(t)) / 10)
    out = judge.compare(["p"] * 3, [{"quality": 1.0}, "abcdefghij", {"meta": {"quality": 0.45}}],
                        [{"quality": 0.98}, "abcdefghij", {"quality": 0.45}])
    assert out.tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match="quality_fn"):
        StoryWorldJudge().compare(["p"], ["text"], ["other"])
    with pytest.raises(ValueError, match="noise"):
        StoryWorldJudge(noise=0)
    with pytest.raises(ValueError, match="one first and one second"):
        StoryWorldJudge().compare(["p", "q"], [{"quality": 1}], [{"quality": 1}])


def test_storyworld_judge_prefers_coherent_storyworld_completions() -> None:
    world = StoryWorld(seed=0, incoherent_rate=0.5)
    prompts = world.sample_prompts(400, seed=3)
    comps = world.generator().generate(prompts, n=2, seed=4)
    first, second = [c[0] for c in comps], [c[1] for c in comps]
    out = StoryWorldJudge(noise=0.05, seed=0).compare_completions(prompts, first, second)
    dq = np.array([a.meta["quality"] - b.meta["quality"] for a, b in zip(first, second)])
    assert out[dq > 0.3].mean() > 0.95 and out[dq < -0.3].mean() < 0.05


# ---- RecordedJudge -----------------------------------------------------------------------------


def test_recorded_judge_replays_both_orders_and_rejects_unknown(tmp_path: Path) -> None:
    path = tmp_path / "cmp.jsonl"
    rows = [
        {"prompt": "P", "first": "x", "second": "y", "outcome": 1},
        {"prompt": "P", "first": "x", "second": "y", "outcome": "tie"},
        {"prompt": "Q", "first": "a", "second": "b", "outcome": 0.0},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    judge = RecordedJudge(path)
    assert len(judge) == 3
    assert judge.compare(["P", "P", "Q"], ["x", "y", Completion("b")], ["y", "x", {"text": "a"}]).tolist() == [
        1.0, 0.5, 1.0,
    ]
    assert judge.calls == 3
    with pytest.raises(UnknownPairError, match="no recorded comparison"):
        judge.compare(["P"], ["x"], ["z"])


def test_recorded_judge_reports_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "P", "first": "x", "second": "y", "outcome": 1}\n{"prompt": "P"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        RecordedJudge(path)
    path.write_text('{"prompt": "P", "first": "x", "second": "y", "outcome": 0.7}\n')
    with pytest.raises(ValueError, match="outcome must be"):
        RecordedJudge(path)


# ---- LLMJudge over real HTTP --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [("A", "A"), ("b.", "B"), ("**B** because", "B"), ("Tie", "tie"), ("Answer: a", "A"),
     ("  TIE!", "tie"), ("I think A", None), ("", None), ("Both are fine", "tie"), ("C", None)],
)
def test_parse_verdict(answer: str, verdict: str | None) -> None:
    assert parse_verdict(answer) == verdict


def fake_chat_app(state: dict) -> FastAPI:
    """A chat server that prefers the continuation containing 'MARKER', is position-biased to 'A'
    otherwise, rambles when asked about 'confusing', and fails the very first request with 503."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        state["requests"] += 1
        if state["requests"] == 1:
            return JSONResponse({"error": {"message": "warming up"}}, status_code=503)
        user = body["messages"][-1]["content"]
        m = re.search(r"Continuation A:(.*?)\n\nContinuation B:(.*?)\n\nWhich", user, re.S)
        assert m is not None and body["model"] == "judge-1"
        a, b = m.group(1), m.group(2)
        if "confusing" in user:
            answer = "Well, it depends on the reader."
        elif "MARKER" in a and "MARKER" not in b:
            answer = "A"
        elif "MARKER" in b and "MARKER" not in a:
            answer = "b"
        else:
            answer = "A"  # position bias
        return JSONResponse({"choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": "stop"}]})

    return app


def test_llm_judge_over_http_undoes_swaps_and_counts_unparsed(live_server) -> None:
    state = {"requests": 0}
    with live_server(fake_chat_app(state)) as srv:
        judge = LLMJudge(f"http://127.0.0.1:{srv.port}", "judge-1", api_key="k", backoff_s=0.01, seed=3)
        n = 60
        first = [" she smiled MARKER" if i % 2 == 0 else " plain" for i in range(n)]
        second = [" plain" if i % 2 == 0 else " he left MARKER" for i in range(n)]
        out = judge.compare(["Once upon a time."] * n, first, second)
        same = judge.compare(["Once."] * 200, [" x"] * 200, [" y"] * 200)
        confused = judge.compare(["A confusing story."] * 4, [" x"] * 4, [" y"] * 4)
    assert out.tolist() == [1.0 if i % 2 == 0 else 0.0 for i in range(n)]  # regardless of presentation order
    assert 0 < judge.swaps < 264
    # position bias ('A' whenever undecided) is cancelled by random order: about half wins
    assert 0.4 < same.mean() < 0.6
    assert confused.tolist() == [0.5] * 4 and judge.unparsed == 4
    assert judge.calls == n + 204
    assert state["requests"] == n + 204 + 1  # one retried 503


def test_llm_judge_bad_arguments() -> None:
    with pytest.raises(ValueError, match="base_url"):
        LLMJudge("localhost:8000", "m")
    with pytest.raises(ValueError, match="template must contain"):
        LLMJudge("http://127.0.0.1:1/v1", "m", template="no placeholders")
