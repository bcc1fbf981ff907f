"""The near-duplicates task in the stand-in: two scenes with the same sprite (one file added
twice) among other looks, analysed by the tiny CLIP. The task reports the pair and writes nothing;
with tag=true the pair gets StashSense_Duplicate through the one writer, and Undo takes it back.
Nothing is ever deleted or merged."""
from __future__ import annotations

import numpy as np
import pytest

from tests.e2e import configure, mutations
from tests.helpers.looks import clip_settings, look
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin

pytest.importorskip("open_clip")
STRICT = {"pooled_min": 0.99, "frame_min": 0.995}   # a random-weight CLIP puts looks close


def add(stash, title, jpeg, tagme):
    return stash.add_scene(title=title, duration=600, sprite=jpeg, tag_ids=[tagme],
                           vtt=lambda name: vtt_text(600, 160, 90, name))


def test_duplicates_task_reports_tags_only_when_asked_and_undo_removes_the_tag(stash, tmp_path):
    rng = np.random.default_rng(11)
    tagme = stash.add_tag("StashSense_TagMe")
    same, _ = synthetic_sprite(600, look("stripes", rng))
    a, b = add(stash, "original", same, tagme), add(stash, "copy", same, tagme)
    others = [add(stash, f"{kind} {n}", synthetic_sprite(600, look(kind, rng))[0], tagme)
              for kind in ("checks", "noise") for n in range(1)]
    configure(stash, tmp_path, **clip_settings())
    assert run_plugin(stash, {"mode": "tag_tagme"}, timeout=600).error is None
    scenes_before = len(stash.graphql("{ findScenes { scenes { id } } }")["data"]["findScenes"]["scenes"])

    count = len(mutations(stash))
    run = run_plugin(stash, {"mode": "duplicates", **STRICT}, timeout=300)
    assert run.error is None, run.log_text()
    [group] = run.output["groups"]
    assert [s["id"] for s in group["scenes"]] == sorted([a, b], key=int)
    assert [s["title"] for s in group["scenes"]] == ["original", "copy"]
    assert group["pairs"][0]["relation"] == "same" and group["score"] == 1.0
    assert run.output["tagged_scenes"] == 0 and len(mutations(stash)) == count   # report only
    assert any("duplicate group 1" in m for _, m in run.logs)
    report = run_plugin(stash, {"mode": "duplicate_groups"}, timeout=120)
    assert report.output["report"]["groups"] == run.output["groups"]

    tagged = run_plugin(stash, {"mode": "duplicates", "tag": "true", **STRICT}, timeout=300)
    assert tagged.error is None, tagged.log_text()
    assert tagged.output["tagged_scenes"] == 2
    assert all("StashSense_Duplicate" in stash.scene_tag_names(s) for s in (a, b))
    assert all("StashSense_Duplicate" not in stash.scene_tag_names(s) for s in others)
    again = run_plugin(stash, {"mode": "duplicates", "tag": "true", **STRICT}, timeout=300)
    assert again.output["tagged_scenes"] == 0                          # idempotent
    sent = " ".join(r["query"] for r in mutations(stash))
    assert "Destroy" not in sent and "sceneMerge" not in sent and "scenesDestroy" not in sent
    after = stash.graphql("{ findScenes { scenes { id } } }")["data"]["findScenes"]["scenes"]
    assert len(after) == scenes_before

    undo = run_plugin(stash, {"mode": "undo"}, timeout=300)
    assert undo.error is None, undo.log_text()
    assert all("StashSense_Duplicate" not in stash.scene_tag_names(s) for s in (a, b))
