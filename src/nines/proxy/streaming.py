"""Server-sent events in OpenAI's streaming format, for text the classifier has ALREADY accepted.

``stream: true`` does not stream the upstream's tokens as they come: a token cannot be taken
back once sent, and the classifier judges whole completions. So the proxy samples, scores and
selects exactly as without streaming, and only then streams each returned choice's text in
small chunks (``data: {...}`` lines, then ``data: [DONE]``). A refused choice streams no text,
only its ``finish_reason`` (``content_filter``). The last chunk of every choice carries its
``nines`` record. Nothing the classifier has not accepted (or, with ``fallback: safest``, chosen
as the safest) ever reaches the client; the price is that the first byte comes when the whole
answer is ready.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from nines.proxy.sampling import Choice

_PIECES = re.compile(r"\s*\S+|\s+")


def chunk_text(text: str, size: int) -> list[str]:
    """Split ``text`` into pieces of about ``size`` characters at word boundaries (joined, they are ``text``)."""
    out: list[str] = []
    cur = ""
    for piece in _PIECES.findall(text):
        if cur and len(cur) + len(piece) > size:
            out.append(cur)
            cur = ""
        cur += piece
    if cur:
        out.append(cur)
    return out


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def completion_events(choices: list[Choice], head: dict[str, Any], chunk_chars: int) -> Iterator[str]:
    """SSE events of a streamed ``/v1/completions`` answer (``head``: id, object, created, model)."""
    for i, c in enumerate(choices):
        for piece in chunk_text(c.text, chunk_chars):
            yield _sse({**head, "choices": [{"index": i, "text": piece, "logprobs": None, "finish_reason": None}]})
        last = {"index": i, "text": "", "logprobs": None, "finish_reason": c.finish_reason, "nines": c.nines}
        yield _sse({**head, "choices": [last]})
    yield "data: [DONE]\n\n"


def chat_events(choices: list[Choice], head: dict[str, Any], chunk_chars: int) -> Iterator[str]:
    """SSE events of a streamed ``/v1/chat/completions`` answer (``chat.completion.chunk`` objects)."""
    for i, c in enumerate(choices):
        yield _sse({**head, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                          "logprobs": None, "finish_reason": None}]})
        for piece in chunk_text(c.text, chunk_chars):
            yield _sse({**head, "choices": [{"index": i, "delta": {"content": piece}, "logprobs": None,
                                              "finish_reason": None}]})
        last = {"index": i, "delta": {}, "logprobs": None, "finish_reason": c.finish_reason, "nines": c.nines}
        yield _sse({**head, "choices": [last]})
    yield "data: [DONE]\n\n"
