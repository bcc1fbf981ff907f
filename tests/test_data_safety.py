"""The user's data is sacred: every case of issue #8 that the ledger and the one writer must hold,
each run the way Stash runs the plugin (a subprocess behind the stand-in on Stash's real schema,
SIGKILL for Stop). Scripted analyzers make the findings exact: a red sprite is a `Red` tag with a
marker over the red stretch.
"""
from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from tests.e2e import configure, mutations, require_schema, snapshot
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import attach_plugin, run_plugin, start_plugin
from tests.standin.server import AbortRequest, FakeStash

COLOR = "tests.helpers.scripted:ColorAnalyzer"
LISTED = "tests.helpers.listed:ListedAnalyzer"
RED, BLUE = (230, 20, 20), (20, 20, 230)
OP = "mutation($a: Map) { runPluginOperation(plugin_id: \"stash_sense\", args: $a) }"


def red_scene(stash, title="red", duration=600, colour=RED, **kw):
    jpeg, _ = synthetic_sprite(duration, lambda t: colour)
    return stash.add_scene(title=title, duration=duration, sprite=jpeg,
                           vtt=lambda name: vtt_text(duration, 160, 90, name), **kw)


def tag_scene(stash, sid, **kw):
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid}, **kw)
    assert run.error is None, run.log_text()
    return run


def op(stash, **args):
    """runPluginOperation as the scene tab sends it: (output, error message or None)."""
    if stash.on_run_plugin_operation is None:
        attach_plugin(stash, hooks=False)
    result = stash.graphql(OP, {"a": args})
    errors = result.get("errors")
    return (result["data"] or {}).get("runPluginOperation"), errors[0]["message"] if errors else None


def suggestion(stash, sid, name):
    status, error = op(stash, mode="status", scene_id=sid)
    assert error is None, error
    return next(s for s in status["suggestions"] if s["name"] == name)


def gql(stash, query, **variables):
    result = stash.graphql(query, variables)
    assert not result.get("errors"), result
    return result["data"]


def add_tags(stash, sid, *tag_ids):
    gql(stash, "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }",
        i={"ids": [sid], "tag_ids": {"ids": list(tag_ids), "mode": "ADD"}})


def remove_tags(stash, sid, *tag_ids):
    gql(stash, "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }",
        i={"ids": [sid], "tag_ids": {"ids": list(tag_ids), "mode": "REMOVE"}})


def feedback(stash, tmp_path):
    run = run_plugin(stash, {"mode": "feedback_report"})
    assert run.error is None, run.log_text()
    return {t["key"]: (t["accepted"], t["rejected"]) for t in run.output["tags"]}


# ---- 1. a marker the user edited is theirs ----------------------------------------------------
EDITS = {
    "retitled": lambda st, m, mine: {"title": "My red bit"},
    "retimed": lambda st, m, mine: {"seconds": 30.0, "end_seconds": 500.0},
    "primary tag": lambda st, m, mine: {"primary_tag_id": mine},
    "own tag added": lambda st, m, mine: {"tag_ids": [mine]},
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_marker_the_user_edited_is_never_deleted_nor_duplicated(stash, tmp_path, edit):
    sid = red_scene(stash)
    mine = stash.add_tag("Diving")
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, sid)
    [marker] = stash.markers(sid)
    gql(stash, "mutation($i: SceneMarkerUpdateInput!) { sceneMarkerUpdate(input: $i) { id } }",
        i={"id": marker["id"], **EDITS[edit](stash, marker, mine)})
    edited = dict(stash.markers(sid)[0])

    rerun = tag_scene(stash, sid)                                   # a rerun (Reprocess)
    assert any("you edited it" in m for m in rerun.messages("info")), rerun.log_text()
    assert [m["id"] for m in stash.markers(sid)] == [marker["id"]]  # kept, nothing beside it
    assert stash.markers(sid)[0] == edited

    red = suggestion(stash, sid, "Red")                             # a Reject in the tab
    assert op(stash, mode="reject", scene_id=sid, suggestion_id=red["id"])[1] is None
    assert stash.markers(sid) == [edited]
    assert run_plugin(stash, {"mode": "undo"}).error is None       # Undo
    assert stash.markers(sid) == [edited]
    assert feedback(stash, tmp_path).get("red", (0, 1))[1] == 1     # only the reject counted


# ---- 2. a failed write never claims the user's own tag or studio -------------------------------
def test_a_failed_write_never_claims_what_the_user_adds_later(stash, tmp_path):
    acme = stash.add_studio("Acme")
    sid = red_scene(stash)
    listed = json.dumps([{"kind": "studio", "name": "Acme", "target_id": acme, "confidence": 0.9},
                         {"kind": "tag", "name": "Red", "confidence": 0.9}])
    configure(stash, tmp_path, analyzers=LISTED)
    stash.fail_next("StashSenseSceneTags", "database is locked")
    stash.fail_next("StashSenseSceneStudio", "database is locked")
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid},
                     env={"STASH_SENSE_TEST_FINDINGS": listed})
    assert "Red" not in stash.scene_tag_names(sid) and stash.scene(sid)["studio_id"] is None
    assert run.output["errored"], run.log_text()
    # the user now adds that tag and that studio by hand
    add_tags(stash, sid, stash.tag_by_name("Red")["id"])
    gql(stash, "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }",
        i={"ids": [sid], "studio_id": acme})
    assert run_plugin(stash, {"mode": "undo"}).error is None
    assert "Red" in stash.scene_tag_names(sid) and stash.scene(sid)["studio_id"] == acme


# ---- 3. the store is bound to one Stash database -----------------------------------------------
def test_a_store_from_another_database_removes_nothing(tmp_path):
    require_schema()
    with FakeStash() as first:
        sid = red_scene(first)
        configure(first, tmp_path, analyzers=COLOR)
        tag_scene(first, sid)
        red_id = first.tag_by_name("Red")["id"]
        marker_id = first.markers(sid)[0]["id"]

    with FakeStash() as fresh:                       # a new database, the plugin folder kept
        sid2 = red_scene(fresh)
        assert sid2 == sid
        while True:                                   # the user's own tags reuse the ids
            cake = fresh.add_tag(f"Cake{len(fresh.tags)}")
            if int(cake) >= int(red_id):
                break
        assert cake == red_id
        add_tags(fresh, sid2, cake)
        while int(fresh._counters["scene_marker"]) < int(marker_id) - 1:
            fresh.add_marker(sid2, cake, 1.0, 2.0, title="filler")
        birthday = fresh.add_marker(sid2, cake, 10.0, 20.0, title="Birthday")
        assert birthday == marker_id
        before, writes = snapshot(fresh, sid2), len(mutations(fresh))
        configure(fresh, tmp_path, analyzers=COLOR)
        undo = run_plugin(fresh, {"mode": "undo"})
        assert undo.error and "another Stash database" in undo.error and "Clean up" in undo.error
        assert snapshot(fresh, sid2) == before and len(mutations(fresh)) == writes
        tagging = run_plugin(fresh, {"mode": "tag_scene", "scene_id": sid2})
        assert tagging.error and "another Stash database" in tagging.error
        assert snapshot(fresh, sid2) == before

        cleanup = run_plugin(fresh, {"mode": "cleanup"})         # re-checks every record
        assert cleanup.error is None, cleanup.log_text()
        assert cleanup.output["forgotten"]["owned"] >= 2
        assert snapshot(fresh, sid2) == before
        assert run_plugin(fresh, {"mode": "undo"}).error is None
        assert snapshot(fresh, sid2) == before


def test_an_id_reused_after_a_restore_is_not_the_plugins(stash, tmp_path):
    """A backup restored after the plugin was installed: the store's database matches, but ids the
    plugin used were handed out again. Each owned item is checked for identity before removal."""
    sid = red_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, sid)
    red = stash.tag_by_name("Red")
    [marker] = stash.markers(sid)
    # the restore: tag id and marker id now belong to the user's "Cake" and "Birthday"
    stash.tags[red["id"]].update(name="Cake", created_at=stash.now(), updated_at=stash.now())
    stash.scene_markers[marker["id"]].update(title="Birthday", seconds=12.0, end_seconds=30.0,
                                             created_at=stash.now(), updated_at=stash.now())
    before = snapshot(stash, sid)
    undo = run_plugin(stash, {"mode": "undo"})
    assert undo.error is None, undo.log_text()
    after = snapshot(stash, sid)
    assert "Cake" in after["tags"] and after["markers"] == before["markers"]


# ---- 4. an interrupted Undo, then tagging, ends like a clean run -----------------------------------
def small_library(stash, n=2):
    tagme = stash.add_tag("StashSense_TagMe")
    keep = stash.add_tag("Keep")
    return [red_scene(stash, f"s{i}", 300 + 60 * i,
                      colour=(RED, BLUE)[i % 2], tag_ids=[tagme, keep]) for i in range(n)]


def retag_all(stash, ids):
    tagme = stash.tag_by_name("StashSense_TagMe")["id"]
    for sid in ids:
        add_tags(stash, sid, tagme)
    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error is None, run.log_text()


def library_after(stash, ids) -> list[dict]:
    return [snapshot(stash, s) for s in ids]


class KillAt:
    """Stash's Stop at the plugin's n-th mutation: before Stash runs it (the request is lost) or
    after Stash ran it but before the plugin hears the answer."""

    def __init__(self, stash, n: int, phase: str):
        self.stash, self.n, self.phase = stash, n, phase
        self.count, self.proc, self.fired = 0, None, False
        stash.on_mutation = self

    def __call__(self, phase, record):
        if self.fired:
            return
        if phase == "before":
            self.count += 1
            if self.count == self.n and self.phase == "before":
                self._kill()
                raise AbortRequest()
        elif self.count == self.n and self.phase == "after":
            self._kill()

    def _kill(self):
        self.fired = True
        self.proc.kill()

    def run(self, args):
        self.proc = start_plugin(self.stash, args)
        result = self.proc.wait(timeout=120)
        self.stash.on_mutation = None
        return result


def undo_then_tag(tmp_path, kill_at=None):
    with FakeStash() as st:
        ids = small_library(st)
        configure(st, tmp_path, analyzers=COLOR)
        assert run_plugin(st, {"mode": "tag_tagme"}).error is None
        if kill_at is None:
            assert run_plugin(st, {"mode": "undo"}).error is None
            writes = None
        else:
            killer = KillAt(st, *kill_at)
            killer.run({"mode": "undo"})
            writes = killer.count
        retag_all(st, ids)
        return library_after(st, ids), writes


# The full sweeps kill before *and* after every write (about 3 minutes); the default run kills at
# every write too, alternating the side, and `python -m pytest -m slow` runs both sides of each.
SWEEP = [pytest.param(False, id="every-write-one-side"),
         pytest.param(True, id="every-write-both-sides", marks=pytest.mark.slow)]


def phases(n: int, full: bool) -> tuple[str, ...]:
    return ("before", "after") if full else (("before", "after")[n % 2],)


@pytest.mark.parametrize("full", SWEEP)
def test_undo_killed_at_every_write_then_tagging_equals_a_clean_run(tmp_path, full):
    require_schema()
    clean, _ = undo_then_tag(tmp_path / "clean")
    n = 1
    while True:
        writes = None
        for phase in phases(n, full):
            result, writes = undo_then_tag(tmp_path / f"k{n}{phase}", (n, phase))
            assert result == clean, f"undo killed {phase} write {n}"
        if writes is not None and writes < n:
            break
        n += 1
    assert n > 3                                  # the sweep really covered the Undo's writes


@pytest.mark.parametrize("full", SWEEP)
def test_tagging_killed_at_every_write_converges(tmp_path, full):
    require_schema()
    with FakeStash() as ref:
        ids = small_library(ref)
        configure(ref, tmp_path / "ref", analyzers=COLOR)
        assert run_plugin(ref, {"mode": "tag_tagme"}).error is None
        clean = library_after(ref, ids)
        count = len(mutations(ref))
    for n in range(1, count + 1):
        for phase in phases(n, full):
            with FakeStash() as st:
                ids = small_library(st)
                configure(st, tmp_path / f"k{n}{phase}", analyzers=COLOR)
                KillAt(st, n, phase).run({"mode": "tag_tagme"})
                assert run_plugin(st, {"mode": "tag_tagme"}).error is None
                assert library_after(st, ids) == clean, f"tagging killed {phase} write {n}"
                undo = run_plugin(st, {"mode": "undo"})        # and Undo takes back everything
                assert undo.error is None
                assert all(s["tags"] == ["Keep"] and s["markers"] == []
                           for s in library_after(st, ids)), f"undo after kill {phase} {n}"


# ---- 5. a tag the user removed stays removed ----------------------------------------------------
def test_two_findings_on_one_user_tag_stay_removed(stash, tmp_path):
    bedroom = stash.add_tag("Bedroom", aliases=["Bed"])
    sid = red_scene(stash)
    listed = json.dumps([{"kind": "tag", "name": "Bed", "confidence": 0.9},
                         {"kind": "tag", "name": "Bedroom", "confidence": 0.8}])
    env = {"STASH_SENSE_TEST_FINDINGS": listed}
    configure(stash, tmp_path, analyzers=LISTED)
    tag_scene(stash, sid, env=env)
    assert "Bedroom" in stash.scene_tag_names(sid)
    remove_tags(stash, sid, bedroom)
    for _ in range(3):
        tag_scene(stash, sid, env=env)
        assert "Bedroom" not in stash.scene_tag_names(sid)


def test_a_reject_is_recorded_before_the_removal(stash, tmp_path):
    sid = red_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, sid)
    red = suggestion(stash, sid, "Red")
    killer = KillAt(stash, 1, "before")             # the browser request is cancelled
    killer.run({"mode": "reject", "scene_id": sid, "suggestion_id": red["id"]})
    assert killer.fired and "Red" in stash.scene_tag_names(sid)
    assert suggestion(stash, sid, "Red")["status"] == "rejected"
    tag_scene(stash, sid)                             # the next run finishes the job
    assert "Red" not in stash.scene_tag_names(sid) and stash.markers(sid) == []


# ---- 6. renaming or merging a plugin tag ------------------------------------------------------------
def test_a_renamed_tag_is_still_that_tag(stash, tmp_path):
    sid = red_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, sid)
    red = stash.tag_by_name("Red")["id"]
    gql(stash, "mutation($i: TagUpdateInput!) { tagUpdate(input: $i) { id } }",
        i={"id": red, "name": "Crimson"})
    tag_scene(stash, sid)
    assert "Crimson" in stash.scene_tag_names(sid) and stash.tag_by_name("Red") is None
    assert [stash.tag(m["primary_tag_id"])["name"] for m in stash.markers(sid)] == ["Crimson"]
    assert feedback(stash, tmp_path).get("red", (0, 0)) == (0, 0)
    assert run_plugin(stash, {"mode": "undo"}).error is None      # still ours: undo takes it
    assert "Crimson" not in stash.scene_tag_names(sid)


def test_a_merged_tag_is_followed_and_is_no_rejection(stash, tmp_path):
    scarlet = stash.add_tag("Scarlet")
    ids = [red_scene(stash, f"r{i}") for i in range(2)]
    configure(stash, tmp_path, analyzers=COLOR, learnFromRejections=True)
    attach_plugin(stash, hooks=True)                  # Stash runs the plugin's hooks
    for sid in ids:
        tag_scene(stash, sid)
    red = stash.tag_by_name("Red")["id"]
    gql(stash, "mutation($i: TagsMergeInput!) { tagsMerge(input: $i) { id } }",
        i={"source": [red], "destination": scarlet})
    for sid in ids:
        tag_scene(stash, sid)
        names = stash.scene_tag_names(sid)
        assert "Scarlet" in names and "Red" not in names
    assert stash.tag_by_name("Red") is None           # never re-created beside the merge target
    assert feedback(stash, tmp_path).get("red", (0, 0))[1] == 0
    assert run_plugin(stash, {"mode": "undo"}).error is None      # the merge target is the user's
    assert all("Scarlet" in stash.scene_tag_names(s) for s in ids)


# ---- 9. a tag deleted during a run -------------------------------------------------------------------
def test_a_tag_deleted_during_a_run_is_made_again_and_the_batch_goes_on(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    ids = [red_scene(stash, f"r{i}", tag_ids=[tagme]) for i in range(3)]
    configure(stash, tmp_path, analyzers=COLOR)
    deleted = []

    def delete_red_once(phase, record):
        if phase == "after" and not deleted and "StashSenseSceneTags" in record["query"] \
                and stash.tag_by_name("Red"):
            for m in list(stash.scene_markers.values()):
                if stash.tag(m["primary_tag_id"])["name"] == "Red":
                    del stash.scene_markers[m["id"]]
            deleted.append(stash.destroy_tag(stash.tag_by_name("Red")["id"]))
    stash.on_mutation = delete_red_once
    run = run_plugin(stash, {"mode": "tag_tagme"})
    stash.on_mutation = None
    assert deleted and run.error is None, run.log_text()
    assert run.output["errored"] == [], run.log_text()
    assert all("Red" in stash.scene_tag_names(s) for s in ids[1:])


# ---- 12. races --------------------------------------------------------------------------------------
def test_a_studio_the_user_saves_while_the_plugin_writes_is_kept(stash, tmp_path):
    acme, mine = stash.add_studio("Acme"), stash.add_studio("Mine")
    sid = red_scene(stash)
    listed = json.dumps([{"kind": "tag", "name": "Red", "confidence": 0.9},
                         {"kind": "studio", "name": "Acme", "target_id": acme, "confidence": 0.9}])

    def user_saves_studio(phase, record):
        if phase == "after" and "StashSenseSceneTags" in record["query"]:
            stash.scenes[sid]["studio_id"] = mine
    stash.on_mutation = user_saves_studio
    configure(stash, tmp_path, analyzers=LISTED)
    tag_scene(stash, sid, env={"STASH_SENSE_TEST_FINDINGS": listed})
    stash.on_mutation = None
    assert stash.scene(sid)["studio_id"] == mine
    assert run_plugin(stash, {"mode": "undo"}).error is None
    assert stash.scene(sid)["studio_id"] == mine


def test_a_tab_decision_during_a_batch_leaves_no_nameless_row(stash, tmp_path):
    sid = red_scene(stash, colour=BLUE)
    configure(stash, tmp_path, analyzers=COLOR)
    attach_plugin(stash, hooks=False)
    tag_scene(stash, sid)
    blue = suggestion(stash, sid, "Blue")
    jpeg, _ = synthetic_sprite(600, lambda t: RED)
    stash.scenes[sid]["_sprite"] = jpeg
    decided = []

    def reject_blue_meanwhile(phase, record):
        if phase == "before" and not decided and "StashSenseSceneTags" in record["query"] \
                and "ADD" in json.dumps(record["variables"]):
            decided.append(op(stash, mode="reject", scene_id=sid, suggestion_id=blue["id"]))
    stash.on_mutation = reject_blue_meanwhile
    tag_scene(stash, sid)
    stash.on_mutation = None
    assert decided and decided[0][1] is None
    red = suggestion(stash, sid, "Red")
    assert op(stash, mode="reject", scene_id=sid, suggestion_id=red["id"])[1] is None
    assert "Red" not in stash.scene_tag_names(sid) and stash.markers(sid) == []


# ---- the store itself ----------------------------------------------------------------------------------
def test_store_files_are_readable_by_their_owner_only(stash, tmp_path):
    sid = red_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, sid)
    data = tmp_path / "data"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for name in os.listdir(data):
        assert stat.S_IMODE(os.stat(data / name).st_mode) & 0o077 == 0, name


def test_clean_up_forgets_scenes_deleted_in_stash(stash, tmp_path):
    gone, kept = red_scene(stash, "gone"), red_scene(stash, "kept")
    configure(stash, tmp_path, analyzers=COLOR)
    tag_scene(stash, gone)
    tag_scene(stash, kept)
    gql(stash, "mutation($i: SceneDestroyInput!) { sceneDestroy(input: $i) }", i={"id": gone})
    run = run_plugin(stash, {"mode": "cleanup"})
    assert run.error is None, run.log_text()
    assert run.output["forgotten"]["scenes"] == 1
    db = sqlite3.connect(tmp_path / "data" / "stash_sense.sqlite")
    for table in ("owned", "suggestions", "signals", "scene_status"):
        ids = {r[0] for r in db.execute(f"SELECT scene_id FROM {table}")}
        assert gone not in ids and kept in ids, table
    assert op(stash, mode="status", scene_id=kept)[0]["state"] == "analyzed"
