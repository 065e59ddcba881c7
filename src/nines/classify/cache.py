"""An LRU cache of raw logits keyed by a hash of the (prompt, completion) pair.

Rejection sampling and a filtering proxy score the same pairs again and again (a resample that
repeats an earlier completion, a client that retries). A cached logit is the very number the model
gave, so a cache hit never changes a decision.

The cache must never serve a logit from other weights: every lookup carries a *state token* of the
model (:func:`model_state`), and a token that differs from the one the entries were made under
empties the cache first. Training steps, ``load_state_dict`` and swapping the model all change it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any


def pair_key(prompt: str, completion: str) -> bytes:
    """A 16-byte digest of the pair; the prompt's length is hashed too, so no two pairs share a text."""
    h = hashlib.blake2b(digest_size=16)
    p = prompt.encode("utf-8", "surrogatepass")
    h.update(len(p).to_bytes(8, "little"))
    h.update(p)
    h.update(completion.encode("utf-8", "surrogatepass"))
    return h.digest()


def model_state(model: Any) -> tuple[Hashable, ...]:
    """A cheap token that changes whenever the model's weights may have changed.

    In-place updates (optimizer steps, ``load_state_dict``) bump each tensor's version counter;
    replacing a tensor changes its storage pointer; writes through ``.data`` do neither, so a
    sample of each tensor's first values is part of the token as well.
    """
    import torch

    versions = 0
    ptrs = []
    samples = []
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            versions += t._version
            ptrs.append(t.data_ptr())
            if t.is_floating_point() and t.numel():
                samples.append(t.reshape(-1)[:4].float().sum())
    sample = float(torch.stack(samples).sum()) if samples else 0.0
    return id(model), versions, hash(tuple(ptrs)), sample


class LogitCache:
    """Least-recently-used logits, at most ``size`` pairs (``size=0`` disables it).

    Attributes:
        hits, misses: lookups answered and not answered since the cache was made.
    """

    def __init__(self, size: int = 16384) -> None:
        if size < 0:
            raise ValueError(f"cache size must be >= 0, got {size}")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._state: tuple[Hashable, ...] | None = None
        self._data: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Forget every entry (the hit and miss counts stay)."""
        self._data.clear()

    def _sync(self, state: tuple[Hashable, ...]) -> None:
        if state != self._state:
            self._data.clear()
            self._state = state

    def get_many(self, keys: Sequence[bytes], state: tuple[Hashable, ...]) -> list[float | None]:
        """The cached logit of each key, ``None`` where absent; hits move to the recent end."""
        if not self.size:
            return [None] * len(keys)
        self._sync(state)
        out: list[float | None] = []
        for k in keys:
            v = self._data.get(k)
            if v is None:
                self.misses += 1
            else:
                self.hits += 1
                self._data.move_to_end(k)
            out.append(v)
        return out

    def put_many(self, keys: Sequence[bytes], values: Sequence[float], state: tuple[Hashable, ...]) -> None:
        """Store logits made under ``state``, evicting the least recently used beyond ``size``."""
        if not self.size:
            return
        self._sync(state)
        for k, v in zip(keys, values):
            self._data[k] = float(v)
            self._data.move_to_end(k)
        while len(self._data) > self.size:
            self._data.popitem(last=False)
