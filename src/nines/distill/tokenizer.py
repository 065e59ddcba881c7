"""A word-level tokenizer for template text such as StoryWorld's (exact, lossless round trip).

Each token is a word or a punctuation mark *with its leading space*, so decoding is plain
concatenation and ``decode(encode(text)) == text`` for every text made of known tokens. On
StoryWorld the vocabulary is about 1,100 tokens and a prompt is about 31 tokens, which keeps a
from-scratch policy small and fast on a CPU.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nines.storyworld.world import StoryWorld

#: A word, a number or one other character, each with an optional leading space.
TOKEN_PATTERN = r" ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9 ]"
_TOKEN_RE = re.compile(TOKEN_PATTERN)

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"


def word_tokens(text: str) -> list[str]:
    """Split ``text`` the way the tokenizer does (the pieces concatenate back to ``text``)."""
    return _TOKEN_RE.findall(text)


def build_word_tokenizer(texts: Iterable[str], min_count: int = 1) -> Any:
    """Build a ``transformers`` fast tokenizer whose vocabulary is every piece of ``texts``.

    Args:
        texts: corpus to take the vocabulary from (prompts and completions, completions with
            their leading space as they follow a prompt).
        min_count: drop pieces seen fewer times (they become ``<unk>``).

    Returns:
        A ``PreTrainedTokenizerFast`` with ``<pad>``, ``<unk>`` and ``<eos>``; ``save_pretrained``
        writes a folder any ``AutoTokenizer`` loads.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(word_tokens(t))
    pieces = sorted(p for p, c in counts.items() if c >= min_count)
    if not pieces:
        raise ValueError("build_word_tokenizer got no text to take a vocabulary from")
    vocab = {tok: i for i, tok in enumerate([PAD, UNK, EOS, *pieces])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token=EOS, padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def storyworld_corpus(world: StoryWorld, n: int = 200_000, seed: int = 7, families: list[str] | None = None) -> list[str]:
    """Prompts and (space-led) completions of ``n`` StoryWorld samples, for :func:`build_word_tokenizer`."""
    batch = world.sample(n, seed=seed, families=families)
    return list(batch.prompts) + [" " + c for c in batch.completions]
