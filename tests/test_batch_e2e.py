"""A TagMe batch end to end: the real plugin process, Stash's stdin JSON, the stand-in on Stash's
schema. Scripted colour analyzers stand in for models so the expected tags are known exactly."""
from __future__ import annotations

import pytest

from tests.e2e import configure, mutations, require_schema, snapshot
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin, start_plugin
from tests.standin.server import FakeStash

RED, BLUE = (230, 20, 20), (20, 20, 230)
COLOR = "tests.helpers.scripted:ColorAnalyzer"
SLOW = "tests.helpers.scripted:SlowColorAnalyzer"


def sprite_scene(stash, title, duration, colors_at, **kw):
    jpeg, _ = synthetic_sprite(duration, colors_at)
    return stash.add_scene(title=title, duration=duration, sprite=jpeg,
                           vtt=lambda name: vtt_text(duration, 160, 90, name), **kw)


def build_library(stash):
    """Scenes of every kind the batch must handle. Returns {label: scene id}."""
    tagme = stash.add_tag("StashSense_TagMe")
    fav = stash.add_tag("Favourite")
    scarlet = stash.add_tag("Scarlet", aliases=["red"])       # the user's name for red
    ids = {}
    ids["red_middle"] = sprite_scene(stash, "red middle", 600,
                                     lambda t: RED if 100 <= t < 300 else None,
                                     tag_ids=[tagme, fav])
    ids["blue_all"] = sprite_scene(stash, "blue", 810, lambda t: BLUE, tag_ids=[tagme])
    ids["no_sprite"] = stash.add_scene(title="not generated", tag_ids=[tagme])
    ids["corrupt"] = stash.add_scene(title="corrupt", sprite=b"\xff\xd8\xff\xe0 broken",
                                     vtt=lambda n: vtt_text(600, 160, 90, n), tag_ids=[tagme])
    jpeg, _ = synthetic_sprite(600, lambda t: RED)
    ids["bad_vtt"] = stash.add_scene(title="bad vtt", sprite=jpeg, vtt="not a vtt", tag_ids=[tagme])
    ids["untouched"] = sprite_scene(stash, "no tagme", 600, lambda t: RED, tag_ids=[fav])
    ids["grey"] = sprite_scene(stash, "grey", 300, lambda t: None, tag_ids=[tagme, scarlet])
    return ids


def test_tagme_batch_end_to_end(stash, tmp_path):
    ids = build_library(stash)
    configure(stash, tmp_path, analyzers=COLOR, gapSeconds=20, minSegmentSeconds=10)
    user_marker_tag = stash.add_tag("Highlight")
    stash.add_marker(ids["blue_all"], user_marker_tag, 5.0, 15.0, title="mine")
    before_untouched = snapshot(stash, ids["untouched"])

    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error is None, run.log_text()
    assert run.stdout_was_json
    assert run.progress and run.progress[-1] == 1.0
    assert run.progress == sorted(run.progress)            # never goes backwards
    assert run.output["scenes"] == 6 and run.output["tagged"] == 3

    red = snapshot(stash, ids["red_middle"])
    assert red["tags"] == ["Favourite", "Scarlet", "StashSense_Tagged"]   # user tag kept; alias reused
    [(name, start, end)] = red["markers"]
    assert name == "Scarlet" and 90 <= start <= 110 and 290 <= end <= 310
    blue = snapshot(stash, ids["blue_all"])
    assert blue["tags"] == ["Blue", "StashSense_Tagged"]
    assert ("Highlight", 5.0, 15.0) in blue["markers"]                   # the user's marker stays
    assert ("Blue", 0.0, 810.0) in blue["markers"]
    blue_tag = stash.tag_by_name("Blue")
    parent = stash.tag_by_name("StashSense")
    assert blue_tag["ignore_auto_tag"] and blue_tag["parent_ids"] == [parent["id"]]
    assert snapshot(stash, ids["grey"])["tags"] == ["Scarlet", "StashSense_Tagged"]  # user's Scarlet kept

    errors = " ".join(run.messages("e"))
    for label, words in (("no_sprite", "no sprite: run Tasks > Generate > Sprites"),
                         ("corrupt", "corrupt"), ("bad_vtt", "VTT is broken")):
        snap = snapshot(stash, ids[label])
        assert snap["tags"] == ["StashSense_Errored"], label
        assert f"scene {ids[label]}" in errors and words in errors, label
    assert {e["id"] for e in run.output["errored"]} == {ids["no_sprite"], ids["corrupt"], ids["bad_vtt"]}
    assert snapshot(stash, ids["untouched"]) == before_untouched

    # a second run finds nothing to do and changes nothing
    count = len(mutations(stash))
    again = run_plugin(stash, {"mode": "tag_tagme"})
    assert again.error is None and again.output["scenes"] == 0
    assert len(mutations(stash)) == count


def test_reprocess_replaces_only_our_own_tags_and_markers(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    sid = sprite_scene(stash, "changes colour", 600, lambda t: RED, tag_ids=[tagme])
    configure(stash, tmp_path, analyzers=COLOR)
    assert run_plugin(stash, {"mode": "tag_tagme"}).error is None
    assert "Red" in snapshot(stash, sid)["tags"]
    # the user adds a tag of their own, then the scene changes and is reprocessed
    mine = stash.add_tag("Mine")
    reprocess = stash.tag_by_name("StashSense_Reprocess")["id"]   # the plugin made its workflow tags
    stash.graphql('mutation { bulkSceneUpdate(input: {ids: ["%s"], tag_ids: {ids: ["%s", "%s"], '
                  'mode: ADD}}) { id } }' % (sid, mine, reprocess))
    jpeg, _ = synthetic_sprite(600, lambda t: BLUE)
    stash.scenes[sid]["_sprite"] = jpeg
    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error is None, run.log_text()
    snap = snapshot(stash, sid)
    assert snap["tags"] == ["Blue", "Mine", "StashSense_Tagged"]
    assert [m[0] for m in snap["markers"]] == ["Blue"]


def test_tag_scene_and_undo(stash, tmp_path):
    sid = sprite_scene(stash, "one", 600, lambda t: RED)
    fav = stash.add_tag("Favourite")
    stash.graphql('mutation { bulkSceneUpdate(input: {ids: ["%s"], tag_ids: {ids: ["%s"], '
                  'mode: ADD}}) { id } }' % (sid, fav))
    configure(stash, tmp_path, analyzers=COLOR)
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid})
    assert run.error is None and snapshot(stash, sid)["tags"] == ["Favourite", "Red", "StashSense_Tagged"]
    undo = run_plugin(stash, {"mode": "undo"})
    assert undo.error is None and undo.output["tags"] == 1 and undo.output["markers"] == 1
    assert snapshot(stash, sid) == {"tags": ["Favourite"], "markers": [], "studio": None,
                                    "performers": []}


@pytest.mark.parametrize("settings, words", [
    ({"analyzers": "clip,telepathy"}, "unknown analyzer 'telepathy'"),
    ({"device": "tpu"}, "'device' must be one of"),
    ({"analyzers": "clip", "clipModel": "ViT-B-32", "clipPretrained": "/nowhere/clip.bin"},
     "does not exist"),
])
def test_environment_problems_stop_the_task_before_any_change(stash, tmp_path, settings, words):
    build_library(stash)
    configure(stash, tmp_path, **settings)
    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error and words in run.error
    assert mutations(stash) == []
    assert all(t["name"] != "StashSense_Errored" for t in stash.all_tags())


def test_stash_unreachable_is_a_clear_error(stash, tmp_path):
    configure(stash, tmp_path, analyzers=COLOR)
    stash.stop()
    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error and "not reachable" in run.error
    assert run.stdout_was_json


def kill_library(stash, n=10):
    tagme = stash.add_tag("StashSense_TagMe")
    return [sprite_scene(stash, f"s{i}", 300 + 30 * i,
                         (lambda k: (lambda t: RED if (t // 60 + k) % 3 == 0 else BLUE))(i),
                         tag_ids=[tagme]) for i in range(n)]


def test_killed_run_and_rerun_end_like_an_uninterrupted_one(tmp_path):
    require_schema()
    env = {"STASH_SENSE_TEST_DELAY": "0.005"}
    with FakeStash() as reference:
        ref_ids = kill_library(reference)
        configure(reference, tmp_path / "ref", analyzers=SLOW)
        assert run_plugin(reference, {"mode": "tag_tagme"}, env=env).error is None
        expected = [snapshot(reference, s) for s in ref_ids]

    with FakeStash() as stash:
        ids = kill_library(stash)
        configure(stash, tmp_path / "killed", analyzers=SLOW)
        proc = start_plugin(stash, {"mode": "tag_tagme"}, env=env)
        def tagged(_p) -> bool:
            return sum("StashSense_Tagged" in stash.scene_tag_names(s) for s in ids) >= 3
        assert proc.wait_for(tagged, timeout=120)
        proc.kill()                                   # Stash's Stop: SIGKILL, no cleanup
        killed = proc.wait(timeout=30)
        assert killed.killed
        assert any("StashSense_TagMe" in stash.scene_tag_names(s) for s in ids), "kill came too late"
        rerun = run_plugin(stash, {"mode": "tag_tagme"}, env=env)
        assert rerun.error is None, rerun.log_text()
        assert [snapshot(stash, s) for s in ids] == expected
        assert stash.schema_violations == []
