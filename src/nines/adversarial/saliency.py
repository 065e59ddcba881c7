"""Per-token importance for the classifier's score: which words make the filter reject a snippet.

Two methods:

* :func:`gradient_saliency` (white-box, one forward and one backward pass): gradient-times-input of
  the calibrated logit ``logit / T`` with respect to the input token embeddings, as in AllenNLP
  Interpret (Wallace et al. 2019). A token's value is ``∇_{e_i}(logit/T) · e_i``.
* :func:`occlusion_saliency` (black-box, works with any :class:`~nines.classify.base.Classifier`):
  how much the score drops when each word is deleted, all deletions scored in one batched call.

In both, a positive value means the token pushes the score up, toward "injurious". Token spans are
character offsets into their own segment (the prompt or the completion), so a user interface can
highlight them; :meth:`SaliencyMap.words` sums sub-word tokens into whitespace-delimited words, the
unit the token search edits. The word helpers (:func:`word_spans`, :func:`split_core`, :class:`Edit`)
live here too, so saliency, candidates and search agree on what a word is.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from nines.classify import windows as win
from nines.classify.base import Classifier
from nines.classify.encoder import EncoderClassifier

Segment = Literal["prompt", "completion"]
SEGMENTS: tuple[Segment, Segment] = ("prompt", "completion")
_WORD = re.compile(r"\S+")
# Leading punctuation, the word, then a possessive 's (kept through substitutions) and trailing punctuation.
_CORE = re.compile(r"^(\W*)(.*?)((?:['’]s)?\W*)$", re.DOTALL)
EditKind = Literal["substitute", "insert", "delete"]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of every whitespace-delimited word of ``text``, in order."""
    return [m.span() for m in _WORD.finditer(text)]


def split_core(word: str) -> tuple[str, str, str]:
    """``'"Arm,'`` -> ``('"', 'Arm', ',')``, ``"Mara's"`` -> ``('', 'Mara', "'s")``: prefix, word, suffix."""
    m = _CORE.match(word)
    assert m is not None  # the pattern matches any string
    return m.group(1), m.group(2), m.group(3)


def match_case(new: str, old: str) -> str:
    """Give ``new`` the capitalisation pattern of ``old`` (ALL CAPS, Capitalised, or as is)."""
    if len(old) > 1 and old.isupper():
        return new.upper()
    if old[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


@dataclass(frozen=True)
class TokenSaliency:
    """Importance of one token (a sub-word piece, or a whole word for occlusion).

    Attributes:
        token: the token as the tokenizer writes it (``"##ed"``), or the word for occlusion.
        segment: which text it came from.
        start, end: character offsets into that segment's text.
        value: contribution to the score; positive pushes toward "injurious".
    """

    token: str
    segment: Segment
    start: int
    end: int
    value: float


@dataclass(frozen=True)
class WordSaliency:
    """Importance of one whitespace-delimited word: the sum over its tokens.

    Attributes:
        word: the word as it appears in the text (punctuation attached).
        segment: which text it came from.
        index: position of the word among its segment's whitespace-delimited words.
        start, end: character offsets into that segment's text.
        value: summed token values; positive pushes toward "injurious".
    """

    word: str
    segment: Segment
    index: int
    start: int
    end: int
    value: float


@dataclass
class SaliencyMap:
    """Token importances for one (prompt, completion) pair.

    Attributes:
        prompt, completion: the snippet explained.
        score: the classifier's calibrated score for it.
        method: ``gradient`` or ``occlusion``.
        tokens: one entry per non-special token that the classifier saw (prompt tokens lost to left
            truncation, and completion tokens outside the explained window of a long pair, are
            absent), in text order, prompt first.
    """

    prompt: str
    completion: str
    score: float
    method: str
    tokens: list[TokenSaliency] = field(default_factory=list)

    def text(self, segment: Segment) -> str:
        """The text of ``segment``."""
        return self.prompt if segment == "prompt" else self.completion

    def words(self) -> list[WordSaliency]:
        """Token values summed into whitespace-delimited words.

        A token belongs to the word containing its first character. Words with no token (truncated
        away, or skipped by the tokenizer) are left out, so word ``index`` values can have gaps.
        """
        sums: dict[tuple[Segment, int], float] = {}
        spans = {seg: word_spans(self.text(seg)) for seg in SEGMENTS}
        starts = {seg: [s for s, _ in spans[seg]] for seg in SEGMENTS}
        for t in self.tokens:
            # The word whose start is the last one at or before the token's start.
            i = bisect.bisect_right(starts[t.segment], t.start) - 1
            if i < 0 or t.start >= spans[t.segment][i][1]:
                continue  # a token in whitespace: cannot happen with offset mappings, kept safe
            sums[(t.segment, i)] = sums.get((t.segment, i), 0.0) + t.value
        out = []
        for (seg, i), value in sorted(sums.items(), key=lambda kv: (SEGMENTS.index(kv[0][0]), kv[0][1])):
            s, e = spans[seg][i]
            out.append(WordSaliency(self.text(seg)[s:e], seg, i, s, e, value))
        return out


@dataclass
class EmbeddingGradient:
    """Input embeddings of one tokenised pair and the gradient of the calibrated logit through them.

    Attributes:
        input_ids: token ids, length ``L`` (special tokens included).
        tokens: token strings, length ``L``.
        segments: ``prompt``/``completion`` per token, ``None`` for special tokens.
        offsets: character ``(start, end)`` into the token's segment, per token.
        embeddings: word embeddings fed to the encoder, shape ``(L, H)``, detached.
        gradient: ``d(logit / T) / d embeddings``, shape ``(L, H)``.
        logit: the raw (uncalibrated) logit.
        temperature: the classifier's calibration temperature ``T``.
    """

    input_ids: list[int]
    tokens: list[str]
    segments: list[Segment | None]
    offsets: list[tuple[int, int]]
    embeddings: torch.Tensor
    gradient: torch.Tensor
    logit: float
    temperature: float

    @property
    def score(self) -> float:
        """Calibrated score ``sigmoid(logit / T)``."""
        return float(1.0 / (1.0 + np.exp(-self.logit / self.temperature)))


def explained_window(clf: EncoderClassifier, prompt: str, completion: str
                     ) -> tuple[win.Tokenised, win.Window]:
    """The pair tokenised with offsets, and the window whose logit is the pair's score.

    A pair that fits has one window. A longer one is scored on all its windows and the one with the
    highest logit (the max that :meth:`EncoderClassifier.score` returns) is explained.
    """
    tok = win.tokenise(clf.tokenizer, [prompt], [completion], offsets=True)
    windows = win.plan(tok, clf.budget, clf.window_config)
    if len(windows) == 1:
        return tok, windows[0]
    z = clf.window_logits(tok, windows)
    return tok, windows[int(np.argmax(z))]


def _window_tokens(tok: win.Tokenised, w: win.Window, tpl: win.PairTemplate
                   ) -> tuple[list[Segment | None], list[tuple[int, int]]]:
    """Segment and character offsets (into the whole prompt or completion) of each input token."""
    assert tok.prompt_offsets is not None and tok.completion_offsets is not None  # tokenised with offsets
    p_off = tok.prompt_offsets[0][w.prompt_start:]
    c_off = tok.completion_offsets[0][w.completion_start:w.completion_end]
    special: list[tuple[int, int]] = [(0, 0)]
    prompt_seg: Segment = "prompt"
    completion_seg: Segment = "completion"
    nothing: list[Segment | None] = [None]
    segs = (nothing * len(tpl.prefix) + [prompt_seg] * len(p_off) + nothing * len(tpl.middle)
            + [completion_seg] * len(c_off) + nothing * len(tpl.suffix))
    offsets = (special * len(tpl.prefix) + p_off + special * len(tpl.middle) + c_off
               + special * len(tpl.suffix))
    return segs, offsets


def embedding_gradient(clf: EncoderClassifier, prompt: str, completion: str) -> EmbeddingGradient:
    """Gradient of ``logit / T`` with respect to the word embeddings of one pair.

    A pair longer than the classifier's window is explained on the window that gives its score
    (:func:`explained_window`); offsets stay character offsets into the whole prompt and
    completion, and tokens outside that window are absent. The model runs in eval mode (no
    dropout) and its train/eval mode is restored afterwards. Only the input embeddings require a
    gradient and :func:`torch.autograd.grad` is used instead of ``backward``, so no parameter's
    ``.grad`` is written. It cannot run inside ``torch.inference_mode``.
    """
    model = clf.model
    tok, window = explained_window(clf, prompt, completion)
    segs, offsets = _window_tokens(tok, window, clf.template)
    was_training = model.training
    model.eval()
    try:
        batch = win.build_inputs(tok, [window], clf.template, clf.device)
        ids = batch.pop("input_ids")  # (1, L)
        with torch.enable_grad():
            # A leaf copy of the embedding output, so the gradient stops there and not at the weights.
            embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)  # (1, L, H)
            logit = model(inputs_embeds=embeds, **batch).logits[0, 0]  # scalar
            calibrated = logit / clf.meta.temperature
            (grad,) = torch.autograd.grad(calibrated, embeds)  # (1, L, H)
    finally:
        if was_training:
            model.train()
    id_list = [int(i) for i in ids[0].tolist()]
    return EmbeddingGradient(id_list, clf.tokenizer.convert_ids_to_tokens(id_list), segs, offsets,
                             embeds[0].detach(), grad[0].detach(), float(logit.detach()),
                             float(clf.meta.temperature))


def gradient_saliency(clf: EncoderClassifier, prompt: str, completion: str) -> SaliencyMap:
    """Gradient-times-input saliency of every non-special token (one forward and one backward pass).

    ``value_i = ∇_{e_i}(logit / T) · e_i``. By the first-order Taylor expansion the values sum to the
    change of ``logit / T`` per unit of scaling all the (non-special) word embeddings, which is what
    makes them comparable across tokens. Positive means the token pushes the score up.
    """
    g = embedding_gradient(clf, prompt, completion)
    values = (g.gradient * g.embeddings).sum(dim=-1).float().cpu().numpy()  # (L,)
    tokens = [
        TokenSaliency(tok, seg, s, e, float(v))
        for tok, seg, (s, e), v in zip(g.tokens, g.segments, g.offsets, values)
        if seg is not None and e > s
    ]
    return SaliencyMap(prompt, completion, g.score, "gradient", tokens)


def delete_word(text: str, spans: Sequence[tuple[int, int]], index: int) -> str:
    """``text`` without word ``index`` and one run of whitespace beside it (after, else before)."""
    s, e = spans[index]
    if index + 1 < len(spans):
        return text[:s] + text[spans[index + 1][0]:]
    if index > 0:
        return text[:spans[index - 1][1]] + text[e:]
    return text[:s] + text[e:].lstrip()


def occlusion_saliency(clf: Classifier, prompt: str, completion: str, unit: Literal["word"] = "word",
                       segments: Sequence[Segment] = SEGMENTS, base_score: float | None = None) -> SaliencyMap:
    """Black-box saliency: the score drop when each word is deleted.

    All deletions (and the original, unless ``base_score`` is given) are scored in ONE call to
    ``clf.score``, so through a :class:`~nines.adversarial.budget.CountingClassifier` it costs one
    query per word, plus one for the original.

    Args:
        clf: any classifier.
        unit: what is deleted; only whole ``word`` s are supported.
        segments: which segments' words to occlude (skipping one saves its queries).
        base_score: the snippet's score when already known.
    """
    if unit != "word":
        raise ValueError(f"occlusion_saliency unit must be 'word', got {unit!r}")
    bad = [s for s in segments if s not in SEGMENTS]
    if bad:
        raise ValueError(f"segments must be among {SEGMENTS}, got {bad!r}")
    texts = {"prompt": prompt, "completion": completion}
    prompts: list[str] = [] if base_score is not None else [prompt]
    completions: list[str] = [] if base_score is not None else [completion]
    where: list[tuple[Segment, int, int, str]] = []
    for seg in segments:
        spans = word_spans(texts[seg])
        for i, (s, e) in enumerate(spans):
            cut = delete_word(texts[seg], spans, i)
            prompts.append(cut if seg == "prompt" else prompt)
            completions.append(cut if seg == "completion" else completion)
            where.append((seg, s, e, texts[seg][s:e]))
    scores = np.asarray(clf.score(prompts, completions), dtype=np.float64) if prompts else np.empty(0)
    base = float(scores[0]) if base_score is None else float(base_score)
    occluded = scores[1:] if base_score is None else scores
    tokens = [TokenSaliency(w, seg, s, e, base - float(v)) for (seg, s, e, w), v in zip(where, occluded)]
    return SaliencyMap(prompt, completion, base, "occlusion", tokens)


@dataclass(frozen=True)
class Edit:
    """One word-level edit of a segment.

    Attributes:
        kind: ``substitute`` ``words[index]``, ``insert`` before it, or ``delete`` it.
        segment: which segment.
        index: word index in the segment before the edit.
        old: the word replaced or deleted (``""`` for insertions).
        new: the word written (``""`` for deletions), punctuation and capitalisation restored.
    """

    kind: EditKind
    segment: Segment
    index: int
    old: str
    new: str

    def apply(self, prompt: str, completion: str) -> tuple[str, str]:
        """The snippet after this edit."""
        text = prompt if self.segment == "prompt" else completion
        spans = word_spans(text)
        if self.kind == "delete":
            out = delete_word(text, spans, self.index)
        elif self.kind == "substitute":
            s, e = spans[self.index]
            out = text[:s] + self.new + text[e:]
        elif self.index < len(spans):
            s = spans[self.index][0]
            out = text[:s] + self.new + " " + text[s:]
        else:
            out = text.rstrip() + (" " if text.strip() else "") + self.new
        return (out, completion) if self.segment == "prompt" else (prompt, out)

    def describe(self) -> str:
        """``swap 'stabbed'->'poked' @completion:3`` and the like."""
        where = f"@{self.segment}:{self.index}"
        if self.kind == "substitute":
            return f"swap {self.old!r}->{self.new!r} {where}"
        if self.kind == "insert":
            return f"insert {self.new!r} {where}"
        return f"delete {self.old!r} {where}"
