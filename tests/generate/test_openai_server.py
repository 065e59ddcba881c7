"""OpenAI-compatible server and client, talking over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from nines.generate.base import Completion, Generator
from nines.generate.hf import HFGenerator
from nines.generate.openai_compat import OpenAICompatError, OpenAICompletionsGenerator, OpenAIGeneratorConfig
from nines.generate.server import create_app


class EchoGenerator:
    """Deterministic generator with only a total logprob (no per-token data)."""

    name = "echo"

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        return [
            [Completion(text=f" {p}-{j}\nmore", logprob=-float(j + 1)) for j in range(n)] for p in prompts
        ]


def client_for(url: str, model: str, **kwargs) -> OpenAICompletionsGenerator:
    return OpenAICompletionsGenerator(OpenAIGeneratorConfig(base_url=url, model=model, api_key="x", **kwargs))


def test_hf_through_server_matches_direct_generation(tiny_generator: HFGenerator, live_server) -> None:
    prompts = ["the cat", "a big dog ran on the", "it"]
    with live_server(create_app(tiny_generator, "tiny")) as srv:
        client = client_for(srv.url, "tiny", max_tokens=12, stop=["mat"], batch_size=2)
        assert client.name == "openai:tiny"
        got = client.generate(prompts, n=3, seed=5)
        models = httpx.get(f"{srv.url}/models").json()
    assert models["data"][0]["id"] == "tiny"
    assert [len(g) for g in got] == [3, 3, 3]
    # the client sends seed + batch index; batches of 2 prompts
    direct = tiny_generator.with_options(max_new_tokens=12, stop=("mat",))
    expected = direct.generate(prompts[:2], n=3, seed=5) + direct.generate(prompts[2:], n=3, seed=6)
    for g_got, g_exp in zip(got, expected):
        for a, b in zip(g_got, g_exp):
            assert a.text == b.text
            assert a.logprob == pytest.approx(b.logprob, abs=1e-9)
            assert a.meta["token_logprobs"] == pytest.approx(b.meta["token_logprobs"])


def test_pseudo_token_logprobs_stop_and_ordering(live_server) -> None:
    with live_server(create_app(EchoGenerator(), "echo")) as srv:
        got = client_for(srv.url, "echo", batch_size=3, concurrency=2).generate(["a", "b", "c", "d"], n=2)
        raw = httpx.post(f"{srv.url}/completions", json={"prompt": "z", "n": 2, "logprobs": 1}).json()
        no_lp = httpx.post(f"{srv.url}/completions", json={"prompt": ["z"]}).json()
    # stop='\n' (client default) is applied by the server; the cut text's logprob is unknown
    assert [[c.text for c in g] for g in got] == [[f" {p}-0", f" {p}-1"] for p in "abcd"]
    assert all(c.logprob is None for g in got for c in g)
    assert raw["object"] == "text_completion" and raw["model"] == "echo"
    assert [ch["index"] for ch in raw["choices"]] == [0, 1]
    assert raw["choices"][1]["logprobs"]["tokens"] == [" z-1\nmore"]
    assert raw["choices"][1]["logprobs"]["token_logprobs"] == [-2.0]
    assert no_lp["choices"][0]["logprobs"] is None
    assert set(raw["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"prompt": "x", "n": 0}, 422, "n"),
        ({"n": 2}, 422, "prompt"),
        ({"prompt": [], "n": 1}, 400, "non-empty"),
        ({"prompt": "x", "temperature": -1}, 422, "temperature"),
        ({"prompt": "x", "model": "other"}, 404, "does not exist"),
        ({"prompt": [1, 2]}, 422, "prompt"),
    ],
)
def test_bad_requests_get_4xx_with_message(
    tiny_generator: HFGenerator, live_server, body, status, needle
) -> None:
    with live_server(create_app(tiny_generator, "tiny")) as srv:
        resp = httpx.post(f"{srv.url}/completions", json=body)
        bad_json = httpx.post(
            f"{srv.url}/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code == status, resp.text
    assert needle in resp.json()["error"]["message"]
    assert bad_json.status_code == 422


def test_client_reports_server_message_on_4xx(tiny_generator: HFGenerator, live_server) -> None:
    with (
        live_server(create_app(tiny_generator, "tiny")) as srv,
        pytest.raises(OpenAICompatError, match=r"HTTP 404.*does not exist"),
    ):
        client_for(srv.url, "wrong-name", max_retries=0).generate(["the cat"])


def flaky_app(fail_first: int) -> tuple[FastAPI, list[dict]]:
    """Fails the first ``fail_first`` calls with 503, then answers with choices in reverse order."""
    app, calls = FastAPI(), []

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await request.json()
        calls.append(body)
        if len(calls) <= fail_first:
            return JSONResponse(status_code=503, content={"error": {"message": "warming up"}})
        prompts, n = body["prompt"], body["n"]
        choices = [
            {
                "index": i * n + j,
                "text": f"{p}/{j}",
                "logprobs": {"tokens": ["t", "u"], "token_logprobs": [-0.5, -0.25 * j]},
                "finish_reason": "length",
            }
            for i, p in enumerate(prompts)
            for j in range(n)
        ]
        return {"choices": choices[::-1]}

    return app, calls


def test_retries_on_503_and_orders_by_index(live_server) -> None:
    app, calls = flaky_app(fail_first=1)
    with live_server(app) as srv:
        got = client_for(srv.url, "m", backoff_s=0.01).generate(["p", "q"], n=3, seed=9)
    assert len(calls) == 2
    assert calls[1]["logprobs"] == 1 and calls[1]["seed"] == 9 and calls[1]["stop"] == ["\n"]
    assert [[c.text for c in g] for g in got] == [["p/0", "p/1", "p/2"], ["q/0", "q/1", "q/2"]]
    assert got[0][2].logprob == pytest.approx(-1.0)


def test_gives_up_after_max_retries(live_server) -> None:
    app, calls = flaky_app(fail_first=100)
    with live_server(app) as srv, pytest.raises(OpenAICompatError, match="after 3 attempts.*warming up"):
        client_for(srv.url, "m", backoff_s=0.0, max_retries=2).generate(["p"])
    assert len(calls) == 3


def test_connection_error_is_retried_then_reported(free_tcp_port: int) -> None:
    client = client_for(f"http://127.0.0.1:{free_tcp_port}/v1", "m", backoff_s=0.0, max_retries=1)
    with pytest.raises(OpenAICompatError, match="connection error"):
        client.generate(["p"])


def test_config_defaults_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cfg = OpenAIGeneratorConfig(base_url="http://localhost:8000", model="m")
    assert cfg.api_key == "sk-test" and cfg.base_url == "http://localhost:8000/v1" and cfg.stop == ["\n"]
    with pytest.raises(ValueError, match="base_url"):
        OpenAIGeneratorConfig(base_url="localhost:8000", model="m")
    with pytest.raises(ValueError, match="top_p"):
        OpenAIGeneratorConfig(base_url="http://h/v1", model="m", top_p=0)


def test_echo_is_a_generator() -> None:
    assert isinstance(EchoGenerator(), Generator)


def test_prompt_ids_travel_over_http_to_a_storyworld_backend(live_server) -> None:
    from nines.storyworld import StoryWorld

    world = StoryWorld()
    prompts = world.sample_prompts(5, seed=4)
    direct = world.generator().generate(prompts, n=2, seed=9)
    with live_server(create_app(world.generator(), "storyworld")) as srv:
        client = client_for(srv.url, "storyworld", send_prompt_ids=True, batch_size=8, stop=[])
        got = client.generate(prompts, n=2, seed=9)
        # Without ids the server only has text, and StoryWorld says what to pass instead.
        plain = httpx.post(f"{srv.url}/completions", json={"prompt": [prompts[0].text]})
        bad = httpx.post(f"{srv.url}/completions", json={"prompt": ["a", "b"], "prompt_ids": ["x"]})
    assert [[c.text for c in g] for g in got] == [[c.text for c in g] for g in direct]
    assert plain.status_code == 400 and "Pass those Prompt objects" in plain.json()["error"]["message"]
    assert bad.status_code == 400 and "one non-empty id per prompt" in bad.json()["error"]["message"]
    assert "prompt_ids" not in client_for("http://x", "m")._payload(prompts[:1], 1, None)  # off by default
