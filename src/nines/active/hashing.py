"""A cheap text classifier that can be refit from scratch every active-learning round on a CPU.

Hashed word 1-3 grams of the completion plus hashed word 1-2 grams of the prompt (two separate
feature blocks, so the completion's words are not confused with the prompt's), and an L2
logistic regression (liblinear). Featurising is done once per pool; a refit on a few thousand labels takes
tens of milliseconds and scoring 200k items is one sparse matrix-vector product. A neural encoder
(re-embedding or fine-tuning every round) would be far too slow for a benchmark of many rounds,
strategies and seeds on 2 CPU cores.

Needs scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

#: Hashed feature dimension of each block (completion, prompt).
N_FEATURES = 2**16


def featurize(prompts: Sequence[str], completions: Sequence[str], n_features: int = N_FEATURES) -> sp.csr_matrix:
    """Sparse features for (prompt, completion) pairs.

    Args:
        prompts: prompt texts.
        completions: completion texts (same length as ``prompts``).
        n_features: hashed dimension of each of the two blocks.

    Returns:
        CSR matrix of shape ``(n, 2 * n_features)``: completion 1-3 grams, then prompt 1-2 grams,
        each row block L2-normalised.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    comp = HashingVectorizer(n_features=n_features, ngram_range=(1, 3), alternate_sign=False)
    prom = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False)
    return sp.hstack([comp.transform(completions), prom.transform(prompts)], format="csr")


@dataclass
class HashingModel:
    """A fitted linear model (or a constant when the labels held one class only)."""

    coef: np.ndarray | None
    intercept: float
    constant: float | None = None


def fit(X: sp.csr_matrix, y: np.ndarray, C: float = 10.0) -> HashingModel:
    """Fit a logistic regression from scratch.

    Args:
        X: features of the labelled items (from :func:`featurize`).
        y: boolean labels (True = injurious).
        C: inverse L2 strength (the same for every strategy in a comparison).

    Returns:
        The fitted model; with a single class in ``y`` a constant model scoring that class's rate.
    """
    yb = np.asarray(y).astype(bool)
    if len(yb) == 0:
        raise ValueError("cannot fit on zero labelled items")
    if yb.all() or not yb.any():
        return HashingModel(None, 0.0, constant=float(yb.mean()))
    lr = LogisticRegression(C=C, solver="liblinear", class_weight="balanced")
    lr.fit(X, yb)
    return HashingModel(lr.coef_.ravel().astype(np.float64), float(lr.intercept_[0]))


def score(model: HashingModel, X: sp.csr_matrix) -> np.ndarray:
    """Probability of ``injurious`` per row of ``X``."""
    if model.constant is not None or model.coef is None:
        return np.full(X.shape[0], model.constant if model.constant is not None else 0.0)
    z = X @ model.coef + model.intercept
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
