"""Learning on embeddings whose structure is known: separable clusters are learned and made active,
labels without structure stay inactive with a reason, thresholds are chosen honestly, model files
belong to one embedding model, and predictions give confidence and segments."""
import os

import numpy as np
import pytest

from stash_sense.learn.evaluate import tag_quality
from stash_sense.learn.labels import LibraryLabels, TagInfo
from stash_sense.learn.model import LearnedModels, path_for
from stash_sense.learn.predict import predict_pooled, scene_findings
from stash_sense.learn.train import choose_threshold
from stash_sense.settings import load_settings
from stash_sense.store.embeddings import SceneVectors

sklearn = pytest.importorskip("sklearn")


def clusters(rng, n, d=64, k=4, spread=0.35):
    """n unit vectors around k random centres; returns (X, cluster of each row)."""
    centres = rng.standard_normal((k, d))
    which = rng.integers(0, k, n)
    X = centres[which] + spread * rng.standard_normal((n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), which


def settings(tmp_path, **kw):
    return load_settings({}, {"dataDir": str(tmp_path), **kw}, str(tmp_path))


def labels_for(positives: dict[str, set[str]]) -> LibraryLabels:
    return LibraryLabels(tags={t: TagInfo(t, t.title()) for t in positives},
                         positives={t: set(s) for t, s in positives.items()})


def test_choose_threshold_is_the_lowest_that_meets_the_target():
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    truth = np.array([1, 1, 1, 0, 1, 0])
    thr, p, r = choose_threshold(scores, truth, 0.75)
    assert thr == 0.6 and p == pytest.approx(0.8) and r == 1.0
    thr, p, r = choose_threshold(scores, truth, 0.99)
    assert thr == 0.8 and p == 1.0 and r == pytest.approx(0.75)
    # one true positive proves nothing; equal scores are cut together
    thr, p, _ = choose_threshold(np.array([0.9, 0.5, 0.5]), np.array([1, 1, 0]), 0.9)
    assert thr is None and p == 1.0
    # sampled negatives count for all the scenes they stand for
    thr, p, _ = choose_threshold(scores, truth, 0.75, weights=np.array([1, 1, 1, 10, 1, 1]))
    assert thr == 0.8


def test_separable_tag_is_active_and_random_labels_are_not(tmp_path):
    from stash_sense.tasks.learn import train_all
    rng = np.random.default_rng(0)
    X, which = clusters(rng, 600)
    ids = [str(i) for i in range(600)]
    in_zero = {ids[i] for i in np.nonzero(which == 0)[0]}
    shuffled = {ids[i] for i in rng.choice(600, len(in_zero), replace=False)}
    few = set(sorted(in_zero)[:5])
    labels = labels_for({"cluster": in_zero, "noise": shuffled, "few": few})
    learned, reports = train_all(labels, ids, X, settings(tmp_path))
    by = {r["tag_id"]: r for r in reports}
    assert by["cluster"]["active"] and by["cluster"]["cv_precision"] >= 0.9
    assert by["cluster"]["cv_recall"] >= 0.9 and 0 < by["cluster"]["threshold"] < 1
    assert not by["noise"]["active"] and "below learnPrecision" in by["noise"]["reason"]
    assert not by["few"]["active"] and "learnMinScenes is 10" in by["few"]["reason"]
    assert {t.tag_id for t in learned} == {"cluster", "noise"}       # "few" is never fitted
    # the deployed model separates fresh vectors of the same structure
    cluster = next(t for t in learned if t.tag_id == "cluster")
    fresh = centres_like(rng, X, which)
    hits = {row for row, _, _ in predict_pooled([cluster], fresh[0])}
    truth = set(np.nonzero(fresh[1] == 0)[0])
    assert len(hits & truth) / max(len(hits), 1) >= 0.9 and len(hits & truth) / len(truth) >= 0.8


def centres_like(rng, X, which):
    """New samples near the empirical cluster means (the true centres are unknown here)."""
    means = np.stack([X[which == k].mean(axis=0) for k in range(which.max() + 1)])
    pick = rng.integers(0, len(means), 300)
    Y = means[pick] / np.linalg.norm(means[pick], axis=1, keepdims=True)
    Y = Y + 0.35 / np.sqrt(X.shape[1]) * rng.standard_normal(Y.shape)
    return (Y / np.linalg.norm(Y, axis=1, keepdims=True)).astype(np.float32), pick


def test_negatives_are_sampled_and_weighted_beyond_the_cap(tmp_path, monkeypatch):
    import stash_sense.tasks.learn as learn_task
    monkeypatch.setattr(learn_task, "MAX_NEGATIVES", 200)
    rng = np.random.default_rng(3)
    X, which = clusters(rng, 1500, k=6)
    ids = [str(i) for i in range(1500)]
    pos = {ids[i] for i in np.nonzero(which == 2)[0][:10]}       # 10 positives, ~1490 negatives
    _, reports = learn_task.train_all(labels_for({"t": pos}), ids, X, settings(tmp_path))
    assert reports[0]["negatives"] == 1490 and reports[0]["active"]


def test_model_file_is_owner_only_and_belongs_to_one_embedding_model(tmp_path):
    from stash_sense.learn.model import LearnedTag
    tag = LearnedTag("5", "Sunset", ("dusk",), np.ones(8, np.float32), -1.0, 0.7, True,
                     {"support": 12})
    LearnedModels("open_clip:A", [tag], 1.0).save(str(tmp_path))
    path = path_for(str(tmp_path), "open_clip:A")
    assert os.stat(path).st_mode & 0o077 == 0
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0
    back = LearnedModels.load(str(tmp_path), "open_clip:A")
    assert back.tags[0].aliases == ("dusk",) and np.allclose(back.tags[0].weights, 1.0)
    assert LearnedModels.load(str(tmp_path), "open_clip:B") is None
    LearnedModels("open_clip:B", [tag], 2.0).save(str(tmp_path))   # another model: the old goes
    assert LearnedModels.load(str(tmp_path), "open_clip:A") is None


def test_learned_findings_have_confidence_and_segments_where_frames_look_like_the_tag(tmp_path):
    from stash_sense.learn.model import LearnedTag
    d = 16
    w = np.zeros(d, np.float32)
    w[0] = 8.0
    tag = LearnedTag("5", "Sunset", (), w, -2.0, 0.6, True, {"cv_precision": 0.95})
    frames = np.zeros((10, d), np.float32)
    frames[:, 1] = 1.0
    frames[3:8, 0] = 3.0          # frames 3..7 look like the tag
    frames /= np.linalg.norm(frames, axis=1, keepdims=True)
    mean = frames.mean(axis=0)
    vectors = SceneVectors("1", "m", np.array([[i * 60.0, 60.0] for i in range(10)], np.float32),
                           frames, mean / np.linalg.norm(mean))
    s = settings(tmp_path, gapSeconds=30, minSegmentSeconds=10)
    [f] = scene_findings([tag], vectors, 600.0, s)
    assert f.analyzer == "learned" and f.name == "Sunset" and 0.6 <= f.confidence <= 1.0
    [seg] = f.segments
    assert seg.start == 180.0 and seg.end == 480.0
    off = SceneVectors("2", "m", vectors.times, frames[:, ::-1].copy(), vectors.pooled[::-1].copy())
    assert scene_findings([tag], off, 600.0, s) == []


def test_quality_counts_organized_scenes_as_answers_and_finds_the_target_threshold():
    scores = {"1": 0.9, "2": 0.8, "3": 0.7, "4": 0.6, "5": 0.0, "6": 0.95}
    truth = {"1", "2", "4", "5"}
    evaluated = {"1", "2", "3", "4", "5"}          # "6" is neither tagged nor organized: unknown
    q = tag_quality("Beach", "beach", scores, truth, evaluated, 0.9)
    assert (q.evaluated, q.positives, q.found) == (5, 4, 4)
    assert q.precision == pytest.approx(0.75) and q.recall == pytest.approx(0.75)
    assert q.threshold == 0.8 and q.precision_at == 1.0 and q.recall_at == pytest.approx(0.5)
    never = tag_quality("Pool", "pool", {}, {"1"}, {"1", "2"}, 0.9)
    assert never.precision is None and "none of the scenes you tagged" in never.note


def test_labels_do_not_count_the_plugins_own_tags_unless_the_user_confirmed_them(tmp_path):
    from stash_sense.learn.labels import read_labels
    from stash_sense.store import Store
    from stash_sense.store.ledger import Kind, Ledger, State
    store = Store(str(tmp_path / "s.sqlite"))
    ledger = Ledger(store)
    ledger.put("1", Kind.TAG, ["10"], State.COMMITTED, {"name": "Beach"})   # ours, left in place
    ledger.put("2", Kind.TAG, ["10"], State.COMMITTED, {"name": "Beach"})   # ours, scene organized
    store.suggestions.record_rejection("4", "tag", "beach", "Beach", "location", "clip")

    class Api:
        def all_tags(self):
            return [{"id": "10", "name": "Beach", "aliases": []},
                    {"id": "99", "name": "StashSense_Tagged", "aliases": []}]

        def library_page(self, page, per_page):
            scenes = [{"id": "1", "organized": False, "tags": [{"id": "10"}]},
                      {"id": "2", "organized": True, "tags": [{"id": "10"}]},
                      {"id": "3", "organized": False, "tags": [{"id": "10"}, {"id": "99"}],
                       "scene_markers": [{"seconds": 5, "end_seconds": 25,
                                          "primary_tag": {"id": "10"}}]},
                      {"id": "4", "organized": False, "tags": []}]
            return 4, scenes if page == 1 else []

    labels = read_labels(Api(), store, settings(tmp_path))
    assert set(labels.tags) == {"10"}                        # workflow tags are not learned
    assert labels.positives["10"] == {"2", "3"}
    assert labels.negatives["10"] == {"4"} and labels.organized == {"2"}
    assert labels.markers["10"] == {"3": [(5.0, 25.0)]}


def test_predicting_ten_thousand_pooled_vectors_streams_in_blocks():
    from stash_sense.learn.model import LearnedTag
    rng = np.random.default_rng(1)
    tags = [LearnedTag(str(i), f"t{i}", (), rng.standard_normal(32).astype(np.float32), 0.0,
                       0.99, True, {}) for i in range(5)]
    pooled = rng.standard_normal((10_000, 32)).astype(np.float32)
    got = list(predict_pooled(tags, pooled, batch=1000))
    W = np.stack([t.weights for t in tags])
    want = np.argwhere(1 / (1 + np.exp(-(pooled @ W.T))) >= 0.99)
    assert sorted((r, c) for r, c, _ in got) == sorted(map(tuple, want.tolist()))


def test_markers_teach_where_the_tag_shows(tmp_path):
    """Scenes whose middle third looks like the tag, marked there by the user: the frame model is
    active, and on a new scene of that kind the learned finding's segment is that stretch."""
    from stash_sense.store import Store
    from stash_sense.store.embeddings import EmbeddingStore
    from stash_sense.tasks.learn import train_all
    rng = np.random.default_rng(7)
    d, n = 32, 30
    tag_dir, other = rng.standard_normal(d), rng.standard_normal((4, d))
    store = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    times = [(i * 10.0, 10.0) for i in range(30)]

    def scene_frames(has_tag: bool):
        frames = other[rng.integers(0, 4)] + 0.3 * rng.standard_normal((30, d))
        if has_tag:
            frames[10:20] = tag_dir + 0.3 * rng.standard_normal((10, d))
        return frames

    ids = [str(i) for i in range(n)]
    for i, sid in enumerate(ids):
        store.save_scene(sid, "m", times, scene_frames(i < 12))
    store.save_scene("new", "m", times, scene_frames(True))
    ids_all, pooled = store.pooled_matrix("m")
    labels = labels_for({"t": set(ids[:12])})
    labels.markers = {"t": {sid: [(100.0, 200.0)] for sid in ids[:12]}}
    train_ids = [i for i in ids_all if i != "new"]
    learned, reports = train_all(labels, train_ids, pooled[[ids_all.index(i) for i in train_ids]],
                                 settings(tmp_path),
                                 frames_of=lambda sids: store.iter_scenes("m", sids))
    [tag] = learned
    assert tag.active and tag.has_frame_model and reports[0]["level"] == "scene+frame"
    assert reports[0]["frame_cv_precision"] >= 0.9
    [f] = scene_findings([tag], store.scene("new", "m"), 300.0,
                         settings(tmp_path, gapSeconds=15, minSegmentSeconds=10))
    assert f.markers
    [seg] = f.segments
    assert abs(seg.start - 100.0) <= 10 and abs(seg.end - 200.0) <= 10
    # the file keeps the frame model
    LearnedModels("m", learned, 1.0).save(str(tmp_path))
    back = LearnedModels.load(str(tmp_path), "m").tags[0]
    assert back.has_frame_model and np.allclose(back.frame_weights, tag.frame_weights)


def test_a_learned_tag_an_analyzer_also_found_is_planned_once():
    from stash_sense.findings import Finding
    from stash_sense.learn.predict import combine
    clip = Finding("tag", "Outdoors", "clip", "environment", 0.7)
    other = Finding("tag", "Pool", "clip", "location", 0.6)
    weak = Finding("tag", "outdoors", "learned", "learned", 0.65)
    strong = Finding("tag", "Outdoors", "learned", "learned", 0.9)
    new = Finding("tag", "Sunset", "learned", "learned", 0.8)
    assert combine([clip, other], [weak, new]) == [clip, other, new]
    assert combine([clip, other], [strong]) == [strong, other]


def test_the_reports_operation_is_light():
    """The UI's reports operation reads two JSON files: no numpy, no model library."""
    import subprocess
    import sys
    code = ("import sys; import stash_sense.app as a; a.handler_for({'mode': 'reports'}); "
            "heavy = [m for m in ('numpy', 'torch', 'sklearn', 'open_clip', 'requests') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
