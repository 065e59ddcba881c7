"""Attack the nines injury filter with TextAttack's own search methods (runs in benchmarks/.venv-textattack).

Set the venv up with ``bash benchmarks/setup_textattack.sh``; ``benchmarks/attacks.py`` calls this script
through a subprocess. Stand-alone::

    benchmarks/.venv-textattack/bin/python benchmarks/textattack_runner.py \\
        --classifier runs/demo/classifier --input seeds.jsonl --out textattack.json \\
        --search greedy-delete,greedy-gradient,beam --beam-width 4 --budget 300 \\
        --candidates embedding,world --k 20 --columns completion

``--input`` is JSONL, one ``{"id": ..., "prompt": ..., "completion": ...}`` per line (the caught injurious
snippets to attack). ``--out`` gets one JSON file: the exact recipe that ran (search, transformation,
constraints, budget, TextAttack/torch/transformers versions) and, per search method and example, the
original and perturbed texts, the result type (success/failure/skipped), TextAttack's query count, the
number of pairs the model actually scored, gradient calls, seconds and the classifier's scores.

What runs, and how it maps onto TextAttack
-------------------------------------------
* Victim model: the saved nines classifier (an HF ``AutoModelForSequenceClassification`` folder with one
  logit plus ``nines.json`` holding ``threshold`` and ``temperature``), loaded with
  ``nines.classify.encoder.EncoderClassifier`` so tokenisation (pair encoding, prompt truncated from the
  left, ``max_length``) is exactly the filter's. The filter rejects when
  ``sigmoid(logit / T) > threshold``. :class:`NinesFilterWrapper` returns the 2-class logits
  ``[0, logit / T - logit(threshold)]`` (float64, so saturation never flattens the search score);
  TextAttack's softmax of that is ``[1 - s', s']`` with ``s' > 0.5`` exactly when the filter rejects.
* Goal: ``UntargetedClassification`` with ground truth 1 (injurious/rejected), i.e. success means the
  filter accepts the perturbed snippet. Snippets the filter already accepts are ``skipped``.
* Input: a two-column ``AttackedText`` (``OrderedDict(prompt=..., completion=...)``); the wrapper receives
  (prompt, completion) tuples and scores them as pairs. ``--columns completion`` (default) adds
  TextAttack's ``InputColumnModification(["prompt", "completion"], {"prompt"})`` so only completion words
  are edited (the generator only controls the completion; editing the user's prompt is not an attack a
  deployed filter faces); ``--columns both`` lets the search edit the prompt as well.
* Search methods (TextAttack's, unmodified): ``greedy-delete`` = ``GreedyWordSwapWIR(wir_method="delete")``,
  ``greedy-gradient`` = ``GreedyWordSwapWIR(wir_method="gradient")``, ``beam`` =
  ``BeamSearch(beam_width=--beam-width)``.
* Gradient ordering: TextAttack's gradient WIR calls ``model_wrapper.get_grad(text_input)`` and aligns
  words to rows of the returned gradient with ``AttackedText.align_with_model_tokens`` (which calls
  ``model_wrapper.tokenize``). :meth:`NinesFilterWrapper.get_grad` runs the HF model on
  ``inputs_embeds`` and returns d(margin)/d(input embeddings) per token; because the filter truncates
  the prompt from the left, the gradient rows are placed into a zero array aligned with the *untruncated*
  pair tokenisation that ``_tokenize`` returns, so word/token alignment never shifts (words in the
  truncated-away part of the prompt get zero importance). One forward+backward pass is not a TextAttack
  query; it is reported as ``gradient_calls``, and since nines' own search charges a gradient as one
  query, ``greedy-gradient`` runs with ``query_budget = --budget - 1`` (GreedyWordSwapWIR takes exactly
  one gradient per example), so ``queries + gradient_calls <= --budget`` for every search.
* Constraints: ``RepeatModification`` and ``StopwordModification`` with an explicit stopword set
  (TextFooler's list, copied below, in lower and capitalised form) because the default asks NLTK for
  its corpus, which is a download that cannot happen offline.
* Budget: ``query_budget`` is a goal-function argument in TextAttack 0.3.x (not an ``Attack`` one).
  TextAttack counts every text it asks the goal function about, cache hits included, so its count
  (``queries``) is an upper bound on the pairs the model really scored (``model_queries``, counted in the
  wrapper). The budget is enforced on TextAttack's count.
* Transformation: :class:`NinesCandidateSwap`, a ``textattack.transformations.WordSwap`` subclass whose
  candidates come from our generators, because TextAttack's stock ones all need downloads:
  ``embedding`` = ``nines.adversarial.candidates.EmbeddingNeighbours(clf)`` (nearest whole-word tokens
  in the classifier's own input-embedding matrix); ``world`` = StoryWorld's own word alternatives
  (:class:`WorldSynonyms`: the word pairs that distinguish variants of one completion template, the
  tables behind ``nines.adversarial.world``'s ``synonym`` moves; ``nines.adversarial.world`` itself
  searches latent states, which a word swap cannot express); ``frequent`` = a development fallback
  (frequent StoryWorld completion words; no linguistic meaning). Several sources are merged
  (deduplicated, round-robin) up to ``--k``; each candidate gets the original word's case and affixes
  back ("Yuki's" -> "Mara's"), as nines' token search does, and must stay a single TextAttack word.
* Environment: TextAttack 0.3.11 needs flair, and flair 0.15.1 needs transformers<5, so this venv runs
  transformers 4.57 on a folder saved by transformers 5 (``benchmarks/attacks.py`` checks score parity
  between the two venvs). ``import textattack`` itself needs two offline fixes, applied by
  :func:`prepare_offline_textattack` before the import: a stand-in NLTK stopwords corpus inside the venv
  (TextAttack builds ``StopwordModification()`` at import time and raises without one) and TextAttack's
  "post-install done" marker in a venv-local ``TA_CACHE_DIR`` (else its first import tries six
  ``nltk.download`` calls).

What of TextAttack's standard recipes could NOT run offline
-----------------------------------------------------------
TextFooler/PWWS/BAE/BERT-Attack/A2T ... as published: their transformations need the counter-fitted
embeddings (``WordSwapEmbedding``, a download), WordNet (``WordSwapWordNet``, NLTK data), or a masked LM
from the hub (``WordSwapMaskedLM``); their constraints need the Universal Sentence Encoder
(TF-hub download), ``WordEmbeddingDistance`` (same embeddings), ``PartOfSpeech`` (flair/NLTK tagger
downloads) or GPT-2 / LanguageTool (download / Java server). So this runner keeps TextAttack's search,
goal function, pre-transformation constraints and query accounting, and swaps in our offline candidate
generators as the transformation. Label preservation is then not enforced by a semantic-similarity
constraint; ``benchmarks/attacks.py`` checks every success with StoryWorld's exact oracle instead.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import math
import os
import sys
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("FLAIR_DEVICE", "cpu")

# TextFooler's stopword list (textattack/attack_recipes/textfooler_jin_2019.py), inlined so that
# StopwordModification never falls back to nltk.corpus.stopwords (an NLTK data download).
_TEXTFOOLER_STOPWORDS_TEXT = """
a about above across after afterwards again against ain all almost alone along already also although am
among amongst an and another any anyhow anyone anything anyway anywhere are aren aren't around as at back
been before beforehand behind being below beside besides between beyond both but by can cannot could
couldn couldn't d didn didn't doesn doesn't don don't down due during either else elsewhere empty enough
even ever everyone everything everywhere except first for former formerly from hadn hadn't hasn hasn't
haven haven't he hence her here hereafter hereby herein hereupon hers herself him himself his how however
hundred i if in indeed into is isn isn't it it's its itself just latter latterly least ll may me
meanwhile mightn mightn't mine more moreover most mostly must mustn mustn't my myself namely needn
needn't neither never nevertheless next no nobody none noone nor not nothing now nowhere o of off on once
one only onto or other others otherwise our ours ourselves out over per please s same shan shan't she
she's should've shouldn shouldn't somehow something sometime somewhere such t than that that'll the their
theirs them themselves then thence there thereafter thereby therefore therein thereupon these they this
those through throughout thru thus to too toward towards under unless until up upon used ve was wasn
wasn't we were weren weren't what whatever when whence whenever where whereafter whereas whereby wherein
whereupon wherever whether which while whither who whoever whole whom whose why with within without won
won't would wouldn wouldn't y yet you you'd you'll you're you've your yours yourself yourselves
"""
TEXTFOOLER_STOPWORDS = frozenset(_TEXTFOOLER_STOPWORDS_TEXT.split())


def prepare_offline_textattack(prefix: str | Path = sys.prefix) -> None:
    """Make ``import textattack`` work offline without touching anything outside the venv.

    * ``import textattack`` runs a one-time "post-install" that calls ``nltk.download`` six times (it
      only prints the failures) unless ``$TA_CACHE_DIR/post_install_check_3`` exists: point
      ``TA_CACHE_DIR`` into the venv and create that marker, so no download is ever attempted.
    * ``import textattack`` also builds ``StopwordModification()`` with NLTK's English stopwords
      (``textattack/augmentation/recipes.py``) and raises ``LookupError`` without that corpus. NLTK data
      cannot be downloaded here, so a stand-in corpus ``<venv>/nltk_data/corpora/stopwords/english``
      (NLTK searches ``sys.prefix/nltk_data``) is written holding TextFooler's list. It only feeds
      TextAttack's import-time defaults; the attacks below pass their stopword set explicitly.
    """
    cache = Path(os.environ.setdefault("TA_CACHE_DIR", str(Path(prefix) / "textattack-cache")))
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "post_install_check_3").touch()
    english = Path(prefix) / "nltk_data" / "corpora" / "stopwords" / "english"
    if not english.is_file():
        english.parent.mkdir(parents=True, exist_ok=True)
        english.write_text("\n".join(sorted(TEXTFOOLER_STOPWORDS)) + "\n")


prepare_offline_textattack()
warnings.filterwarnings("ignore", message=".*PYTORCH_TRANSFORMERS_CACHE.*", category=FutureWarning)

import numpy as np  # noqa: E402
import textattack  # noqa: E402
import torch  # noqa: E402
from textattack.attack_results import (  # noqa: E402
    FailedAttackResult,
    SkippedAttackResult,
    SuccessfulAttackResult,
)
from textattack.constraints.pre_transformation import (  # noqa: E402
    InputColumnModification,
    RepeatModification,
    StopwordModification,
)
from textattack.goal_functions import UntargetedClassification  # noqa: E402
from textattack.models.wrappers import ModelWrapper  # noqa: E402
from textattack.search_methods import BeamSearch, GreedyWordSwapWIR  # noqa: E402
from textattack.shared import AttackedText  # noqa: E402
from textattack.shared.utils import words_from_text  # noqa: E402
from textattack.transformations import WordSwap  # noqa: E402

from nines.adversarial.saliency import match_case, split_core  # noqa: E402
from nines.classify.encoder import EncoderClassifier  # noqa: E402

COLUMNS = ("prompt", "completion")
SEARCHES = ("greedy-delete", "greedy-gradient", "beam")
SOURCES = ("embedding", "world", "frequent")


def stopword_set() -> set[str]:
    """TextFooler's stopwords in lower and capitalised form (the constraint compares words verbatim)."""
    return set(TEXTFOOLER_STOPWORDS) | {w.capitalize() for w in TEXTFOOLER_STOPWORDS}


# ---- the victim -------------------------------------------------------------------------------------
class NinesFilterWrapper(ModelWrapper):
    """The nines filter as a 2-class TextAttack model: class 1 ("rejected") wins exactly above threshold.

    Args:
        clf: the loaded classifier; ``clf.meta.threshold`` and ``clf.meta.temperature`` define the filter.
    """

    def __init__(self, clf: EncoderClassifier) -> None:
        self.clf = clf
        self.model = clf.model  # TextAttack's goal function inspects ``model_wrapper.model``
        self.tokenizer = clf.tokenizer
        thr = float(clf.meta.threshold)
        if not 0.0 < thr < 1.0:
            raise ValueError(f"classifier threshold {thr} must be in (0, 1)")
        self.offset = math.log(thr / (1.0 - thr))
        self.temperature = float(clf.meta.temperature)
        self.model_queries = 0
        self.gradient_calls = 0

    def margins(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """``logit / T - logit(threshold)``: positive exactly when the filter rejects."""
        return self.clf.logits(list(prompts), list(completions)) / self.temperature - self.offset

    def __call__(self, text_input_list: list[Any]) -> np.ndarray:
        pairs = [_as_pair(x) for x in text_input_list]
        self.model_queries += len(pairs)
        m = self.margins([p for p, _ in pairs], [c for _, c in pairs])
        return np.stack([np.zeros_like(m), m], axis=1)  # float64: softmax never saturates to exactly 1

    def _full_encoding(self, prompt: str, completion: str) -> list[int]:
        return self.tokenizer(prompt, completion, truncation=False)["input_ids"]

    def _tokenize(self, inputs: list[Any]) -> list[list[str]]:
        # Untruncated tokens: get_grad places the (truncated) model's gradient rows into this frame.
        return [self.tokenizer.convert_ids_to_tokens(self._full_encoding(*_as_pair(x))) for x in inputs]

    def get_grad(self, text_input: Any) -> dict[str, Any]:
        """d(margin)/d(input embeddings), one row per token of the untruncated pair encoding."""
        prompt, completion = _as_pair(text_input)
        self.gradient_calls += 1
        model = self.clf.model
        was_training = model.training
        model.eval()  # no dropout: the ranking must be deterministic (TextAttack's HF wrapper uses train())
        batch = self.clf.encode([prompt], [completion])
        ids = batch.pop("input_ids")
        emb = model.get_input_embeddings()(ids).detach().requires_grad_(True)  # (1, L, H)
        with torch.enable_grad():
            logit = model(inputs_embeds=emb, **batch).logits[0, 0]
            (logit / self.temperature - self.offset).backward()
        grad = emb.grad[0].detach().cpu().numpy()  # (L, H)
        if was_training:
            model.train()
        full = self._full_encoding(prompt, completion)
        kept = ids[0].tolist()
        out = np.zeros((len(full), grad.shape[1]), dtype=grad.dtype)
        # Left truncation drops the first (len(full) - len(kept)) prompt tokens right after [CLS];
        # everything else lines up one to one.
        shift = len(full) - len(kept)
        out[0] = grad[0]
        out[1 + shift:] = grad[1:]
        return {"ids": [full], "gradient": out}


def _as_pair(x: Any) -> tuple[str, str]:
    if isinstance(x, (tuple, list)) and len(x) == 2:
        return str(x[0]), str(x[1])
    raise TypeError(f"expected a (prompt, completion) pair, got {type(x).__name__}")


# ---- candidates ---------------------------------------------------------------------------------------
CandidateFn = Callable[[list[str], int, int], list[str]]


def _frequent_words_source(n_samples: int = 5000) -> CandidateFn:
    """Development fallback: the most frequent StoryWorld completion words (no meaning whatsoever)."""
    from nines.storyworld import StoryWorld

    batch = StoryWorld(seed=0).sample(n_samples, seed=12345)
    counts = Counter(w.lower() for c in batch.completions for w in words_from_text(c))
    stop = stopword_set()
    vocab = [w for w, _ in counts.most_common() if w not in stop and w.isalpha()]

    def fn(words: list[str], index: int, k: int) -> list[str]:
        w = words[index].lower()
        return [v for v in vocab if v != w][:k]

    return fn


def _embedding_source(clf: EncoderClassifier) -> CandidateFn:
    from nines.adversarial.candidates import EmbeddingNeighbours

    gen = EmbeddingNeighbours(clf)
    return lambda words, index, k: list(gen.substitutes(list(words), index, k))


class WorldSynonyms:
    """StoryWorld's own interchangeable words, as a word-level candidate source (``world``).

    ``nines.adversarial.world`` searches StoryWorld's latent states (whole-sentence moves), which a
    TextAttack word swap cannot express; its ``synonym`` move swaps a completion sentence for another
    variant of the same template. This source takes the same tables (``StoryWorld.tables``: every
    template's variants) and records, for each pair of variants of one template that differ in exactly one
    word, that word pair ("stabbed"/"cut", "arm"/"shoulder", "screamed"/"gasped"). Candidates for a word
    are its recorded alternatives, most frequent first, in the word's case. A swap that turns one world
    sentence into another the world can produce keeps the oracle's label exact; elsewhere the oracle
    answers ``None`` and the find counts as unverified.
    """

    def __init__(self, world: Any = None) -> None:
        from nines.storyworld import StoryWorld

        tb = (world or StoryWorld(seed=0)).tables
        pool = tb.template_variants
        counts: Counter[tuple[str, str]] = Counter()
        for t in range(len(pool.length)):
            start = int(pool.start[t])
            variants = pool.flat[start:start + int(pool.length[t])].tolist()
            toks = [[w.lower() for w in words_from_text(tb.variant_fmt[v])] for v in variants]
            for x in toks:
                for y in toks:
                    if len(x) != len(y):
                        continue
                    diff = [(u, v) for u, v in zip(x, y) if u != v]
                    if len(diff) == 1 and diff[0][0].isalpha() and diff[0][1].isalpha():
                        counts[diff[0]] += 1
        table: dict[str, list[tuple[int, str]]] = {}
        for (u, v), n in counts.items():
            table.setdefault(u, []).append((-n, v))
        self.table = {u: [v for _, v in sorted(vs)] for u, vs in table.items()}

    def substitutes(self, words: list[str], index: int, k: int) -> list[str]:
        return self.table.get(split_core(words[index])[1].lower(), [])[:k]


def build_sources(names: Sequence[str], clf: EncoderClassifier) -> dict[str, CandidateFn]:
    makers: dict[str, Callable[[], CandidateFn]] = {
        "embedding": lambda: _embedding_source(clf),
        "world": lambda: WorldSynonyms().substitutes,
        "frequent": _frequent_words_source,
    }
    out = {}
    for name in names:
        if name not in makers:
            raise SystemExit(f"unknown candidate source {name!r}; choose from {', '.join(SOURCES)}")
        out[name] = makers[name]()
    return out


def _is_single_word(s: str) -> bool:
    return bool(s) and words_from_text(s) == [s]


class NinesCandidateSwap(WordSwap):
    """Word swaps whose candidates come from nines' generators, called with the word's own column as context.

    Args:
        sources: name -> ``fn(words, index, k) -> list[str]``; ``words`` are the words of the column the
            word is in (TextAttack's word split) and ``index`` is its position there.
        k: candidates per word in total (sources are merged round-robin, duplicates dropped).
    """

    def __init__(self, sources: dict[str, CandidateFn], k: int) -> None:
        super().__init__()
        self.sources = sources
        self.k = k

    def candidates(self, words: list[str], index: int) -> list[str]:
        lists = [list(fn(words, index, self.k)) for fn in self.sources.values()]
        # Sources return bare words; put back the original's case and its affixes ("Yuki's" -> "Mara's"),
        # as nines' own token search does when it applies an edit.
        prefix, core, suffix = split_core(words[index])
        out: list[str] = []
        seen = {words[index]}
        for rank in range(max((len(x) for x in lists), default=0)):
            for lst in lists:
                if rank < len(lst):
                    c = prefix + match_case(str(lst[rank]).strip(), core) + suffix
                    # A candidate must stay one TextAttack word, or the word indices would shift.
                    if c not in seen and _is_single_word(c):
                        seen.add(c)
                        out.append(c)
        return out[: self.k]

    def _get_transformations(self, current_text: AttackedText, indices_to_modify: Any) -> list[AttackedText]:
        per_col = current_text.words_per_input
        starts = np.cumsum([0] + [len(w) for w in per_col])
        out = []
        for i in sorted(indices_to_modify):
            col = int(np.searchsorted(starts, i, side="right") - 1)
            local = i - int(starts[col])
            for r in self.candidates(list(per_col[col]), local):
                out.append(current_text.replace_word_at_index(i, r))
        return out

    def extra_repr_keys(self) -> list[str]:
        return ["k"]

    def __repr__(self) -> str:
        return f"NinesCandidateSwap(sources={list(self.sources)}, k={self.k})"


# ---- the attack ------------------------------------------------------------------------------------------
def build_attack(wrapper: NinesFilterWrapper, search: str, transformation: WordSwap, budget: int,
                 columns: str, beam_width: int, batch_size: int) -> textattack.Attack:
    # GreedyWordSwapWIR(gradient) takes exactly one gradient per example, outside TextAttack's query count;
    # nines charges a gradient as one query, so that search gets one query less and stays within budget.
    goal_budget = budget - 1 if search == "greedy-gradient" else budget
    goal = UntargetedClassification(wrapper, query_budget=goal_budget, model_batch_size=batch_size)
    constraints: list[Any] = [RepeatModification(), StopwordModification(stopwords=stopword_set())]
    if columns == "completion":
        constraints.append(InputColumnModification(list(COLUMNS), {"prompt"}))
    if search == "greedy-delete":
        method: Any = GreedyWordSwapWIR(wir_method="delete")
    elif search == "greedy-gradient":
        method = GreedyWordSwapWIR(wir_method="gradient")
    elif search == "beam":
        method = BeamSearch(beam_width=beam_width)
    else:
        raise SystemExit(f"unknown search {search!r}; choose from {', '.join(SEARCHES)}")
    return textattack.Attack(goal, constraints, transformation, method)


def _texts(at: AttackedText) -> dict[str, str]:
    return dict(zip(at.column_labels, at.tokenizer_input))


def _word_edits(before: AttackedText, after: AttackedText) -> list[str]:
    edits = []
    for col, (a, b) in zip(before.column_labels, zip(before.words_per_input, after.words_per_input)):
        if len(a) == len(b):
            edits += [f"swap {x!r}->{y!r} @ {col}:{j}" for j, (x, y) in enumerate(zip(a, b)) if x != y]
        elif a != b:
            edits.append(f"rewrite {col}")
    return edits


def attack_one(attack: textattack.Attack, wrapper: NinesFilterWrapper,
               example: dict[str, Any]) -> dict[str, Any]:
    text = AttackedText(OrderedDict([("prompt", example["prompt"]), ("completion", example["completion"])]))
    wrapper.model_queries = 0
    wrapper.gradient_calls = 0
    t0 = time.perf_counter()
    result = attack.attack(text, 1)
    seconds = time.perf_counter() - t0
    kind = ("success" if isinstance(result, SuccessfulAttackResult) else
            "skipped" if isinstance(result, SkippedAttackResult) else
            "failure" if isinstance(result, FailedAttackResult) else type(result).__name__)
    final = result.perturbed_result
    perturbed = _texts(final.attacked_text)
    scores = wrapper.clf.score([example["prompt"], perturbed["prompt"]],
                               [example["completion"], perturbed["completion"]])  # not counted
    return {
        "id": example.get("id"),
        "original": {"prompt": example["prompt"], "completion": example["completion"]},
        "perturbed": perturbed,
        "result": kind,
        "queries": int(final.num_queries),
        "model_queries": wrapper.model_queries,
        "gradient_calls": wrapper.gradient_calls,
        "seconds": seconds,
        "original_score": float(scores[0]),
        "perturbed_score": float(scores[1]),
        "accepted": bool(scores[1] <= wrapper.clf.meta.threshold),
        "edits": _word_edits(result.original_result.attacked_text, final.attacked_text),
    }


def _versions() -> dict[str, str]:
    out = {}
    for name in ("textattack", "torch", "transformers", "tokenizers", "flair", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    out["python"] = sys.version.split()[0]
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", help="saved nines classifier folder (HF folder + nines.json)")
    ap.add_argument("--input", help="JSONL of {id, prompt, completion} snippets to attack")
    ap.add_argument("--out", help="where to write the JSON results")
    ap.add_argument("--search", default="greedy-delete,greedy-gradient,beam",
                    help=f"comma-separated TextAttack search methods: {', '.join(SEARCHES)}")
    ap.add_argument("--beam-width", type=int, default=4)
    ap.add_argument("--budget", type=int, default=300, help="TextAttack query budget per example")
    ap.add_argument("--candidates", default="embedding,world",
                    help=f"comma-separated candidate sources: {', '.join(SOURCES)}")
    ap.add_argument("--k", type=int, default=20, help="candidates per word (all sources together)")
    ap.add_argument("--columns", choices=("completion", "both"), default="completion",
                    help="which columns the attack may edit (default: the completion only)")
    ap.add_argument("--max-examples", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="only check that TextAttack and nines import offline; print versions and exit")
    args = ap.parse_args(argv)
    if not args.check and not (args.classifier and args.input and args.out):
        ap.error("--classifier, --input and --out are required (unless --check)")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.check:
        lexicon = WorldSynonyms()
        print(json.dumps({"versions": _versions(), "world_synonym_words": len(lexicon.table)}, indent=2))
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    transformers.logging.set_verbosity_error()
    clf = EncoderClassifier.load(args.classifier, device=args.device)
    clf.model.eval()
    wrapper = NinesFilterWrapper(clf)
    examples = [json.loads(line) for line in Path(args.input).read_text().splitlines() if line.strip()]
    if args.max_examples is not None:
        examples = examples[: args.max_examples]
    sources = build_sources([s.strip() for s in args.candidates.split(",") if s.strip()], clf)
    transformation = NinesCandidateSwap(sources, args.k)
    searches = [s.strip() for s in args.search.split(",") if s.strip()]
    runs = []
    for search in searches:
        attack = build_attack(wrapper, search, transformation, args.budget, args.columns, args.beam_width,
                              args.batch_size)
        t0 = time.perf_counter()
        results = []
        for ex in examples:
            r = attack_one(attack, wrapper, ex)
            results.append(r)
            if not args.quiet:
                print(f"[{search}] {r['id']}: {r['result']} in {r['queries']} queries, {r['seconds']:.1f}s "
                      f"(score {r['original_score']:.3f} -> {r['perturbed_score']:.3f})", file=sys.stderr)
        counts = Counter(r["result"] for r in results)
        runs.append({"search": search, "attack": repr(attack), "seconds": time.perf_counter() - t0,
                     "counts": dict(counts), "results": results})
    recipe = {
        "goal_function": "UntargetedClassification(ground_truth=1 'rejected'; success = filter accepts)",
        "model_wrapper": "NinesFilterWrapper: logits [0, logit/T - logit(threshold)]",
        "searches": {s: {"greedy-delete": "GreedyWordSwapWIR(wir_method='delete')",
                         "greedy-gradient": "GreedyWordSwapWIR(wir_method='gradient')",
                         "beam": f"BeamSearch(beam_width={args.beam_width})"}[s] for s in searches},
        "transformation": repr(transformation),
        "candidate_sources": list(sources),
        "k": args.k,
        "constraints": ["RepeatModification()", "StopwordModification(TextFooler's list, explicit)"]
        + (["InputColumnModification(['prompt', 'completion'], {'prompt'})"] if args.columns == "completion"
           else []),
        "columns": args.columns,
        "query_budget": args.budget,
        "query_counting": "TextAttack's goal-function count (cache hits included); model_queries = pairs "
                          "scored by the model; gradient_calls = forward+backward passes for gradient WIR "
                          "(greedy-gradient runs with query_budget - 1, so queries + gradient_calls "
                          "<= budget)",
        "classifier": str(args.classifier),
        "threshold": clf.meta.threshold,
        "temperature": clf.meta.temperature,
        "versions": _versions(),
        "threads": torch.get_num_threads(),
    }
    out = {"recipe": recipe, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float))
    if not args.quiet:
        for run in runs:
            print(f"{run['search']}: {run['counts']} in {run['seconds']:.1f}s", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
