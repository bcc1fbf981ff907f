"""The frame index follows SQLite (adds, replacements, drops, compaction), survives a SIGKILL at any
point, and the two search strategies and similar-scenes rank what is actually closest."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from stash_sense.similarity.index import FrameIndex
from stash_sense.similarity.search import Strategy, allowed_mask, search
from stash_sense.similarity.similar import similar_scenes
from stash_sense.store import Store
from stash_sense.store.embeddings import EmbeddingStore

MODEL = "open_clip:test/none"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unit(m):
    m = np.asarray(m, np.float32)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def clustered(rng, kinds=4, per_kind=6, frames=20, d=64, spread=0.35):
    """Scenes of `kinds` looks: every frame is its kind's centre plus noise."""
    centres = unit(rng.standard_normal((kinds, d)))
    scenes = {}
    for k in range(kinds):
        for j in range(per_kind):
            noise = rng.standard_normal((frames, d)) * spread / np.sqrt(d) * 3
            scenes[f"{k}{j:02d}"] = (k, unit(centres[k] + noise))
    return centres, scenes


def save(emb, sid, frames, step=10.0):
    emb.save_scene(sid, MODEL, [(i * step, step) for i in range(len(frames))], frames)


def as_sqlite_says(emb):
    """{scene: frames} straight from SQLite: what the index must agree with."""
    return {v.scene_id: v.frames for v in emb.iter_scenes(MODEL)}


def assert_matches_sqlite(index, emb):
    truth = as_sqlite_says(emb)
    assert sorted(index.scene_ids) == sorted(truth)
    for pos, sid in enumerate(index.scene_ids):
        start, n, _ = (int(x) for x in index.ranges[pos])
        assert n == len(truth[sid])
        assert np.array_equal(np.asarray(index.frames[start:start + n], np.float32), truth[sid])
        assert (index.owner[start:start + n] == pos).all()
    pooled = {v.scene_id: v.pooled for v in emb.iter_scenes(MODEL)}
    assert np.array_equal(index.pooled_of(), np.stack([pooled[s] for s in index.scene_ids]))


def test_index_follows_adds_replacements_and_drops_incrementally(tmp_path):
    rng = np.random.default_rng(0)
    store = Store(str(tmp_path / "s.sqlite"))
    emb = EmbeddingStore(store)
    _, scenes = clustered(rng)
    for sid, (_, frames) in list(scenes.items())[:10]:
        save(emb, sid, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert index.last_sync.rebuilt and index.last_sync.added == 10
    assert_matches_sqlite(index, emb)

    for sid, (_, frames) in list(scenes.items())[10:]:        # analysis goes on
        save(emb, sid, frames)
    save(emb, "000", unit(rng.standard_normal((7, 64))))      # a re-analysis replaces a scene
    emb.drop_scene("001", MODEL)
    again = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert again.last_sync.rebuilt == "" and again.last_sync.added == len(scenes) - 10 + 1
    assert again.last_sync.removed == 1
    assert_matches_sqlite(again, emb)
    dead = int((again.owner < 0).sum())
    assert dead == 20 + 20                                    # the old 000 and the dropped 001
    assert store.db.execute("SELECT COUNT(*) FROM find_changes").fetchone()[0] == 0

    nothing = FrameIndex.open(emb, MODEL, str(tmp_path))      # nothing changed: nothing written
    assert (nothing.last_sync.added, nothing.last_sync.rebuilt) == (0, "")

    for sid in list(scenes)[2:12]:                            # many replacements: compaction
        save(emb, sid, unit(rng.standard_normal((5, 64))))
    compacted = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert compacted.last_sync.compacted and (compacted.owner >= 0).all()
    assert_matches_sqlite(compacted, emb)
    gens = {n.split("-")[1].split(".")[0] for n in os.listdir(compacted.folder) if "-" in n}
    assert gens == {str(compacted.manifest["gen"])}          # old generations removed
    for folder in (compacted.folder, os.path.dirname(compacted.folder)):
        assert os.stat(folder).st_mode & 0o077 == 0
    for name in os.listdir(compacted.folder):
        assert os.stat(os.path.join(compacted.folder, name)).st_mode & 0o077 == 0


def test_index_recovers_from_torn_appends_and_a_lost_manifest(tmp_path):
    rng = np.random.default_rng(1)
    emb = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    _, scenes = clustered(rng, kinds=2, per_kind=3)
    for sid, (_, frames) in scenes.items():
        save(emb, sid, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    with open(index.path_of("frames"), "ab") as fh:             # a writer killed mid-append
        fh.write(b"\x7f" * 1000)
    save(emb, "new", unit(rng.standard_normal((9, 64))))
    after = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert after.last_sync.rebuilt == ""
    assert_matches_sqlite(after, emb)
    os.unlink(os.path.join(after.folder, "manifest.json"))
    rebuilt = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert rebuilt.last_sync.rebuilt == "no usable index on disk"
    assert_matches_sqlite(rebuilt, emb)
    with open(os.path.join(rebuilt.folder, "manifest.json"), "w") as fh:
        fh.write('{"version": 1, "model_id": "open_clip:test/none", "gen"')   # torn by hand
    assert_matches_sqlite(FrameIndex.open(emb, MODEL, str(tmp_path)), emb)


KILLED_WRITER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from stash_sense.store import Store
from stash_sense.store.embeddings import EmbeddingStore
from stash_sense.similarity.index import FrameIndex
emb = EmbeddingStore(Store({db!r}))
rng = np.random.default_rng(int(sys.argv[1]))
print("ready", flush=True)
for round_ in range(10_000):
    for j in range(5):
        m = rng.standard_normal((40, 64)).astype(np.float32)
        emb.save_scene(str(rng.integers(0, 60)), {model!r}, [(i, 1.0) for i in range(40)], m)
    FrameIndex.open(emb, {model!r}, {data!r})
"""


def test_index_is_consistent_with_sqlite_after_sigkill_at_random_points(tmp_path):
    db, data = str(tmp_path / "s.sqlite"), str(tmp_path)
    script = KILLED_WRITER.format(root=ROOT, db=db, model=MODEL, data=data)
    emb = EmbeddingStore(Store(db))
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-c", script, str(attempt)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.4 + 0.37 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_matches_sqlite(FrameIndex.open(emb, MODEL, data), emb)


def test_similar_scenes_are_the_same_kind_and_never_the_scene_itself(tmp_path):
    rng = np.random.default_rng(2)
    emb = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    _, scenes = clustered(rng)
    for sid, (_, frames) in scenes.items():
        save(emb, sid, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    for sid, (kind, _) in scenes.items():
        hits = similar_scenes(index, sid, 5)
        assert sid not in [h.scene_id for h in hits]
        assert [scenes[h.scene_id][0] for h in hits] == [kind] * 5
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert similar_scenes(index, "unknown", 5) is None


def test_search_strategies_agree_and_moments_are_the_best_frames(tmp_path):
    rng = np.random.default_rng(3)
    emb = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    centres, scenes = clustered(rng, kinds=5, per_kind=8, frames=30)
    target = unit(rng.standard_normal(64))
    for sid, (_, frames) in scenes.items():
        if sid in ("203", "307"):                  # a short stretch that looks like the query
            frames = frames.copy()
            frames[11] = unit(target + 0.05 * rng.standard_normal(64))
        save(emb, sid, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    brute = search(index, target, limit=5, strategy=Strategy.BRUTE)
    assert {r.scene_id for r in brute[:2]} == {"203", "307"}
    assert brute[0].moments[0].time == 110.0 and brute[0].score > 0.9
    assert all(abs(a.time - b.time) >= 20.0 for a in brute[0].moments for b in brute[0].moments
               if a is not b)
    pre = search(index, target, limit=5, strategy=Strategy.PREFILTER, candidates=40)
    assert [r.scene_id for r in pre] == [r.scene_id for r in brute]   # all scenes are candidates
    kind = search(index, centres[1], limit=8, strategy=Strategy.BRUTE)
    assert {scenes[r.scene_id][0] for r in kind} == {1}
    only = allowed_mask(index, ["307", "100"])
    for strategy in Strategy:
        got = search(index, target, limit=5, allowed=only, strategy=strategy)
        assert [r.scene_id for r in got] == ["307", "100"]
