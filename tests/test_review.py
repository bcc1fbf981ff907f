"""Review: the plan's review rules (pure), then the scene tab's operations end to end — the real
plugin process behind runPluginOperation / runPluginTask on the Stash stand-in, with scripted
analyzers so the expected suggestions are known exactly."""
from __future__ import annotations

import json

from stash_sense.findings import Finding, Segment
from stash_sense.settings import load_settings
from stash_sense.store import Store
from stash_sense.tagging.plan import make_plan, plan_accept, plan_reject
from stash_sense.tagging.state import Marker, Owned, SceneState
from tests.e2e import configure
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import attach_plugin, run_plugin

COLOR = "tests.helpers.scripted:ColorAnalyzer"
LISTED = "tests.helpers.listed:ListedAnalyzer"
RED, BLUE = (200, 40, 40), (20, 20, 230)      # red ~0.71 of the colour, blue ~0.85
OP = "mutation($a: Map) { runPluginOperation(plugin_id: \"stash_sense\", args: $a) }"
TASK = ("mutation($a: Map) { runPluginTask(plugin_id: \"stash_sense\", task_name: \"Tag one scene\","
        " args_map: $a) }")


# ---- pure plan rules ------------------------------------------------------------------------------
S = load_settings({}, {}, "/p")
REVIEW = load_settings({"reviewMode": True}, {}, "/p")


def scene(tags=(), markers=(), studio=None, performers=()):
    return SceneState("1", frozenset(tags), tuple(markers), studio, frozenset(performers))


def tag(name, conf=0.9, segments=((10, 60),)):
    return Finding("tag", name, "clip", "location", conf,
                   tuple(Segment(a, b, conf) for a, b in segments), markers=True)


def test_review_mode_writes_nothing_and_keeps_what_we_own():
    owned = Owned(tags={"5": {"name": "Pool"}}, markers={"m1": {"name": "Pool"}})
    state = scene(tags={"5"}, markers=[Marker("m1", "5", 10, 60)])
    plan = make_plan(state, [tag("Beach")], owned, REVIEW, {"pool": "5"}, set())
    assert not plan.changes_stash and [f.name for f in plan.suggestions] == ["Beach"]


def test_accepted_tag_stays_even_when_no_longer_found():
    owned = Owned(tags={"5": {"name": "Pool"}}, markers={"m1": {"name": "Pool"}})
    state = scene(tags={"5"}, markers=[Marker("m1", "5", 10, 60)])
    plan = make_plan(state, [], owned, S, {}, set(), accepted={("tag", "pool")})
    assert not plan.changes_stash
    plan = make_plan(state, [], owned, S, {}, set())
    assert plan.remove_tag_ids == ["5"] and plan.delete_marker_ids == ["m1"]


def test_what_the_user_undid_is_not_redone_in_the_same_run():
    owned = Owned(tags={"5": {"name": "Pool"}},
                  markers={"m1": {"name": "Beach", "seconds": 10, "end_seconds": 60}})
    state = scene(tags={"6"})                     # our Pool tag removed, our Beach marker deleted
    plan = make_plan(state, [tag("Pool"), tag("Beach")], owned, S, {"pool": "5", "beach": "6"},
                     set())
    assert plan.add_tags == [] and plan.create_markers == []
    assert {k for k, _, _ in plan.forget} == {"tag", "marker"}
    # a rejected span stays rejected on later runs, other stretches of the tag still get markers
    again = make_plan(state, [tag("Beach", segments=((12, 58), (300, 400)))], Owned(), S,
                      {"beach": "6"}, set(), rejected_spans={"beach": [(10, 60)]})
    assert [(m.seconds, m.end_seconds) for m in again.create_markers] == [(300, 400)]


def test_plan_accept_and_reject_touch_exactly_one_finding():
    state = scene(tags={"7"}, studio="8")
    plan = plan_accept(state, [tag("Pool")], S, {})
    assert plan.add_tags == [("Pool", ())] and len(plan.create_markers) == 1
    studio = Finding("studio", "Acme", "ocr", "studio", 0.9, target_id="3")
    assert plan_accept(state, [studio], S, {}).notes                 # never replaces a studio
    owned = Owned(tags={"5": {"name": "Pool"}, "6": {"name": "Beach"}},
                  markers={"m1": {"name": "Pool"}, "m2": {"name": "Beach"}},
                  studio={"8": {}}, performers={"4": {}})
    state = scene(tags={"5", "6", "7"}, markers=[Marker("m1", "5", 1, 2), Marker("m2", "6", 1, 2)],
                  studio="8", performers={"4", "9"})
    rejected = plan_reject(state, "tag", "pool", owned)
    assert rejected.remove_tag_ids == ["5"] and rejected.delete_marker_ids == ["m1"]
    assert plan_reject(state, "studio", "8", owned).clear_studio_id == "8"
    assert plan_reject(state, "performer", "4", owned).remove_performer_ids == ["4"]
    assert not plan_reject(state, "performer", "9", owned).changes_stash   # the user's own


# ---- end to end -------------------------------------------------------------------------------------
def colour_scene(stash, title="scene", **kw):
    """Red from 100 s to 300 s, blue from 400 s to the end of a 600 s scene."""
    jpeg, _ = synthetic_sprite(600, lambda t: RED if 100 <= t < 300 else BLUE if t >= 400 else None)
    return stash.add_scene(title=title, duration=600, sprite=jpeg,
                           vtt=lambda name: vtt_text(600, 160, 90, name), **kw)


def op(stash, **args):
    """runPluginOperation as the scene tab sends it: (output, error message or None)."""
    result = stash.graphql(OP, {"a": args})
    errors = result.get("errors")
    return (result["data"] or {}).get("runPluginOperation"), errors[0]["message"] if errors else None


def by_name(payload) -> dict:
    return {s["name"]: s for s in payload["suggestions"]}


def tag_scene(stash, sid):
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid})
    assert run.error is None, run.log_text()
    return run


def test_review_mode_suggest_accept_reject_end_to_end(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    sid = colour_scene(stash, tag_ids=[tagme])
    configure(stash, tmp_path, analyzers=COLOR, reviewMode=True, gapSeconds=20)
    attach_plugin(stash, hooks=False)
    status, error = op(stash, mode="status", scene_id=sid)
    assert error is None and status["state"] == "never" and status["suggestions"] == []

    run = run_plugin(stash, {"mode": "tag_tagme"})
    assert run.error is None, run.log_text()
    assert stash.scene_tag_names(sid) == ["StashSense_Review", "StashSense_Tagged"]
    assert stash.markers(sid) == []                       # review mode: only workflow tags

    status, _ = op(stash, mode="status", scene_id=sid)
    assert status["state"] == "analyzed" and status["reason"] is None
    assert status["models"] == ["scripted:color/1"] and status["review_mode"] is True
    assert status["task_name"] == "Tag one scene" and isinstance(status["analyzed_at"], int)
    red, blue = by_name(status)["Red"], by_name(status)["Blue"]
    assert red["status"] == blue["status"] == "open" and red["category"] == "colour"
    assert red["kind"] == "tag" and red["analyzer"] == "color" and 0.6 < red["confidence"] < 0.8
    [seg] = red["segments"]
    assert 90 <= seg["start"] <= 110 and 290 <= seg["end"] <= 310 and seg["score"] > 0.6

    status, _ = op(stash, mode="accept", scene_id=sid, suggestion_id=blue["id"])
    assert by_name(status)["Blue"]["status"] == "accepted"
    assert status["feedback"]["tag:blue"] == {"accepted": 1, "rejected": 0}
    assert "Blue" in stash.scene_tag_names(sid) and "StashSense_Review" in stash.scene_tag_names(sid)
    [marker] = stash.markers(sid)
    assert stash.tag(marker["primary_tag_id"])["name"] == "Blue" and 390 <= marker["seconds"] <= 410

    status, _ = op(stash, mode="reject", scene_id=str(sid), suggestion_id=str(red["id"]))
    assert by_name(status)["Red"]["status"] == "rejected" and status["open_count"] == 0
    assert status["feedback"]["tag:red"] == {"accepted": 0, "rejected": 1}
    assert stash.scene_tag_names(sid) == ["Blue", "StashSense_Tagged"]   # last one: Review goes

    tag_scene(stash, sid)                                 # rejected: never suggested again
    status, _ = op(stash, mode="status", scene_id=sid)
    assert {n: s["status"] for n, s in by_name(status).items()} == {"Red": "rejected",
                                                                   "Blue": "accepted"}
    assert stash.scene_tag_names(sid) == ["Blue", "StashSense_Tagged"]
    assert len(stash.markers(sid)) == 1

    undo = run_plugin(stash, {"mode": "undo", "scene_id": sid})  # accepted = ours: undo takes it
    assert undo.error is None and undo.output["tags"] == 1 and undo.output["markers"] == 1
    assert "Blue" not in stash.scene_tag_names(sid) and stash.markers(sid) == []


def test_two_thresholds_applied_suggestions_and_categories(stash, tmp_path):
    fav = stash.add_tag("Favourite")
    sid = colour_scene(stash, tag_ids=[fav])
    configure(stash, tmp_path, analyzers=COLOR, applyThreshold=0.8, gapSeconds=20)
    attach_plugin(stash, hooks=False)
    tag_scene(stash, sid)
    assert stash.scene_tag_names(sid) == ["Blue", "Favourite", "StashSense_Tagged"]
    status, _ = op(stash, mode="status", scene_id=sid)
    blue, red = by_name(status)["Blue"], by_name(status)["Red"]
    assert (blue["status"], red["status"]) == ("applied", "open")

    status, _ = op(stash, mode="reject", scene_id=sid, suggestion_id=blue["id"])
    assert stash.scene_tag_names(sid) == ["Favourite", "StashSense_Tagged"]
    assert stash.markers(sid) == []                       # exactly what the plugin added for it
    tag_scene(stash, sid)
    assert "Blue" not in stash.scene_tag_names(sid)

    status, _ = op(stash, mode="accept_category", scene_id=sid, category="colour")
    assert {n: s["status"] for n, s in by_name(status).items()} == {"Red": "accepted",
                                                                   "Blue": "rejected"}
    assert stash.scene_tag_names(sid) == ["Favourite", "Red", "StashSense_Tagged"]
    assert [stash.tag(m["primary_tag_id"])["name"] for m in stash.markers(sid)] == ["Red"]

    # a higher suggest threshold drops Red from a fresh scene's suggestions entirely
    other = colour_scene(stash, "other")
    configure(stash, tmp_path, analyzers=COLOR, applyThreshold=0.8, suggestThreshold=0.75,
              gapSeconds=20)
    tag_scene(stash, other)
    status, _ = op(stash, mode="status", scene_id=other)
    assert {n: s["status"] for n, s in by_name(status).items()} == {"Blue": "applied"}


def test_reject_category_studio_and_performer(stash, tmp_path):
    acme = stash.add_studio("Acme")
    ann = stash.add_performer("Ann")
    sid = colour_scene(stash)
    listed = [{"kind": "studio", "name": "Acme", "target_id": acme, "confidence": 0.9},
              {"kind": "performer", "name": "Ann", "target_id": ann, "confidence": 0.9,
               "category": "performers"}]
    configure(stash, tmp_path, analyzers=LISTED, applyPerformers=True)
    attach_plugin(stash, hooks=False, env={"STASH_SENSE_TEST_FINDINGS": json.dumps(listed)})
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid},
                     env={"STASH_SENSE_TEST_FINDINGS": json.dumps(listed)})
    assert run.error is None, run.log_text()
    assert stash.scene(sid)["studio_id"] == acme and stash.scene(sid)["performer_ids"] == [ann]
    status, _ = op(stash, mode="status", scene_id=sid)
    assert {(s["kind"], s["target_id"], s["status"]) for s in status["suggestions"]} == {
        ("studio", acme, "applied"), ("performer", ann, "applied")}

    status, _ = op(stash, mode="reject_category", scene_id=sid, category="studio")
    assert stash.scene(sid)["studio_id"] is None and stash.scene(sid)["performer_ids"] == [ann]
    performer = next(s for s in status["suggestions"] if s["kind"] == "performer")
    op(stash, mode="reject", scene_id=sid, suggestion_id=performer["id"])
    assert stash.scene(sid)["performer_ids"] == []
    status, _ = op(stash, mode="accept", scene_id=sid, suggestion_id=performer["id"])
    assert stash.scene(sid)["performer_ids"] == [ann]       # changed their mind
    assert status["feedback"][f"performer:{ann}"] == {"accepted": 1, "rejected": 0}

    # a scene with a studio of its own: Acme stays a suggestion, and accepting it never replaces
    # the user's studio
    other = stash.add_studio("Other")
    theirs = colour_scene(stash, "has a studio", studio_id=other)
    run_plugin(stash, {"mode": "tag_scene", "scene_id": theirs},
               env={"STASH_SENSE_TEST_FINDINGS": json.dumps(listed[:1])})
    studio = op(stash, mode="status", scene_id=theirs)[0]["suggestions"][0]
    assert (studio["status"], stash.scene(theirs)["studio_id"]) == ("open", other)
    payload, error = op(stash, mode="accept", scene_id=theirs, suggestion_id=studio["id"])
    assert "already has a studio" in error and stash.scene(theirs)["studio_id"] == other


def test_operation_errors_name_the_problem(stash, tmp_path):
    one, two = colour_scene(stash, "one"), colour_scene(stash, "two")
    nosprite = stash.add_scene(title="not generated")
    configure(stash, tmp_path, analyzers=COLOR, reviewMode=True)
    attach_plugin(stash, hooks=False)
    run = run_plugin(stash, {"mode": "tag_scene", "scene_id": one})
    assert run.error is None
    theirs = op(stash, mode="status", scene_id=one)[0]["suggestions"][0]["id"]

    assert "suggestion 999 does not exist" in op(stash, mode="accept", scene_id=one,
                                                 suggestion_id=999)[1]
    assert f"suggestion {theirs} belongs to scene {one}, not to scene {two}" in op(
        stash, mode="reject", scene_id=two, suggestion_id=theirs)[1]
    assert "suggestion_id must be" in op(stash, mode="accept", scene_id=one, suggestion_id="x")[1]
    assert "needs args.scene_id" in op(stash, mode="status")[1]
    assert "no suggestion in category 'nope'" in op(stash, mode="accept_category", scene_id=one,
                                                    category="nope")[1]

    # "Analyze now": the tab queues the task with args_map; a failure shows in the tab
    job = stash.graphql(TASK, {"a": {"mode": "tag_scene", "scene_id": nosprite}})
    assert stash.job(job["data"]["runPluginTask"])["status"] == "FINISHED"
    status, _ = op(stash, mode="status", scene_id=nosprite)
    assert status["state"] == "error" and "sprite" in status["reason"]


def test_incorrect_and_deleted_markers_are_rejections(stash, tmp_path):
    sid = colour_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR, gapSeconds=20)
    attach_plugin(stash, hooks=False)
    tag_scene(stash, sid)
    names = lambda: sorted(stash.tag(m["primary_tag_id"])["name"] for m in stash.markers(sid))  # noqa: E731
    assert names() == ["Blue", "Red"]
    red_marker = next(m for m in stash.markers(sid) if stash.tag(m["primary_tag_id"])["name"] == "Red")
    blue_marker = next(m for m in stash.markers(sid) if m["id"] != red_marker["id"])
    incorrect = stash.tag_by_name("StashSense_Incorrect")["id"]
    stash.update_marker({"id": red_marker["id"], "tag_ids": [incorrect]})
    stash.destroy_markers([blue_marker["id"]])

    tag_scene(stash, sid)
    assert names() == []                                 # removed and never created again
    assert {"Red", "Blue"} <= set(stash.scene_tag_names(sid))   # the tags themselves stay
    feedback = Store.in_dir(str(tmp_path / "data")).feedback.all()
    assert feedback[("tag", "red")] == (0, 1) and feedback[("tag", "blue")] == (0, 1)
    tag_scene(stash, sid)
    assert names() == [] and Store.in_dir(str(tmp_path / "data")).feedback.all()[("tag", "red")] == (0, 1)


def test_learn_from_rejections_raises_the_threshold(stash, tmp_path):
    sid = colour_scene(stash)
    configure(stash, tmp_path, analyzers=COLOR, reviewMode=True, gapSeconds=20)
    attach_plugin(stash, hooks=False)
    tag_scene(stash, sid)
    Store.in_dir(str(tmp_path / "data")).feedback.count("tag", "red", accepted=1, rejected=4)
    status, _ = op(stash, mode="status", scene_id=sid)
    assert by_name(status)["Red"]["threshold_raised_to"] is None        # opt-in: off

    configure(stash, tmp_path, analyzers=COLOR, reviewMode=True, gapSeconds=20,
              learnFromRejections=True)
    status, _ = op(stash, mode="status", scene_id=sid)
    assert by_name(status)["Red"]["threshold_raised_to"] == 0.8
    assert status["feedback"]["tag:red"] == {"accepted": 1, "rejected": 4}
    tag_scene(stash, sid)                                 # Red (~0.71) is below 0.8 now
    status, _ = op(stash, mode="status", scene_id=sid)
    assert set(by_name(status)) == {"Blue"}

    report = run_plugin(stash, {"mode": "feedback_report"})
    assert report.error is None
    assert report.output["raised"] == {"tag:red": 0.8}
    top = report.output["tags"][0]
    assert (top["kind"], top["key"], top["accepted"], top["rejected"]) == ("tag", "red", 1, 4)
    assert top["threshold_raised_to"] == 0.8 and top["rejection_rate"] == 0.8
    assert any("threshold raised to 0.80" in m for m in report.messages("i"))
