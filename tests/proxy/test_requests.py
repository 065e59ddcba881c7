"""Bad requests get a 4xx with a message in OpenAI's error shape; auth, limits, rendering, chunking."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from proxy_helpers import HashClassifier

from nines.filter import FilterConfig
from nines.generate.base import Completion
from nines.proxy.chat import render_messages
from nines.proxy.config import ProxyConfig
from nines.proxy.streaming import chunk_text


class EchoGenerator:
    name = "echo"

    def generate(self, prompts: Sequence[str], n: int = 1, seed: int | None = None) -> list[list[Completion]]:
        return [[Completion(f" {p} again {j}.") for j in range(n)] for p in prompts]


@pytest.fixture
def srv(proxy_server):
    cfg = ProxyConfig(api_key="sekrit", max_n=4, max_tokens=64, max_prompts=3, max_body_bytes=2000)
    with proxy_server(HashClassifier(threshold=1.0), FilterConfig(max_attempts=2), cfg, generator=EchoGenerator()) as s:
        yield s


def post(srv, path: str, body=None, key: str | None = "sekrit", raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if raw is not None:
        headers["content-type"] = "application/json"
        return httpx.post(f"{srv.url}{path}", content=raw, headers=headers)
    return httpx.post(f"{srv.url}{path}", json=body, headers=headers)


BAD = [
    ("/completions", {"prompt": "x", "n": 5}, 400, "n=5 exceeds this proxy's limit of 4"),
    ("/completions", {"prompt": "x", "n": 0}, 400, "n: Input should be greater than or equal to 1"),
    ("/completions", {"prompt": "x", "max_tokens": 65}, 400, "max_tokens=65 exceeds this proxy's limit of 64"),
    ("/completions", {"prompt": ["a", "b", "c", "d"]}, 400, "4 prompts exceed this proxy's limit of 3"),
    ("/completions", {"prompt": []}, 400, "non-empty list"),
    ("/completions", {"prompt": [1, 2, 3]}, 400, "token-id prompts are not supported"),
    ("/completions", {}, 400, "prompt: Field required"),
    ("/completions", {"prompt": "x", "logprobs": 1}, 400, "logprobs is not supported"),
    ("/completions", {"prompt": "x", "temperature": -1}, 400, "temperature"),
    ("/completions", {"prompt": "x", "model": "gpt-9"}, 404, "The model 'gpt-9' does not exist"),
    ("/chat/completions", {"messages": []}, 400, "messages must be a non-empty list"),
    ("/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role must be"),
    ("/chat/completions", {"messages": [{"role": "system", "content": "x"}]}, 200, ""),
    ("/chat/completions", {"messages": "hi"}, 400, "messages: Input should be a valid list"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 100}, 400,
     "max_tokens=100 exceeds"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD)
def test_bad_requests_get_4xx_with_message(srv, path: str, body: dict, status: int, message: str) -> None:
    r = post(srv, path, body)
    assert r.status_code == status, r.text
    if status != 200:
        err = r.json()["error"]
        assert message in err["message"] and err["code"] == status and err["type"]


def test_malformed_json_oversized_body_and_unknown_route(srv) -> None:
    r = post(srv, "/completions", raw=b"{not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = post(srv, "/completions", raw=b'{"prompt": "' + b"x" * 3000 + b'"}')
    assert r.status_code == 413 and "limit of 2000" in r.json()["error"]["message"]
    r = httpx.get(f"{srv.url}/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["message"]


def test_bearer_auth(srv) -> None:
    assert post(srv, "/completions", {"prompt": "x"}, key=None).status_code == 401
    r = post(srv, "/completions", {"prompt": "x"}, key="wrong")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert httpx.get(f"{srv.url}/models").status_code == 401
    ok = post(srv, "/completions", {"prompt": "x", "n": 2})
    assert ok.status_code == 200 and [c["text"] for c in ok.json()["choices"]] == [" x again 0."] * 2  # each choice is its own filtered sample
    base = f"http://127.0.0.1:{srv.port}"
    assert httpx.get(f"{base}/health").json()["status"] == "ok"  # open, for load balancers
    assert "nines_proxy_requests_total" in httpx.get(f"{base}/metrics").text


def test_render_messages_rules() -> None:
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"},
            {"role": "assistant", "content": [{"type": "text", "text": "a1"}, {"type": "image_url"}]},
            {"role": "user", "content": "u2"}]
    assert render_messages(msgs, "joined") == "u1\na1\nu2"
    assert render_messages(msgs, "last_user") == "u2"
    assert render_messages(msgs, "transcript") == "system: sys\nuser: u1\nassistant: a1\nuser: u2"
    with pytest.raises(ValueError, match="no user message"):
        render_messages(msgs[:1], "last_user")
    with pytest.raises(ValueError, match="unknown chat prompt rule"):
        render_messages(msgs, "first")


@pytest.mark.parametrize("text", ["", "one", " The troll swung.  Mara ducked,\nand ran away fast.", "x" * 50])
def test_chunks_join_back_to_the_text(text: str) -> None:
    chunks = chunk_text(text, 8)
    assert "".join(chunks) == text
    assert all(chunks)


def test_config_validation() -> None:
    assert ProxyConfig(upstream="http://h:1").upstream == "http://h:1/v1"
    for kwargs, match in [({"upstream": "h:1"}, "upstream must look like"), ({"max_n": 0}, "max_n must be"),
                          ({"chat_prompt": "all"}, "chat_prompt must be one of"),
                          ({"timeout_s": 0}, "timeout_s must be > 0")]:
        with pytest.raises(ValueError, match=match):
            ProxyConfig(**kwargs)
