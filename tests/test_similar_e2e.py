"""Similar scenes end to end: generated scenes of three looks analysed by the real open_clip code
(tiny random-weight CLIP), then the plugin's `similar` operation as the scene tab calls it."""
from __future__ import annotations

from urllib.request import urlopen

import pytest

from stash_sense.frames.vtt import parse_vtt
from tests.e2e import configure
from tests.helpers.looks import add_look_scene, build_library, clip_settings
from tests.standin.runner import run_plugin

pytest.importorskip("open_clip")


def kind_of(ids, sid):
    return next(k for k, members in ids.items() if sid in members)


def test_similar_scenes_are_the_same_look_with_sprite_tiles_and_follow_new_analyses(
        stash, tmp_path):
    import numpy as np
    ids = build_library(stash, per_kind=4)
    configure(stash, tmp_path, **clip_settings())
    tagged = run_plugin(stash, {"mode": "tag_tagme"}, timeout=600)
    assert tagged.error is None, tagged.log_text()

    for kind, members in ids.items():
        sid = members[0]
        run = run_plugin(stash, {"mode": "similar", "scene_id": sid, "limit": 3}, timeout=120)
        assert run.error is None, run.log_text()
        out = run.output
        assert out["heavy_modules"] == [], out                 # the scene tab's light path
        got = [s["id"] for s in out["scenes"]]
        assert sid not in got and len(got) == 3
        assert {kind_of(ids, s) for s in got} == {kind}, (kind, out)
        scores = [s["score"] for s in out["scenes"]]
        assert scores == sorted(scores, reverse=True) and scores[-1] > 0.5
        for s in out["scenes"]:
            scene = stash.scene(s["id"])
            assert s["title"] == scene["title"]
            thumb = s["thumbnail"]
            vtt = stash.graphql('{ findScene(id: "%s") { paths { vtt sprite } } }' % s["id"])
            paths = vtt["data"]["findScene"]["paths"]
            assert thumb["url"] == paths["sprite"]             # the cue's image, resolved
            cues = parse_vtt(urlopen(paths["vtt"]).read().decode())
            cue = next(c for c in cues if c.start - 0.01 <= thumb["time"] < c.end - 0.01)
            assert (thumb["x"], thumb["y"], thumb["w"], thumb["h"]) == (cue.x, cue.y, cue.w, cue.h)

    # a scene analysed after the index was built joins it incrementally (no rebuild)
    rng = np.random.default_rng(99)
    tagme = stash.tag_by_name("StashSense_TagMe")["id"]
    new = add_look_scene(stash, "checks", 9, rng, [tagme])
    assert run_plugin(stash, {"mode": "tag_tagme"}, timeout=600).error is None
    run = run_plugin(stash, {"mode": "similar", "scene_id": ids["checks"][1], "limit": 4},
                     timeout=120)
    assert run.error is None, run.log_text()
    assert run.output["index"]["added"] == 1 and run.output["index"]["rebuilt"] == ""
    assert new in [s["id"] for s in run.output["scenes"]]
    assert {kind_of({**ids, "checks": ids["checks"] + [new]}, s["id"])
            for s in run.output["scenes"]} == {"checks"}

    # a scene never analysed: an empty answer that says why, not an error
    lone = stash.add_scene(title="not analysed")
    run = run_plugin(stash, {"mode": "similar", "scene_id": lone}, timeout=120)
    assert run.error is None and run.output["scenes"] == []
    assert "not been analysed" in run.output["reason"]
