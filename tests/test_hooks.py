"""Hooks: the hookContext payloads Stash sends (pkg/plugin/hooks.go; bulkSceneUpdate hands every
scene the whole BulkSceneUpdateInput), the plugin's own updates ignored, the loop guard, and that
the hook path imports no model code. Timing is a benchmark (tests/bench_hooks.py), not a test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from stash_sense.tasks.hooks import own_update, precheck, tags_set_or_added
from tests.e2e import configure, require_schema
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import REPO_ROOT, attach_plugin, run_plugin
from tests.standin.server import FakeStash

COLOR = "tests.helpers.scripted:ColorAnalyzer"
BULK = ("mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }")
UPDATE = ("mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }")

# What Stash's Go side marshals for the plugin's own bulkSceneUpdate (every optional field of the
# generated BulkSceneUpdateInput present, unset ones null) and for a scan (input null).
OWN_BULK = {"id": 12, "type": "Scene.Update.Post",
            "input": {"clientMutationId": "stash_sense", "ids": ["12"], "title": None,
                      "code": None, "details": None, "rating100": None, "organized": None,
                      "studio_id": None, "performer_ids": None,
                      "tag_ids": {"ids": ["3"], "mode": "ADD"}, "gallery_ids": None},
            "inputFields": ["clientMutationId", "ids", "tag_ids"]}
USER_BULK = {"id": 12, "type": "Scene.Update.Post",
             "input": {"ids": ["12", "13"], "tag_ids": {"ids": ["3"], "mode": "ADD"}},
             "inputFields": ["ids", "tag_ids"]}
USER_EDIT = {"id": 12, "type": "Scene.Update.Post",
             "input": {"id": "12", "title": "Beach day", "tag_ids": ["3", "9"], "rating100": 80},
             "inputFields": ["id", "title", "tag_ids", "rating100"]}
USER_MANY = {"id": 13, "type": "Scene.Update.Post",
             "input": [{"id": "12", "tag_ids": ["9"]}, {"id": "13", "tag_ids": ["3"]}]}
SCAN_UPDATE = {"id": 12, "type": "Scene.Update.Post", "input": None}
CREATED = {"id": 12, "type": "Scene.Create.Post", "input": None}


def args(context):
    return {"mode": "hook", "hookContext": context}


# ---- payloads (pure) ----------------------------------------------------------------------------
def test_own_updates_are_recognised_from_the_input():
    assert own_update(OWN_BULK, "12")
    assert not own_update(USER_BULK, "12") and not own_update(USER_EDIT, "12")
    assert not own_update(SCAN_UPDATE, "12")
    assert precheck(args(OWN_BULK))["reason"] == "Stash Sense's own update"


@pytest.mark.parametrize("context, scene, expected", [
    (USER_BULK, "12", ("ADD", ["3"])),
    (USER_EDIT, "12", ("SET", ["3", "9"])),
    (USER_MANY, "13", ("SET", ["3"])),
    (USER_MANY, "12", ("SET", ["9"])),
    ({**USER_BULK, "input": {"ids": ["12"], "tag_ids": {"ids": ["3"], "mode": "REMOVE"}}}, "12", None),
    ({**USER_EDIT, "input": {"id": "12", "rating100": 20}}, "12", None),
    (SCAN_UPDATE, "12", None),
])
def test_tags_set_or_added(context, scene, expected):
    assert tags_set_or_added(context, scene) == expected


def test_precheck_answers_without_stash_only_when_it_can():
    assert precheck(args(SCAN_UPDATE))["reason"] == "no tags were added"
    assert precheck(args({"type": "Scene.Destroy.Post", "id": 4, "input": None}))["action"] == "ignored"
    assert precheck(args({"type": "Scene.Update.Post", "input": None}))["action"] == "ignored"
    for needs_stash in (USER_BULK, USER_EDIT, USER_MANY, CREATED):
        assert precheck(args(needs_stash)) is None


def test_hook_and_operation_paths_import_no_model_code():
    code = """
import json, sys
from stash_sense.app import handler_for, run
fast = run({"args": json.loads(%r)})
handler_for({"mode": "hook", "hookContext": {"type": "Scene.Update.Post", "id": 1}})
after_fast = sorted(m for m in ("requests", "torch", "sqlite3", "ssl") if m in sys.modules)
# everything the full hook path uses (the context): still no `requests`
import stash_sense.context, stash_sense.stash.api, stash_sense.store.review
import stash_sense.tagging.tags, stash_sense.settings
after_hook = sorted(m for m in ("requests", "torch") if m in sys.modules)
import stash_sense.tasks.review, stash_sense.tagging.apply   # the scene tab's operations
after_ops = sorted(m for m in ("requests", "torch") if m in sys.modules)
heavy = ("torch", "open_clip", "ultralytics", "torchvision", "numpy", "PIL", "onnxruntime",
         "stash_sense.pipeline", "stash_sense.analyzers.clip")
print(json.dumps({"fast": fast, "after_fast": after_fast, "after_hook": after_hook,
                  "after_ops": after_ops,
                  "heavy": sorted(m for m in heavy if m in sys.modules)}))
""" % json.dumps(args(OWN_BULK))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["fast"]["output"]["action"] == "ignored"
    assert result["after_fast"] == []        # the own-update answer: no HTTP client, no store
    assert result["after_hook"] == []        # the full hook path: stdlib HTTP only
    assert result["after_ops"] == []         # the scene tab's operations too
    assert result["heavy"] == []


def test_every_light_mode_imports_no_heavy_library():
    """The mode table's light modes (hooks, the scene tab's operations, setup) run while Stash
    waits, or in Stash's own Python before any dependency exists: their modules, and the context
    they run on, import no torch, numpy or `requests`."""
    from stash_sense.app import MODES
    light = sorted({m.target.partition(":")[0] for m in MODES.values() if m.light})
    assert "stash_sense.tasks.hooks" in light and "stash_sense.tasks.review" in light
    code = """
import json, sys
from stash_sense.app import MODES
for mode in MODES.values():
    if mode.light:
        mode.handler()
import stash_sense.context
print(json.dumps(sorted(m for m in ("torch", "numpy", "requests", "PIL", "sklearn", "onnxruntime",
                                    "stash_sense.pipeline") if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# ---- against the stand-in -----------------------------------------------------------------------
def sprite_scene(stash, **kw):
    jpeg, _ = synthetic_sprite(300, lambda t: (20, 20, 230))
    return stash.add_scene(title="s", duration=300, sprite=jpeg,
                           vtt=lambda name: vtt_text(300, 160, 90, name), **kw)


def hook_runs(attached):
    return [r for r in attached.runs if "hookContext" in r.args]


def test_new_scene_is_marked_tagme_and_its_own_update_is_ignored(stash, tmp_path):
    configure(stash, tmp_path, autoTagNew=True)
    attached = attach_plugin(stash, run_tasks=False)
    sid = stash.add_scene(title="just scanned", write_generated=False)   # no sprite yet
    created = {"id": sid, "type": "Scene.Create.Post", "input": None}
    run = run_plugin(stash, {"mode": "hook"}, hook_context=created,
                     visited=[["stash_sense", "Scene.Create.Post"]])
    assert run.error is None, run.log_text()
    assert run.output["action"] == "marked"
    assert stash.scene_tag_names(sid) == ["StashSense_TagMe"]
    assert stash.jobs == {}                                  # nothing analyzed before sprites exist
    [nested] = hook_runs(attached)                           # our own update fired Scene.Update.Post
    assert nested.args["hookContext"]["input"]["clientMutationId"] == "stash_sense"
    assert nested.output["reason"] == "Stash Sense's own update"
    assert attached.skipped_hooks == []

    # saving the new scene while it waits for the batch does not analyze it early
    stash.graphql(UPDATE, {"i": {"id": sid, "title": "renamed",
                                 "tag_ids": [stash.tag_by_name("StashSense_TagMe")["id"]]}})
    assert hook_runs(attached)[-1].output["reason"] == "waiting for the TagMe batch"
    assert stash.jobs == {}

    configure(stash, tmp_path, autoTagNew=False)
    other = stash.add_scene(title="another")
    run = run_plugin(stash, {"mode": "hook"}, hook_context={**created, "id": other})
    assert run.output["reason"] == "autoTagNew is off" and stash.scene_tag_names(other) == []


def test_user_adding_tagme_queues_one_task(stash, tmp_path):
    configure(stash, tmp_path)
    attached = attach_plugin(stash, run_tasks=False)
    tagme = stash.add_tag("StashSense_TagMe")
    other_tag = stash.add_tag("Outdoor")
    a, b = sprite_scene(stash), sprite_scene(stash)

    stash.graphql(BULK, {"i": {"ids": [a], "tag_ids": {"ids": [tagme], "mode": "ADD"}}})
    [job] = stash.jobs.values()
    assert job["task_name"] == "Tag one scene"
    assert job["args"] == {"mode": "tag_scene", "scene_id": a}
    assert hook_runs(attached)[-1].output == {"hook": "Scene.Update.Post", "scene_id": a,
                                              "action": "queued", "reason": "StashSense_TagMe added",
                                              "job_id": job["id"]}
    stash.graphql(BULK, {"i": {"ids": [a], "tag_ids": {"ids": [tagme], "mode": "ADD"}}})
    assert len(stash.jobs) == 1                              # still waiting: not queued twice
    assert "already queued" in hook_runs(attached)[-1].output["reason"]

    stash.graphql(UPDATE, {"i": {"id": b, "tag_ids": [other_tag]}})
    assert hook_runs(attached)[-1].output["reason"] == "StashSense_TagMe was not added"
    stash.graphql(UPDATE, {"i": {"id": b, "rating100": 60}})
    assert hook_runs(attached)[-1].output["reason"] == "no tags were added"
    stash.graphql(UPDATE, {"i": {"id": b, "title": "x", "tag_ids": [other_tag, tagme]}})
    assert len(stash.jobs) == 2 and list(stash.jobs.values())[-1]["args"]["scene_id"] == b
    assert attached.skipped_hooks == []


def test_loop_guard_task_writes_fire_hooks_that_queue_nothing(stash, tmp_path):
    configure(stash, tmp_path, analyzers=COLOR, gapSeconds=20)
    attached = attach_plugin(stash, run_tasks="background")
    tagme = stash.add_tag("StashSense_TagMe")
    sid = sprite_scene(stash)
    stash.graphql(BULK, {"i": {"ids": [sid], "tag_ids": {"ids": [tagme], "mode": "ADD"}}})
    [job_id] = list(stash.jobs)
    deadline = time.monotonic() + 120
    while stash.job(job_id)["status"] not in ("FINISHED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stash.job(job_id)["status"] == "FINISHED"
    assert stash.scene_tag_names(sid) == ["Blue", "StashSense_Tagged"]
    assert len(stash.jobs) == 1                              # the task's own writes queued nothing
    outputs = [r.output for r in hook_runs(attached)]
    assert outputs[0]["action"] == "queued"
    assert len(outputs) >= 3 and all(o["reason"] == "Stash Sense's own update" for o in outputs[1:])
    assert attached.skipped_hooks == []                      # Stash's 10-round cut-off never needed


def test_hook_client_uses_the_session_cookie_and_reports_errors():
    require_schema()
    from stash_sense.errors import StashRequestError, StashUnreachable
    from stash_sense.stash.client import StashClient
    with FakeStash(require_auth=True) as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        sid = stash.add_scene(title="s")
        attach_plugin(stash, run_tasks=False)
        stash.graphql(BULK, {"i": {"ids": [sid], "tag_ids": {"ids": [tagme], "mode": "ADD"}}})
        [job] = stash.jobs.values()                    # the hook got through with the cookie
        assert job["args"] == {"mode": "tag_scene", "scene_id": sid}
        anonymous = StashClient({**stash.server_connection(), "SessionCookie": None})
        with pytest.raises(StashUnreachable, match="401"):
            anonymous.execute("query { version { version } }")
        client = StashClient(stash.server_connection())
        with pytest.raises(StashRequestError, match="Cannot query field"):
            client.execute("query { nope }")
        port = stash.port
    with pytest.raises(StashUnreachable, match="not reachable"):
        StashClient({"Host": "127.0.0.1", "Port": port}).execute("query { version { version } }")
