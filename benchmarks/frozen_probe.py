"""Frozen-encoder probes: is the backbone's pretrained knowledge, not fine-tuning, what reads real prose?

Run (in the project venv, after ``make bench-deps`` for mpnet)::

    .venv/bin/python benchmarks/frozen_probe.py
    .venv/bin/python benchmarks/frozen_probe.py --classifier runs/generalization/_models/<key>/member0/model

Each probe is a logistic regression (scikit-learn) on frozen, mean-pooled sentence embeddings of
the real-prose corpus's training batches, with nothing from StoryWorld. It is scored by ROC AUC on
the corpus's test batches and on the third-party dev set (``../shared``; the script stops with a
message when it is absent). The named baseline is ``--classifier``, a fine-tuned nines classifier
(for example the ``prose-x2`` model ``benchmarks/generalization.py`` saves), scored on the same rows
in the same run; ``+ probe`` rows average its calibrated score with a probe's probability, a
combination a filter could deploy (no statistics of the scored set are used).

Inputs are the completion alone or the prompt and completion joined by a space. Encoders: the
embedded all-MiniLM-L6-v2 (the classifier's own starting point) and all-mpnet-base-v2 when its PyPI
parts are installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nines.data.record import Snippet


@dataclass(frozen=True)
class Sets:
    train: list[Snippet]
    test: list[Snippet]
    dev: list[Snippet]


def load_sets() -> Sets:
    from nines.data.devset import DevsetUnavailable, load_devset, to_snippets
    from nines.data.prose import load_prose

    try:
        dev = to_snippets(load_devset())
    except DevsetUnavailable as e:
        raise SystemExit(f"the dev set needs ../shared: {e}") from None
    rows = load_prose()
    return Sets([s for s in rows if s.split == "train"], [s for s in rows if s.split == "test"], dev)


def load_encoder(folder: str) -> tuple[Any, Any]:
    """The tokenizer and frozen encoder in ``folder`` (loaded once per encoder, not per set)."""
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def embed(encoder: tuple[Any, Any], texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised last hidden states, shape ``(N, H)`` (sentence-transformers' pooling)."""
    import torch

    tok, model = encoder
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(list(texts[i:i + batch_size]), padding=True, truncation=True, max_length=256,
                      return_tensors="pt")
            h = model(**enc).last_hidden_state  # (B, T, H)
            mask = enc["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            out.append(torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    return np.concatenate(out)


def labels(rows: Sequence[Snippet]) -> np.ndarray:
    return np.array([bool(s.is_injurious) for s in rows])


def auc(scores: np.ndarray, rows: Sequence[Snippet]) -> float:
    from nines.evaluate.prose_eval import roc_auc

    a = roc_auc(np.asarray(scores, dtype=float), labels(rows))
    return float("nan") if a is None else a


def encoders() -> list[tuple[str, str]]:
    from nines.classify.backbones import mpnet_path
    from nines.classify.encoder import resolve_backbone

    found = [("MiniLM-L6", resolve_backbone("sentence-transformers/all-MiniLM-L6-v2"))]
    mp = mpnet_path()
    if mp is None:
        print("all-mpnet-base-v2 is not installed (make bench-deps); its rows are left out")
    else:
        found.append(("mpnet-base", str(mp)))
    return found


INPUTS: dict[str, Callable[[Snippet], str]] = {
    "completion": lambda s: s.completion,
    "pair": lambda s: f"{s.prompt} {s.completion}",
}


def probe(encoder: tuple[Any, Any], field: str, sets: Sets, c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The probe's p(injurious) on the test batches and the dev set, and its embedding seconds."""
    from sklearn.linear_model import LogisticRegression

    t = time.time()
    x = [embed(encoder, [INPUTS[field](s) for s in rows]) for rows in (sets.train, sets.test, sets.dev)]
    secs = time.time() - t
    lr = LogisticRegression(C=c, max_iter=5000).fit(x[0], labels(sets.train))
    return lr.predict_proba(x[1])[:, 1], lr.predict_proba(x[2])[:, 1], secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default="", help="a trained nines classifier folder: the baseline row")
    ap.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    args = ap.parse_args()
    sets = load_sets()
    print(f"corpus train {len(sets.train)}, corpus test {len(sets.test)}, dev {len(sets.dev)} "
          f"({labels(sets.dev).sum()} injurious)")
    rows: list[tuple[str, float, float, str]] = []
    base = None
    if args.classifier:
        from nines.classify.encoder import EncoderClassifier

        clf = EncoderClassifier.load(args.classifier)
        base = [clf.score([s.prompt for s in r], [s.completion for s in r]) for r in (sets.test, sets.dev)]
        rows.append(("fine-tuned classifier (baseline)", auc(base[0], sets.test), auc(base[1], sets.dev), ""))
    for enc_name, folder in encoders():
        encoder = load_encoder(folder)
        for field in INPUTS:
            test_p, dev_p, secs = probe(encoder, field, sets, args.C)
            name = f"frozen {enc_name}, {field}"
            rows.append((name, auc(test_p, sets.test), auc(dev_p, sets.dev), f"{secs:.0f}"))
            if base is not None:
                rows.append((f"baseline + probe ({name})", auc((base[0] + test_p) / 2, sets.test),
                             auc((base[1] + dev_p) / 2, sets.dev), ""))
            print(rows[-1], flush=True)
    print("\n| model | corpus-test AUC | dev AUC | embed s |\n|---|---|---|---|")
    for name, a, b, s in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {s} |")


if __name__ == "__main__":
    main()
