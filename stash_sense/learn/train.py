"""One linear classifier per user tag on stored CLIP vectors, judged by cross-validation.

Why logistic regression on frozen CLIP vectors: a user has tens to hundreds of examples per tag;
a linear probe is what few-shot CLIP work shows holds up at that size, trains in a fraction of a
second on 10,000 x 512, and its weights are a 2 KB vector (a small file, no torch to predict).
Class weights balance the rare tag against the many scenes without it.

Why cross-validation decides activation: a learned tag may write to the user's library, so it is
switched on only when out-of-fold predictions (each scene scored by a model that never saw it)
reach the wanted precision at some probability threshold; that threshold is kept. The deployed
model is the mean of the fold models (linear, so this is one weight vector), which costs no extra
fit and is the model whose scores the threshold was chosen on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOLDS = 3
MIN_TRUE_POSITIVES = 2   # a threshold that catches one scene proves nothing


@dataclass
class FitResult:
    weights: np.ndarray          # D float32
    bias: float
    threshold: float             # probability; 1.0 when inactive
    precision: float             # cross-validated, at the threshold (or the best reached)
    recall: float
    active: bool
    reason: str


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def choose_threshold(scores: np.ndarray, truth: np.ndarray, target: float,
                     weights: np.ndarray | None = None) -> tuple[float | None, float, float]:
    """The lowest score threshold whose precision (weighted: sampled negatives count for the
    ones left out) is >= target, with its precision and recall; (None, best precision, its
    recall) when none reaches it. Ties are cut together, never between equal scores."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, float)
    order = np.argsort(-scores, kind="stable")
    s, t, w = scores[order], truth[order].astype(bool), weights[order]
    tp = np.cumsum(w * t)
    fp = np.cumsum(w * ~t)
    total = float((w * t).sum())
    last = np.r_[s[1:] != s[:-1], True]          # a cut only after the last of equal scores
    idx = np.nonzero(last)[0]
    precision = tp[idx] / np.maximum(tp[idx] + fp[idx], 1e-12)
    recall = tp[idx] / max(total, 1e-12)
    ok = (precision >= target) & (np.cumsum(t)[idx] >= MIN_TRUE_POSITIVES)
    if ok.any():
        best = np.nonzero(ok)[0][-1]             # lowest threshold that still meets the target
        return float(s[idx[best]]), float(precision[best]), float(recall[best])
    best = int(np.argmax(np.where(np.cumsum(t)[idx] >= 1, precision, -1)))
    return None, float(precision[best]), float(recall[best])


def fit_tag(X: np.ndarray, y: np.ndarray, target_precision: float, *,
            sample_weight: np.ndarray | None = None, seed: int = 0, C: float = 1.0,
            groups: np.ndarray | None = None) -> FitResult:
    """X: S x D (unit vectors), y: 0/1. sample_weight: how many scenes each row stands for
    (negatives may be subsampled for speed; they count for all of them in the precision).
    groups: the scene of each row when rows are frames — a scene's frames stay in one fold, or
    its neighbouring frames would make the cross-validation flatter itself."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - only the learn task
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold  # noqa: PLC0415

    y = np.asarray(y, int)
    n_pos = int(y.sum())
    folds = min(FOLDS, n_pos, len(y) - n_pos)
    if groups is not None:
        folds = min(folds, len(set(np.asarray(groups)[y == 1].tolist())))
    if folds < 2:
        return FitResult(np.zeros(X.shape[1], np.float32), 0.0, 1.0, 0.0, 0.0, False,
                         "too few examples on one side to cross-validate")
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    oof = np.zeros(len(y))
    coefs, biases = [], []
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed) if groups is None else
                StratifiedGroupKFold(folds, shuffle=True, random_state=seed))
    for train, test in splitter.split(X, y, groups):
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=300)
        model.fit(X[train], y[train], sample_weight=weight[train])
        oof[test] = model.decision_function(X[test])
        coefs.append(model.coef_[0])
        biases.append(float(model.intercept_[0]))
    threshold, precision, recall = choose_threshold(sigmoid(oof), y, target_precision, weight)
    w = np.mean(coefs, axis=0).astype(np.float32)
    b = float(np.mean(biases))
    if threshold is None:
        return FitResult(w, b, 1.0, precision, recall, False,
                         f"cross-validated precision reaches at most {precision:.2f} "
                         f"(recall {recall:.2f}), below learnPrecision {target_precision:.2f}")
    return FitResult(w, b, threshold, precision, recall, True,
                     f"precision {precision:.2f} at threshold {threshold:.2f}")
