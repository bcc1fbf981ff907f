"""Analyze once, decide forever — end to end in the stand-in, through the real plugin process.

Scenes of three visually distinct kinds (sprites of stripes, checks and soft noise, each scene
with its own colour jitter) are analysed by the real open_clip code with a tiny random-weight
CLIP; random weights still map different-looking images to different vectors. The user tags most
scenes of one kind "Sunset" and three scenes of another "Rare". `learn` must make Sunset active
and put it on exactly the untagged scenes of that kind (no other kind), never propose Rare (below
learnMinScenes), and `retag` after a threshold change must change the written tags the way a full
re-analysis would, without an image model (no torch imported, small peak memory).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.e2e import configure, mutations, snapshot
from tests.helpers.looks import KINDS, look
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin

pytest.importorskip("open_clip")
pytest.importorskip("sklearn")
TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")


def build(stash, per_kind: int = 12):
    rng = np.random.default_rng(5)
    tagme = stash.add_tag("StashSense_TagMe")
    ids = {k: [] for k in KINDS}
    for kind in KINDS:
        for n in range(per_kind):
            jpeg, _ = synthetic_sprite(600, look(kind, rng))
            ids[kind].append(stash.add_scene(
                title=f"{kind} {n}", duration=600, sprite=jpeg, tag_ids=[tagme],
                vtt=lambda name: vtt_text(600, 160, 90, name)))
    return ids


def add_tag(stash, scene_ids, tag_id):
    stash.graphql('mutation { bulkSceneUpdate(input: {ids: [%s], tag_ids: {ids: ["%s"], '
                  'mode: ADD}}) { id } }' % (",".join(f'"{s}"' for s in scene_ids), tag_id))


def test_learn_proposes_the_users_tag_on_its_kind_only_and_retag_needs_no_image_model(
        stash, tmp_path):
    ids = build(stash)
    settings = configure(stash, tmp_path, analyzers="clip", clipModel=TINY, clipPretrained="none",
                         batchSize=81, learnMinScenes=10)
    tagged = run_plugin(stash, {"mode": "tag_tagme"}, timeout=600)
    assert tagged.error is None, tagged.log_text()
    assert tagged.output["tagged"] == 36

    sunset, rare = stash.add_tag("Sunset"), stash.add_tag("Rare")
    user_sunset = ids["stripes"][:9] + ids["stripes"][10:]     # 11 of 12; stripes[9] left out
    add_tag(stash, user_sunset, sunset)
    add_tag(stash, ids["checks"][:3], rare)                   # 3 < learnMinScenes

    run = run_plugin(stash, {"mode": "learn"}, timeout=600)
    assert run.error is None, run.log_text()
    report = {t["name"]: t for t in run.output["tags"]}
    assert report["Sunset"]["active"] and report["Sunset"]["support"] == 11
    assert report["Sunset"]["cv_precision"] >= 0.9
    assert not report["Rare"]["active"] and "learnMinScenes" in report["Rare"]["reason"]
    assert run.output["proposed"]["changed"] >= 1

    with_sunset = {s for s in sum(ids.values(), []) if "Sunset" in stash.scene_tag_names(s)}
    assert with_sunset == set(ids["stripes"])                  # the one left out got it; no other kind
    assert all("Rare" not in stash.scene_tag_names(s) for s in ids["checks"][3:] + ids["noise"])
    from stash_sense.store import Store
    store = Store(os.path.join(settings["dataDir"], "stash_sense.sqlite"))
    [row] = [r for r in store.suggestions.of_scene(ids["stripes"][9]) if r.name == "Sunset"]
    assert row.analyzer == "learned" and row.status == "applied" and row.confidence > 0.5
    assert os.stat(run.output["file"]).st_mode & 0o077 == 0    # owner-only

    # a threshold change: re-tag from stored results, then compare with a full re-analysis
    before = {s: snapshot(stash, s)["tags"] for s in sum(ids.values(), [])}
    configure(stash, tmp_path, analyzers="clip", clipModel=TINY, clipPretrained="none",
              batchSize=81, learnMinScenes=10, threshold=0.001)
    count = len(mutations(stash))
    retag = run_plugin(stash, {"mode": "retag"}, timeout=600)
    assert retag.error is None, retag.log_text()
    out = retag.output
    assert out["heavy_modules"] == [] and out["prompts_encoded"] == 0, out
    assert out["peak_rss_mb"] < 200, out                      # torch alone is several hundred MB
    after = {s: snapshot(stash, s)["tags"] for s in before}
    assert after != before and out["changed"] == sum(after[s] != before[s] for s in before)
    assert all("Sunset" in after[s] for s in ids["stripes"])  # learned tags kept by retag
    assert len(mutations(stash)) > count

    # nothing changed since: a second re-tag writes nothing to Stash
    count = len(mutations(stash))
    again = run_plugin(stash, {"mode": "retag"}, timeout=600)
    assert again.error is None and again.output["changed"] == 0
    assert again.output["unchanged"] == 36 and len(mutations(stash)) == count

    # the same settings through the image model give the same tags
    reprocess = stash.tag_by_name("StashSense_Reprocess")["id"]
    add_tag(stash, list(before), reprocess)
    full = run_plugin(stash, {"mode": "tag_tagme"}, timeout=600)
    assert full.error is None, full.log_text()
    assert {s: snapshot(stash, s)["tags"] for s in before} == after
