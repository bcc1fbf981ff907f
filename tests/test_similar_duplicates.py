"""Near-duplicate groups on synthetic "videos": a video is shots of a fixed look plus per-frame
noise; a scene samples 81 frames evenly over its stretch of the video, as Stash's sprite does.
Re-encodes (small noise), trims (a sub-stretch: every sample lands elsewhere) and slight crops
(larger noise) must group with their source; unrelated videos and a same-length video that shares
only some shots must not."""
from __future__ import annotations

import numpy as np

from stash_sense.similarity.duplicates import Relation, Rules, find_groups
from stash_sense.similarity.index import FrameIndex
from stash_sense.store import Store
from stash_sense.store.embeddings import EmbeddingStore

MODEL = "open_clip:test/none"
D = 64


def unit(m):
    m = np.asarray(m, np.float32)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def video(rng, shots=12, length=1200.0):
    looks = unit(rng.standard_normal((shots, D)))
    return looks, length


def sample(rng, vid, start, end, noise, n=81):
    looks, length = vid
    times = start + (np.arange(n) + 0.5) * (end - start) / n
    shot = np.minimum((times / length * len(looks)).astype(int), len(looks) - 1)
    frames = unit(looks[shot] + rng.standard_normal((n, D)) * noise / np.sqrt(D))
    span = (end - start) / n
    return [(float(t - start), span) for t in times], frames


def test_groups_reencodes_crops_and_trims_but_not_lookalikes(tmp_path):
    rng = np.random.default_rng(4)
    emb = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    a, b, c = video(rng), video(rng), video(rng)
    mixed = (np.concatenate([a[0][:6], unit(rng.standard_normal((6, D)))]), a[1])
    scenes = {
        "1": sample(rng, a, 0, 1200, 0.15),          # source
        "2": sample(rng, a, 0, 1200, 0.25),          # re-encode / other resolution
        "3": sample(rng, a, 0, 1200, 0.35),          # slight crop: noisier vectors
        "4": sample(rng, a, 200, 900, 0.2),          # trim: 700 s out of 1200
        "5": sample(rng, b, 0, 1200, 0.15),          # another video
        "6": sample(rng, b, 0, 1180, 0.25),          # its re-encode, 20 s shorter (within 5 %)
        "7": sample(rng, c, 0, 1200, 0.15),          # alone
        "8": sample(rng, mixed, 0, 1200, 0.15),      # shares half its shots with video a
    }
    for sid, (times, frames) in scenes.items():
        emb.save_scene(sid, MODEL, times, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    groups = find_groups(index, Rules(pooled_min=0.5))
    assert [g.scene_ids for g in groups] in (
        [["1", "2", "3", "4"], ["5", "6"]], [["5", "6"], ["1", "2", "3", "4"]])
    relations = {(p.a, p.b): p.relation for g in groups for p in g.pairs}
    assert relations[("1", "2")] is Relation.SAME and relations[("5", "6")] is Relation.SAME
    assert relations[("4", "1")] is Relation.CONTAINS         # the trim, inside its source
    assert all(0 < g.score <= 1 for g in groups)


def test_no_groups_without_duplicates_and_the_duration_decides_same_or_contains(tmp_path):
    rng = np.random.default_rng(5)
    emb = EmbeddingStore(Store(str(tmp_path / "s.sqlite")))
    for n in range(6):
        times, frames = sample(rng, video(rng), 0, 600, 0.15)
        emb.save_scene(str(n), MODEL, times, frames)
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    assert find_groups(index) == []
    v = video(rng)
    emb.save_scene("full", MODEL, *sample(rng, v, 0, 1200, 0.15))
    emb.save_scene("half", MODEL, *sample(rng, v, 0, 600, 0.15))
    index = FrameIndex.open(emb, MODEL, str(tmp_path))
    # half of the shots: the pooled vectors are ~0.7 apart here (orthogonal looks), below the
    # default candidate floor; a lower floor finds it and coverage says which contains which
    assert find_groups(index) == []
    [group] = find_groups(index, Rules(pooled_min=0.6))
    [pair] = group.pairs
    assert (pair.a, pair.b, pair.relation) == ("half", "full", Relation.CONTAINS)
    assert pair.coverage_ab >= 0.85 and pair.coverage_ba < 0.8
