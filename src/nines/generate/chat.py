"""How a chat conversation becomes text: the classifier's prompt, and a base model's prompt.

The classifier judges (prompt, completion) pairs, so a conversation has to be rendered as one
prompt string; the assistant's reply is the completion. The rules (``ProxyConfig.chat_prompt``):

* ``"joined"`` (default): the contents of the user and assistant messages, in order, joined by
  newlines; system messages are left out (they are instructions, not story). The classifier
  truncates prompts from the left, so on a long conversation it keeps the latest turns.
* ``"last_user"``: only the last user message.
* ``"transcript"``: every message, system included, as ``role: content`` lines.

Message ``content`` may be a string or a list of parts (``{"type": "text", "text": ...}``);
non-text parts are ignored.

It lives beside the generators because both OpenAI-compatible servers need it: the generator server
(:mod:`nines.generate.server`) and the filtering proxy (:mod:`nines.proxy`), which sits above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")


def message_text(content: Any) -> str:
    """The text of a message ``content`` (a string, a list of parts, or ``None``).

    Raises:
        ValueError: when the content is neither a string, a list of parts nor null.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "".join(texts)
    raise ValueError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def render_messages(messages: Sequence[dict[str, Any]], rule: str = "joined") -> str:
    """Render a conversation as one prompt string (see the module docstring for the rules).

    Args:
        messages: OpenAI-style messages with ``role`` and ``content``.
        rule: ``"joined"``, ``"last_user"`` or ``"transcript"``.

    Returns:
        The prompt text.

    Raises:
        ValueError: on an unknown rule, an empty conversation or a message without a known role.
    """
    if not messages:
        raise ValueError("messages must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLES)}")
    if rule == "last_user":
        users = [m for m in messages if m["role"] == "user"]
        if not users:
            raise ValueError("the conversation has no user message")
        return message_text(users[-1].get("content"))
    if rule == "transcript":
        return "\n".join(f"{m['role']}: {message_text(m.get('content'))}" for m in messages)
    if rule == "joined":
        return "\n".join(
            message_text(m.get("content")) for m in messages if m["role"] in ("user", "assistant")
        )
    raise ValueError(f"unknown chat prompt rule {rule!r}; use joined, last_user or transcript")
