"""Substitution and insertion candidates for token-edit attacks, and the playground's edit suggestions.

A :class:`CandidateSource` proposes replacement words for a word, and words to insert before it.
Sources here: the classifier's own embedding neighbours, any causal or masked language model, and
HotFlip (first-order gradient estimates). :func:`suggest_edits` scores every candidate edit of one
word in one batched classifier call, lowest score (most evasive) first.

Words are whitespace-delimited and may carry punctuation (``"arm."``). Sources see the raw words and
return bare words; the original's punctuation, possessive and capitalisation are restored on edit.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from nines.adversarial.saliency import (
    Edit,
    EditKind,
    EmbeddingGradient,
    Segment,
    embedding_gradient,
    match_case,
    split_core,
    word_spans,
)
from nines.classify.base import Classifier
from nines.classify.encoder import EncoderClassifier

_ALPHA_WORD = re.compile(r"^[A-Za-z][A-Za-z'-]*$")
#: Insertions offered by :class:`EmbeddingNeighbours` (softeners and hedges that often lower the score).
DEFAULT_MODIFIERS: tuple[str, ...] = ("almost", "nearly", "barely", "gently", "playfully", "pretend", "not")


@runtime_checkable
class CandidateSource(Protocol):
    """Proposes words for one position of a segment's whitespace-delimited ``words``."""

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        """Up to ``k`` distinct bare words to put in place of ``words[index]``, best first."""
        ...

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        """Up to ``k`` distinct bare words to insert before ``words[index]`` (``index == len(words)``: at the end)."""
        ...


@runtime_checkable
class ContextualSource(Protocol):
    """A source that needs the whole snippet (e.g. classifier gradients): ``with_context`` binds it to
    one snippet and segment, at a cost of ``context_cost`` classifier queries (charged by the search)."""

    context_cost: int

    def with_context(self, prompt: str, completion: str, segment: Segment) -> CandidateSource:
        """A source answering about ``segment`` of this snippet."""
        ...


def bind(source: CandidateSource, prompt: str, completion: str, segment: Segment) -> CandidateSource:
    """``source`` bound to a snippet when it is a :class:`ContextualSource`, else itself."""
    if isinstance(source, ContextualSource):
        return source.with_context(prompt, completion, segment)
    return source


def whole_word_vocab(tokenizer: Any) -> tuple[np.ndarray, list[str]]:
    """Ids and surface forms of vocabulary tokens that are whole alphabetic words.

    Handles WordPiece (continuations start with ``##``), byte-level BPE (word starts carry ``Ġ``) and
    SentencePiece (word starts carry ``▁``). Special tokens, ``[unused]`` slots, punctuation and
    digits are skipped, and forms that differ only by case are kept once (lowest id first).
    """
    vocab: dict[str, int] = tokenizer.get_vocab()
    special = set(getattr(tokenizer, "all_special_tokens", []))
    marker = next((m for m in ("Ġ", "▁") if any(t.startswith(m) for t in vocab)), None)
    seen: set[str] = set()
    ids: list[int] = []
    words: list[str] = []
    for tok, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        starts_word = tok.startswith(marker) if marker else not tok.startswith("##")
        if tok in special or not starts_word:
            continue
        tok = tok[len(marker or ""):]
        if not _ALPHA_WORD.match(tok) or (len(tok) == 1 and tok.lower() not in "ai") or tok.lower() in seen:
            continue
        seen.add(tok.lower())
        ids.append(i)
        words.append(tok)
    return np.asarray(ids, dtype=np.int64), words


def _top_indices(values: np.ndarray, words: list[str], k: int, exclude: str) -> list[int]:
    """Indices of the ``k`` highest ``values``, skipping the word ``exclude`` (case-insensitive)."""
    top = np.argsort(-values, kind="stable")[: k + 1]  # +1: one of them may be `exclude`
    return [int(j) for j in top if words[int(j)].lower() != exclude.lower()][:k]


def _top_words(values: np.ndarray, words: list[str], k: int, exclude: str) -> list[str]:
    """The ``k`` words with the highest ``values``, skipping ``exclude`` (case-insensitive)."""
    return [words[j] for j in _top_indices(values, words, k, exclude)]


class EmbeddingNeighbours:
    """Nearest whole words by cosine similarity in the classifier's own input-embedding matrix.

    Needs no download: it reuses the encoder under attack. A word split into several pieces is
    represented by the mean of its pieces' embeddings. Insertions are a fixed list of modifiers
    (``modifiers``, default :data:`DEFAULT_MODIFIERS`), since embeddings say nothing about what fits
    between two words; pass ``modifiers=()`` to turn insertions off.
    """

    def __init__(self, clf: EncoderClassifier, modifiers: Sequence[str] = DEFAULT_MODIFIERS,
                 cache_size: int = 4096) -> None:
        self.tokenizer = clf.tokenizer
        self._all = clf.model.get_input_embeddings().weight.detach().float().cpu()  # (V, H), a snapshot
        self.ids, self.words = whole_word_vocab(clf.tokenizer)
        self._unit = torch.nn.functional.normalize(self._all[torch.from_numpy(self.ids)], dim=-1)  # (V', H)
        self.modifiers = tuple(modifiers)
        self._cache: OrderedDict[tuple[str, int], list[str]] = OrderedDict()
        self.cache_size = cache_size

    def neighbours(self, word: str, k: int) -> list[str]:
        """The ``k`` whole words nearest to ``word`` (bare, no punctuation), itself excluded."""
        key = (word.lower(), k)
        if key not in self._cache:
            pieces = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            if not pieces:
                return []
            query = self._all[torch.tensor(pieces)].mean(dim=0)  # (H,)
            sims = (self._unit @ torch.nn.functional.normalize(query, dim=0)).numpy()  # (V',)
            self._cache[key] = _top_words(sims, self.words, k, exclude=word)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return list(self._cache[key])

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        core = split_core(words[index])[1]
        return self.neighbours(core, k) if core else []

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        before = split_core(words[index - 1])[1].lower() if index > 0 else ""
        return [m for m in self.modifiers if m.lower() != before][:k]


def _load_lm(model_or_path: Any, tokenizer: Any, auto_class: str) -> tuple[Any, Any]:
    """A model object (with its tokenizer) or a local folder / cached hub id, loaded offline-first."""
    if not isinstance(model_or_path, str):
        if tokenizer is None:
            raise ValueError("pass tokenizer= along with a model object (or pass a folder path instead)")
        return model_or_path, tokenizer
    import transformers

    cls = getattr(transformers, auto_class)
    try:
        model = cls.from_pretrained(model_or_path)
        tok = tokenizer or transformers.AutoTokenizer.from_pretrained(model_or_path)
    except OSError as e:
        raise ValueError(f"cannot load {model_or_path!r} as {auto_class}: {e}\nGive a local folder "
                         "or a hub id already in the HF cache (this machine may be offline).") from None
    return model, tok


class _LMBase:
    """Shared set-up of the language-model sources: eval mode, whole-word vocabulary, device."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.ids, self.words = whole_word_vocab(tokenizer)
        self._ids_t = torch.from_numpy(self.ids)
        self.device = next(model.parameters()).device

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


class CausalLMCandidates(_LMBase):
    """Candidates from any HF causal LM: the most likely next whole words.

    Substitutes for ``words[index]`` are the top next words after ``words[:index]``; with
    ``rerank`` the top ``4k`` are re-ranked by the likelihood of the following ``right_tokens``
    tokens of right context. Insertions are the same at the gap before ``words[index]``. Only
    single-token words are proposed (one forward pass per position). The context is the segment's
    own words; sentences start from the tokenizer's BOS (or CLS, or EOS) token.
    """

    def __init__(self, model_or_path: Any, tokenizer: Any = None, rerank: bool = True,
                 right_tokens: int = 8) -> None:
        super().__init__(*_load_lm(model_or_path, tokenizer, "AutoModelForCausalLM"))
        tok = self.tokenizer
        start = next((t for t in (tok.bos_token_id, tok.cls_token_id, tok.eos_token_id) if t is not None), None)
        self.start_ids: list[int] = [] if start is None else [int(start)]
        self.rerank, self.right_tokens = rerank, right_tokens

    @torch.inference_mode()
    def _next_words(self, left: list[str], right: list[str], k: int, exclude: str) -> list[str]:
        ctx = self.start_ids + self._ids(" ".join(left))
        if not ctx:
            return []  # no start token and no context: nothing to condition on
        logits = self.model(input_ids=torch.tensor([ctx], device=self.device)).logits[0, -1]  # (V,)
        word_logp = torch.log_softmax(logits.float(), dim=-1).cpu()[self._ids_t].numpy()  # (V',)
        right_ids = self._ids(" ".join(right))[: self.right_tokens]
        if not (self.rerank and right_ids):
            return _top_words(word_logp, self.words, k, exclude)
        pool = np.argsort(-word_logp, kind="stable")[: 4 * k + 1]  # shortlist (+1: may hold `exclude`)
        # Every sequence is ctx + one candidate + right context: equal lengths, no padding needed.
        seqs = torch.tensor([ctx + [int(self.ids[j])] + right_ids for j in pool], device=self.device)  # (M, T)
        logp = torch.log_softmax(self.model(input_ids=seqs).logits.float(), dim=-1)  # (M, T, V)
        targets = seqs[:, len(ctx):]  # (M, 1 + R)
        total = logp[:, len(ctx) - 1:-1].gather(-1, targets[..., None])[..., 0].sum(-1)  # (M,)
        return _top_words(total.cpu().numpy(), [self.words[int(j)] for j in pool], k, exclude)

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        core = split_core(words[index])[1]
        return self._next_words(words[:index], words[index + 1:], k, exclude=core) if core else []

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        prev = split_core(words[index - 1])[1] if index > 0 else ""
        return self._next_words(words[:index], words[index:], k, exclude=prev)


class MaskedLMCandidates(_LMBase):
    """Candidates from any HF masked LM: fill-mask top-k whole words at the word or the gap."""

    def __init__(self, model_or_path: Any, tokenizer: Any = None) -> None:
        super().__init__(*_load_lm(model_or_path, tokenizer, "AutoModelForMaskedLM"))
        if self.tokenizer.mask_token is None:
            raise ValueError("MaskedLMCandidates needs a tokenizer with a mask token (a BERT-style model)")

    @torch.inference_mode()
    def _fill(self, words: list[str], k: int, exclude: str) -> list[str]:
        enc = self.tokenizer(" ".join(words), truncation=True, return_tensors="pt").to(self.device)
        where = (enc["input_ids"][0] == self.tokenizer.mask_token_id).nonzero()
        if len(where) == 0:
            return []  # the mask was truncated away
        logits = self.model(**enc).logits[0, int(where[0, 0])]  # (V,)
        return _top_words(logits.float().cpu()[self._ids_t].numpy(), self.words, k, exclude)

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        pre, core, post = split_core(words[index])
        masked = words[:index] + [pre + self.tokenizer.mask_token + post] + words[index + 1:]
        return self._fill(masked, k, exclude=core) if core else []

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        prev = split_core(words[index - 1])[1] if index > 0 else ""
        return self._fill(words[:index] + [self.tokenizer.mask_token] + words[index:], k, exclude=prev)


class GradientCandidates:
    """HotFlip (Ebrahimi et al. 2018): words whose first-order estimate lowers the logit most.

    Replacing token ``i`` by vocabulary token ``w`` changes ``logit / T`` by about
    ``(e_w - e_i) · ∇_{e_i}``; a word of several pieces is replaced at its first piece, the others
    deleted (their ``e · ∇`` terms removed). Bind it with :meth:`with_context` (one gradient per
    snippet, cached: ``context_cost = 1``); unbound, ``words`` are the completion of an empty prompt.
    It proposes no insertions (there is no token at a gap to differentiate).
    """

    context_cost = 1

    def __init__(self, clf: EncoderClassifier, cache_size: int = 16) -> None:
        self.clf = clf
        self.ids, self.words = whole_word_vocab(clf.tokenizer)
        self._emb = clf.model.get_input_embeddings().weight  # (V, H), read without grad
        self.context: tuple[str, str, Segment] | None = None
        self._cache: OrderedDict[tuple[str, str], EmbeddingGradient] = OrderedDict()
        self.cache_size = cache_size

    def with_context(self, prompt: str, completion: str, segment: Segment) -> GradientCandidates:
        # A shallow copy shares the vocabulary and the gradient cache with this source.
        bound = copy.copy(self)
        bound.context = (prompt, completion, segment)
        bound._gradient(prompt, completion)  # computed now, so the cost falls where it is charged
        return bound

    def _gradient(self, prompt: str, completion: str) -> EmbeddingGradient:
        key = (prompt, completion)
        if key not in self._cache:
            self._cache[key] = embedding_gradient(self.clf, prompt, completion)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _snippet(self, words: list[str]) -> tuple[str, str, Segment, list[tuple[int, int]]]:
        """The bound snippet when ``words`` are its segment's words, else ``words`` as a completion."""
        if self.context is not None:
            prompt, completion, seg = self.context
            text = prompt if seg == "prompt" else completion
            spans = word_spans(text)
            if [text[s:e] for s, e in spans] == words:
                return prompt, completion, seg, spans
        text = " ".join(words)
        return "", text, "completion", word_spans(text)

    def ranked(self, words: list[str], index: int, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` ``(word, estimated change of logit / T)`` pairs, most negative first."""
        prompt, completion, seg, spans = self._snippet(words)
        g = self._gradient(prompt, completion)
        pre, core, _ = split_core(words[index])
        # Only the pieces of the bare word: punctuation and a possessive 's are kept by the edit.
        s = spans[index][0] + len(pre)
        e = s + len(core)
        pos = [j for j, (sg, (a, _)) in enumerate(zip(g.segments, g.offsets)) if sg == seg and s <= a < e]
        if not pos or not core:
            return []  # the word was truncated away, or is punctuation only
        grad = g.gradient[pos[0]]  # (H,)
        # Constant part: removing the first piece and deleting the others.
        const = -float(sum((g.embeddings[j] * g.gradient[j]).sum() for j in pos))
        with torch.no_grad():
            gain = (self._emb[torch.from_numpy(self.ids).to(grad.device)] @ grad.to(self._emb.dtype))  # (V',)
        est = gain.float().cpu().numpy() + const  # (V',)
        return [(self.words[j], float(est[j])) for j in _top_indices(-est, self.words, k, exclude=core)]

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        return [w for w, _ in self.ranked(words, index, k)]

    def insertions(self, words: list[str], index: int, k: int) -> list[str]:
        return []


def candidate_edits(prompt: str, completion: str, segment: Segment, word_index: int,
                    sources: Sequence[CandidateSource], k: int = 10, insertions: bool = True,
                    deletions: bool = True) -> list[Edit]:
    """Distinct edits at one word from every source: substitutions, insertions before it, deletion.

    ``word_index`` may equal the number of words (only insertions at the end are then possible).
    """
    text = prompt if segment == "prompt" else completion
    words = [text[s:e] for s, e in word_spans(text)]
    if not 0 <= word_index <= len(words):
        raise ValueError(f"word_index {word_index} is out of range: the {segment} has {len(words)} words")
    here = words[word_index] if word_index < len(words) else ""
    pre, core, post = split_core(here)
    edits: list[Edit] = []
    for src in (bind(s, prompt, completion, segment) for s in sources):
        if core:
            edits += [Edit("substitute", segment, word_index, here, pre + match_case(w, core) + post)
                      for w in src.substitutes(words, word_index, k)]
        if insertions:
            edits += [Edit("insert", segment, word_index, "", w) for w in src.insertions(words, word_index, k)]
    if deletions and here:
        edits.append(Edit("delete", segment, word_index, here, ""))
    seen: set[tuple[str, str]] = set()
    unique = []
    for ed in edits:
        key = ed.apply(prompt, completion)
        if key not in seen and key != (prompt, completion):
            seen.add(key)
            unique.append(ed)
    return unique


@dataclass(frozen=True)
class Suggestion:
    """A scored edit, as the red-team playground lists them when a word is clicked.

    Attributes:
        kind, segment, index, old, new: the edit (see :class:`Edit`).
        prompt, completion: the snippet after the edit.
        score: the classifier's score for it.
        accepted: whether the filter would accept it (``score <= threshold``).
    """

    kind: EditKind
    segment: Segment
    index: int
    old: str
    new: str
    prompt: str
    completion: str
    score: float
    accepted: bool

    @property
    def edit(self) -> Edit:
        return Edit(self.kind, self.segment, self.index, self.old, self.new)


def suggest_edits(clf: Classifier, prompt: str, completion: str, segment: Segment, word_index: int,
                  sources: Sequence[CandidateSource], k: int = 10) -> list[Suggestion]:
    """Every candidate edit at one word (``k`` per source and kind, plus deletion), scored in ONE
    batched classifier call, sorted by score ascending (the most evasive first)."""
    edits = candidate_edits(prompt, completion, segment, word_index, sources, k)
    if not edits:
        return []
    texts = [ed.apply(prompt, completion) for ed in edits]
    scores = np.asarray(clf.score([p for p, _ in texts], [c for _, c in texts]), dtype=np.float64)
    threshold = float(clf.threshold)
    out = [Suggestion(ed.kind, ed.segment, ed.index, ed.old, ed.new, p, c, float(sc), bool(sc <= threshold))
           for ed, (p, c), sc in zip(edits, texts, scores)]
    return sorted(out, key=lambda s: s.score)

