"""StoryWorld prompt identity: a prompt's id names its latent scene, so nothing is looked up by text.

Two scenes can render the same prompt text (they differ only in a weapon the menace line does not
show), so a text cannot say which scene it came from; the id ``storyworld:<scene id>`` can. Every
prompt StoryWorld makes is a :class:`~nines.generate.base.Prompt` with that id (and
``meta["scene_id"]``); StoryWorld's generator, oracle and exact probabilities read the scene from
the id and never from the text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from nines.generate.base import Prompt

#: Prefix of StoryWorld prompt ids; the rest is the decimal latent scene id.
PROMPT_ID_PREFIX = "storyworld:"

NOT_A_WORLD_PROMPT = (
    "StoryWorld continues, labels and rates only the Prompt objects StoryWorld made "
    "(world.sample_prompts, world.make_prompt, world.prompts_of_scenes or StoryBatch.prompt_objects()), "
    "whose id names the latent scene; got {what}. Pass those Prompt objects, not their text: two "
    "scenes can share a text, so the text alone cannot say which scene to continue"
)


def scene_prompt_id(scene_id: int) -> str:
    """The prompt id of a latent scene: ``"storyworld:<scene id>"``."""
    return f"{PROMPT_ID_PREFIX}{int(scene_id)}"


def make_prompts(texts: Sequence[str], scene_ids: Iterable[int]) -> list[Prompt]:
    """StoryWorld Prompts from rendered texts and their scene ids (same order)."""
    return [Prompt(f"{PROMPT_ID_PREFIX}{sid}", text, {"scene_id": sid})
            for text, sid in zip(texts, (int(s) for s in scene_ids))]


def parse_scene_id(prompt: object, n_scenes: int) -> int | None:
    """The scene id a StoryWorld Prompt names; ``None`` for a Prompt of another source.

    Raises:
        TypeError: for a plain string (or anything not a Prompt), with the fix in the message.
    """
    if not isinstance(prompt, Prompt):
        what = f"the plain string {prompt[:80]!r}" if isinstance(prompt, str) else f"a {type(prompt).__name__}"
        raise TypeError(NOT_A_WORLD_PROMPT.format(what=what))
    if not prompt.id.startswith(PROMPT_ID_PREFIX):
        return None
    digits = prompt.id[len(PROMPT_ID_PREFIX):]
    if not digits.isdigit() or int(digits) >= n_scenes:
        return None
    return int(digits)


def require_scene_ids(prompts: Sequence[object], n_scenes: int) -> np.ndarray:
    """Scene ids of prompts that must all be StoryWorld's own (generator input).

    Raises:
        TypeError: for a single string or a plain-string prompt.
        ValueError: for a Prompt whose id is not a StoryWorld scene id.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of Prompts, not a single string; wrap it in a list")
    ids = []
    for p in prompts:
        sid = parse_scene_id(p, n_scenes)  # raises for anything that is not a Prompt
        if sid is None:
            raise ValueError(NOT_A_WORLD_PROMPT.format(what=f"a Prompt with id {getattr(p, 'id', p)!r}"))
        ids.append(sid)
    return np.array(ids, dtype=np.int64)


class PairMemo:
    """Exact labels of the (scene, completion) pairs StoryWorld's own generator wrote, bounded.

    A speed-up only: labelling a text from its scene's completion table costs ~40 ms per new scene,
    and evaluation labels tens of thousands of pairs the world itself wrote. The table gives the same
    answer for every pair, so what the memo forgets is recomputed, never lost. Keyed by scene id, not
    prompt text.

    Args:
        capacity: pairs kept (the oldest are forgotten first); 0 keeps none.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"capacity must be a non-negative integer, got {capacity!r}")
        self.capacity = capacity
        self._labels: OrderedDict[tuple[int, str], bool] = OrderedDict()

    def add(self, scene_ids: Iterable[int], texts: Iterable[str], labels: Iterable[bool]) -> None:
        """Remember the exact labels of pairs the world wrote."""
        if self.capacity == 0:
            return
        memo = self._labels
        for sid, text, y in zip(scene_ids, texts, labels):
            memo[(int(sid), text)] = bool(y)
        while len(memo) > self.capacity:
            memo.popitem(last=False)

    def get(self, scene_id: int, text: str) -> bool | None:
        """The remembered label, or ``None`` when the pair is not (or no longer) remembered."""
        return self._labels.get((scene_id, text))

    def __len__(self) -> int:
        return len(self._labels)
