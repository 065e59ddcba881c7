"""The official `openai` client against the proxy, in front of a real `nines serve-model` process."""

from __future__ import annotations

from pathlib import Path

import pytest
from proxy_helpers import HashClassifier, NinesProcess

from nines.filter import FilterConfig
from nines.proxy.config import REFUSED_FINISH_REASON, ProxyConfig

openai = pytest.importorskip("openai", reason="the openai client is in the dev extra: pip install -e '.[dev]'")


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def check_nines(choice, clf: HashClassifier, prompt: str) -> dict:
    """The ``nines`` record of a choice, checked against an independent re-score of its text."""
    rec = choice.model_extra["nines"]
    assert rec["attempts"] >= 1 and len(rec["scores"]) == rec["attempts"]
    if rec["rule"] == "fallback_refuse":
        assert choice.finish_reason == REFUSED_FINISH_REASON
        assert all(s > rec["threshold"] for s in rec["scores"])
    else:
        text = choice.text if hasattr(choice, "text") else choice.message.content
        assert rec["score"] == pytest.approx(clf.score_one(prompt, text))
        if rec["rule"] == "accepted":
            assert rec["score"] <= rec["threshold"]
    return rec


def test_completions_n_and_models(hf_upstream: NinesProcess, proxy_server) -> None:
    clf = HashClassifier()
    with proxy_server(clf, FilterConfig(max_attempts=8), ProxyConfig(upstream=hf_upstream.url)) as srv:
        c = client(srv.url)
        assert [m.id for m in c.models.list().data] == ["tiny"]
        out = c.completions.create(model="tiny", prompt=["the cat", "a dog"], n=3, max_tokens=8, seed=1)
    assert [ch.index for ch in out.choices] == list(range(6))
    rules = [check_nines(ch, clf, ["the cat", "a dog"][ch.index // 3])["rule"] for ch in out.choices]
    assert "accepted" in rules  # P(refuse) per choice is 2**-8


def test_chat_renders_the_conversation_for_the_classifier(hf_upstream: NinesProcess, proxy_server) -> None:
    clf = HashClassifier()
    messages = [{"role": "system", "content": "Write fiction."}, {"role": "user", "content": "the dog sat"},
                {"role": "assistant", "content": "on the mat."}, {"role": "user", "content": "then it"}]
    with proxy_server(clf, FilterConfig(strategy="batch_first", batch_size=2, max_attempts=8),
                      ProxyConfig(upstream=hf_upstream.url)) as srv:
        out = client(srv.url).chat.completions.create(model="tiny", messages=messages, n=2, max_tokens=8)
    assert out.object == "chat.completion" and len(out.choices) == 2
    for ch in out.choices:
        assert ch.message.role == "assistant"
        # "joined": user and assistant contents, newline-separated, system left out
        check_nines(ch, clf, "the dog sat\non the mat.\nthen it")


def test_streaming_sends_only_the_accepted_text(hf_upstream: NinesProcess, proxy_server) -> None:
    clf = HashClassifier()
    cfg = FilterConfig(max_attempts=6, fallback="refuse")
    with proxy_server(clf, cfg, ProxyConfig(upstream=hf_upstream.url, stream_chunk_chars=4)) as srv:
        c = client(srv.url)
        chunks = list(c.completions.create(model="tiny", prompt="the cat", n=2, max_tokens=10, stream=True, seed=3))
        chat_chunks = list(c.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "a dog ran"}], max_tokens=10, stream=True, seed=4))
    texts: dict[int, str] = {0: "", 1: ""}
    finals = {}
    for ch in chunks:
        for choice in ch.choices:
            texts[choice.index] += choice.text
            if choice.finish_reason is not None:
                finals[choice.index] = choice
    assert sorted(finals) == [0, 1]
    for i, final in finals.items():
        rec = final.model_extra["nines"]
        if rec["rule"] == "accepted":
            assert clf.score_one("the cat", texts[i]) <= rec["threshold"]  # the streamed text is what was judged
        else:
            assert texts[i] == "" and final.finish_reason == REFUSED_FINISH_REASON
    content = "".join(ch.choices[0].delta.content or "" for ch in chat_chunks if ch.choices)
    last = [ch for ch in chat_chunks if ch.choices and ch.choices[0].finish_reason][-1].choices[0]
    if last.model_extra["nines"]["rule"] == "accepted":
        assert clf.score_one("a dog ran", content) <= last.model_extra["nines"]["threshold"]
    else:
        assert content == ""


def test_refusal_is_a_normal_choice(hf_upstream: NinesProcess, proxy_server) -> None:
    clf = HashClassifier(threshold=0.0)  # rejects everything
    with proxy_server(clf, FilterConfig(max_attempts=3), ProxyConfig(upstream=hf_upstream.url)) as srv:
        out = client(srv.url).completions.create(model="tiny", prompt="the cat", max_tokens=5)
        chat = client(srv.url).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "the cat"}])
    ch = out.choices[0]
    assert ch.text == "" and ch.finish_reason == "content_filter"
    assert ch.model_extra["nines"]["rule"] == "fallback_refuse" and ch.model_extra["nines"]["attempts"] == 3
    assert len(set(ch.model_extra["nines"]["scores"])) > 1  # no request seed, still a fresh sample each round
    assert chat.choices[0].finish_reason == "content_filter" and chat.choices[0].message.refusal


def test_safest_fallback_is_flagged(hf_upstream: NinesProcess, proxy_server) -> None:
    clf = HashClassifier(threshold=0.0)
    cfg = FilterConfig(strategy="batch_safest", batch_size=2, max_attempts=4, fallback="safest")
    with proxy_server(clf, cfg, ProxyConfig(upstream=hf_upstream.url)) as srv:
        out = client(srv.url).completions.create(model="tiny", prompt="a dog", max_tokens=6)
    rec = out.choices[0].model_extra["nines"]
    assert rec["rule"] == "fallback_safest" and rec["accepted"] is False
    assert rec["score"] == pytest.approx(min(rec["scores"]))


@pytest.mark.shared
def test_stories260k_upstream(shared_dir: Path, proxy_server) -> None:
    model = shared_dir / "models" / "stories260K"
    if not model.is_dir():
        pytest.skip(f"{model} is absent")
    clf = HashClassifier()
    with NinesProcess(["serve-model", "--generator", f"llama2c:{model}", "--model-name", "stories"]) as up, \
            proxy_server(clf, FilterConfig(max_attempts=8), ProxyConfig(upstream=up.url)) as srv:
        c = client(srv.url)
        out = c.completions.create(model="stories", prompt="Once upon a time", n=2, max_tokens=30, seed=0)
        chat = c.chat.completions.create(model="stories", messages=[{"role": "user", "content": "One day, Lily"}],
                                         max_tokens=30)
    for ch in out.choices:
        rec = check_nines(ch, clf, "Once upon a time")
        if rec["rule"] == "accepted":
            assert any(w.isalpha() for w in ch.text.split())  # real English-ish words from a real model
    check_nines(chat.choices[0], clf, "One day, Lily")


def test_serve_model_samples_afresh_without_a_seed(hf_upstream: NinesProcess) -> None:
    c = client(hf_upstream.url)
    texts = {c.completions.create(model="tiny", prompt="the cat", max_tokens=8).choices[0].text for _ in range(4)}
    seeded = {c.completions.create(model="tiny", prompt="the cat", max_tokens=8, seed=3).choices[0].text
              for _ in range(2)}
    assert len(texts) > 1 and len(seeded) == 1
