"""Task `learn` ("Learn tags from my library"): a classifier per user tag on stored CLIP vectors.

For every tag (the vocabulary's or the user's own, workflow tags excepted) carried by at least
`learnMinScenes` analysed scenes by the user's own hand (labels.py), a class-weighted logistic
regression on the scenes' pooled vectors is cross-validated; it becomes active only when its
out-of-fold precision reaches `learnPrecision` at some threshold (train.py). The models go to one
small file for the embedding model (model.py). Then active tags are proposed on analysed scenes
that lack them, through the same path as `retag` (every stored finding of the scene, not only the
learned ones, so nothing else the plugin wrote is taken back) and the one writer. The scene tab's
accepts and rejects of those proposals are labels at the next learn.

Memory: the pooled vectors (S x D float32, 20 MB for 10,000 scenes at 512 d) are the only
matrix; frame blobs are read one scene at a time, only for scenes written to.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from .. import log
from ..learn.labels import read_labels
from ..learn.model import LearnedModels, LearnedTag
from ..learn.predict import ANALYZER, predict_pooled
from ..learn.threads import one_blas_thread
from ..learn.train import fit_tag
from ..store.embeddings import EmbeddingStore, SceneVectors
from .reports import LEARNED_FILE, write_report

if TYPE_CHECKING:
    from ..context import Context

MAX_NEGATIVES = 4000     # negatives beyond this (and beyond 20 x support) are sampled, weighted up
NEGATIVE_SCENES = 50     # frame level: scenes without the tag whose frames are negatives


def learn(ctx: Context) -> dict:
    started = time.perf_counter()
    settings = ctx.settings
    embeddings = EmbeddingStore(ctx.store)
    model_id = embeddings.latest_model_id()
    if model_id is None:
        ctx.progress.set(1.0)
        return {"tags": [], "message": "no stored image embeddings yet: run 'Tag TagMe scenes' "
                                       "with the clip analyzer first"}
    labels = read_labels(ctx.api, ctx.store, settings)
    ids, pooled = embeddings.pooled_matrix(model_id)
    t_read = time.perf_counter() - started
    with one_blas_thread():
        learned, reports = train_all(labels, ids, pooled, settings, ctx.progress,
                                     frames_of=lambda sids: embeddings.iter_scenes(model_id, sids))
    models = LearnedModels(model_id, learned, time.time())
    path = models.save(settings.data_dir)
    t_train = time.perf_counter() - started - t_read
    for r in reports:
        log.info(f"learned {r['name']!r}: support {r['support']}, CV precision "
                 f"{r['cv_precision']:.2f} recall {r['cv_recall']:.2f}, "
                 f"{'ACTIVE' if r['active'] else 'inactive'} ({r['reason']})")
    proposed = {}
    if str(ctx.args.get("propose", "true")).lower() not in ("false", "0", "no"):
        with one_blas_thread():
            proposed = propose(ctx, models, ids, pooled)
    result = {"model_id": model_id, "scenes_with_embeddings": len(ids),
              "generated_at": time.time(), "learn_precision": settings.learnPrecision,
              "learn_min_scenes": settings.learnMinScenes,
              "tags": reports, "active": sum(r["active"] for r in reports), "file": path,
              "proposed": proposed,
              "seconds": {"read": round(t_read, 2), "train": round(t_train, 2),
                          "total": round(time.perf_counter() - started, 2)}}
    write_report(settings.data_dir, LEARNED_FILE, result)
    log.info(f"Stash Sense: learned {len(reports)} tag(s), {result['active']} active, over "
             f"{len(ids)} scenes in {result['seconds']['train']} s")
    ctx.progress.set(1.0)
    return result


def train_all(labels, ids: list[str], pooled: np.ndarray, settings, progress=None,
              seed: int = 0, frames_of: Callable[[list[str]], Iterable[SceneVectors]] | None = None
              ) -> tuple[list[LearnedTag], list[dict]]:
    """Every tag with support on analysed scenes: fitted when it has enough, reported either way.
    frames_of(scene ids) streams stored frame vectors, for tags the user marked with times."""
    index = {sid: i for i, sid in enumerate(ids)}
    rng = np.random.default_rng(seed)
    candidates = []
    for tid, scenes in labels.positives.items():
        members = sorted(index[s] for s in scenes if s in index)
        if members:
            candidates.append((labels.tags[tid], np.array(members, int)))
    candidates.sort(key=lambda c: (-len(c[1]), c[0].name.lower()))
    learned, reports = [], []
    for n, (tag, pos) in enumerate(candidates, 1):
        report = {"tag_id": tag.id, "name": tag.name, "support": int(len(pos)),
                  "cv_precision": 0.0, "cv_recall": 0.0, "threshold": None, "active": False,
                  "level": "scene"}
        if len(pos) < settings.learnMinScenes:
            report["reason"] = (f"{len(pos)} analysed scene(s) carry it; learnMinScenes is "
                                f"{settings.learnMinScenes}")
            reports.append(report)
            continue
        is_pos: np.ndarray = np.zeros(len(ids), bool)
        is_pos[pos] = True
        neg = np.nonzero(~is_pos)[0]
        cap = max(MAX_NEGATIVES, 20 * len(pos))
        weight_neg = 1.0
        if len(neg) > cap:
            weight_neg = len(neg) / cap
            neg = np.sort(rng.choice(neg, cap, replace=False))
        rows = np.concatenate([pos, neg])
        y = np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]
        w = np.r_[np.ones(len(pos)), np.full(len(neg), weight_neg)]
        fit = fit_tag(pooled[rows], y, settings.learnPrecision, sample_weight=w, seed=seed)
        report.update(cv_precision=round(fit.precision, 4), cv_recall=round(fit.recall, 4),
                      threshold=round(fit.threshold, 4) if fit.active else None,
                      active=fit.active, reason=fit.reason, negatives=int((~is_pos).sum()))
        reports.append(report)
        item = LearnedTag(tag.id, tag.name, tuple(tag.aliases), fit.weights, fit.bias,
                          fit.threshold, fit.active, report)
        marked = {s: spans for s, spans in labels.markers.get(tag.id, {}).items() if s in index}
        if frames_of is not None and len(marked) >= 2:
            fit_frames(item, marked, [ids[i] for i in neg], frames_of, settings, rng, seed)
        learned.append(item)
        if progress is not None:
            progress.set(0.8 * n / len(candidates))
    return learned, reports


def fit_frames(item: LearnedTag, marked: dict[str, list[tuple[float, float]]],
               negatives: list[str], frames_of, settings, rng, seed: int) -> None:
    """Frame level: the frames inside the user's markers against the rest of those scenes and the
    frames of up to NEGATIVE_SCENES scenes without the tag (read one scene at a time)."""
    take = list(rng.choice(negatives, min(len(negatives), max(NEGATIVE_SCENES, len(marked))),
                           replace=False)) if negatives else []
    X: list[np.ndarray] = []
    y: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    for g, vec in enumerate(frames_of(sorted(marked) + sorted(take))):
        spans = marked.get(vec.scene_id, [])
        mid = vec.times[:, 0] + vec.times[:, 1] / 2
        inside: np.ndarray = np.zeros(len(mid), bool)
        for a, b in spans:
            inside |= (mid >= a) & (mid <= b)
        X.append(vec.frames)
        y.append(inside.astype(int))
        groups.append(np.full(len(mid), g))
    if not X:
        return
    fit = fit_tag(np.concatenate(X), np.concatenate(y), settings.learnPrecision, seed=seed,
                  groups=np.concatenate(groups))
    item.report.update(level="scene+frame" if fit.active else "scene", marked_scenes=len(marked),
                       frame_cv_precision=round(fit.precision, 4),
                       frame_cv_recall=round(fit.recall, 4), frame_reason=fit.reason)
    if fit.active:
        item.frame_weights, item.frame_bias, item.frame_threshold = (fit.weights, fit.bias,
                                                                     fit.threshold)


def propose(ctx: Context, models: LearnedModels, ids: list[str], pooled: np.ndarray) -> dict:
    """Re-tag (from stored results, through the writer) the scenes an active learned tag passes
    on, and those carrying a learned tag of ours that may no longer pass."""
    from .retag import retag  # noqa: PLC0415
    active = models.active
    hits = {ids[row] for row, _, _ in predict_pooled(active, pooled)}
    ours = {r[0] for r in ctx.store.db.execute(
        "SELECT scene_id FROM owned WHERE kind='tag' AND detail LIKE ?", (f'%"{ANALYZER}"%',))}
    ours |= {r[0] for r in ctx.store.db.execute(
        "SELECT scene_id FROM suggestions WHERE analyzer=? AND status='open'", (ANALYZER,))}
    scene_ids = sorted(hits | ours, key=lambda s: (len(s), s))
    if not scene_ids:
        return {"scenes": 0}
    result = retag(ctx, scene_ids)
    return {k: result[k] for k in ("scenes", "changed", "unchanged", "errored")}
