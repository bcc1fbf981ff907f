"""The scene page's Stash Sense tab in a real headless chromium.

The page (tests/ui/harness.html) gives ui/stash_sense.js a window.PluginApi with the React,
react-dom and react-bootstrap versions Stash 0.30 ships and renders ScenePage.Tabs/TabContent as
Stash's Scene.tsx does. /graphql is the stand-in Stash (tests/standin), which validates every
request against Stash's real SDL and records it; its runPluginOperation/runPluginTask answer
from ``ContractBackend`` below: the operations contract of stash_sense/tasks/review.py (status,
accept, reject, accept_category, reject_category; job via runPluginTask + findJob).

Set UPDATE_SCREENSHOT=1 to rewrite docs/scene-tab.png.
"""
from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path

import pytest

from tests.ui.browser import Browser, available, build_site

REPO = Path(__file__).resolve().parents[1]
TAB = "a.stash-sense-tab-link"
PANEL = ".stash-sense-tab"

_reason = available()
if _reason is None:
    from tests.standin import schema_available
    if not schema_available():
        _reason = "Stash's GraphQL SDL (shared/stash-schema) not found; set STASH_SCHEMA_DIR"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

MODELS = ["open_clip:ViT-B-32/laion2b_s34b_b79k", "yolo:yolo11n.pt"]


def suggestion(id_, name, category, confidence, segments, *, kind="tag", analyzer="clip",
               status="open", raised=None, target=None):
    return {"id": id_, "kind": kind, "name": name, "category": category, "analyzer": analyzer,
            "confidence": confidence, "status": status, "target_id": target,
            "threshold_raised_to": raised,
            "segments": [{"start": a, "end": b, "score": s} for a, b, s in segments]}


def analyzed_suggestions():
    return [
        suggestion(7, "Pool", "location", 0.83, [(12.3, 80.0, 0.8), (410.0, 468.5, 0.71)]),
        suggestion(8, "Beach", "location", 0.46, [(95.0, 140.0, 0.46)]),
        suggestion(9, "Low light", "lighting", 0.66, [(0.0, 300.0, 0.66)], status="applied", target="31"),
        suggestion(10, "Couch", "objects", 0.58, [(200.0, 260.0, 0.58)], analyzer="objects",
                   status="rejected", raised=0.7),
        suggestion(11, "Sunset Studios", "studio", 0.91, [(3.0, 9.0, 0.91)], kind="studio",
                   analyzer="ocr", target="4"),
        suggestion(12, "Jane Roe", "performer", 0.74, [(30.0, 95.0, 0.74)], kind="performer",
                   analyzer="faces", target="2"),
    ]


class ContractBackend:
    """What the plugin's operations answer, per the contract; state changes like the real ones."""

    def __init__(self, stash):
        self.stash = stash
        self.scenes: dict[str, dict] = {}
        self.fail_status: dict[str, str] = {}      # scene -> GraphQL error of the status call
        self.fail_job: dict[str, str] = {}         # scene -> job error
        self.after_job: dict[str, list] = {}       # scene -> suggestions once analyzed
        self.has_studio: set[str] = set()          # scenes whose studio is already set
        self.forget_jobs: set[str] = set()         # scenes whose finished job Stash drops at once
        self.threads: list[threading.Thread] = []

    def add(self, scene_id, state="never", suggestions=(), reason=None):
        self.scenes[scene_id] = {
            "scene_id": scene_id, "state": state, "reason": reason,
            "analyzed_at": 1767225600 if state == "analyzed" else None,
            "models": list(MODELS) if state == "analyzed" else [], "review_mode": True,
            "task_name": "Tag one scene", "suggestions": list(suggestions),
            "feedback": {"tag:pool": {"accepted": 3, "rejected": 1},
                         "performer:2": {"accepted": 1, "rejected": 0}},
            "notes": [],
        }

    def operation(self, args, cookie):
        mode, sid = args.get("mode"), args.get("scene_id")
        if sid in self.fail_status:
            raise RuntimeError(self.fail_status[sid])
        if mode == "similar":      # ui/search.js's section in the tab (tests/test_ui_find_browser.py)
            return {"scenes": [], "reason": "no other analysed scene yet"}
        if mode == "face_groups":  # ui/faces.js's section in the tab (tests/test_face_page.py)
            return {"model": "facenet:test", "groups": []}
        status = self.scenes[sid]
        status["notes"] = []
        if mode in ("accept", "reject"):
            self._decide(status, [s for s in status["suggestions"]
                                  if s["id"] == args["suggestion_id"]], mode, strict=True)
        elif mode in ("accept_category", "reject_category"):
            self._decide(status, [s for s in status["suggestions"] if s["category"] == args["category"]
                                  and s["status"] in ("open", "applied")], mode.split("_")[0])
        elif mode != "status":
            raise RuntimeError(f"unknown mode {mode!r}")
        return copy.deepcopy(status)

    def _decide(self, status, items, mode, strict=False):
        assert items, "the UI acted on a suggestion the backend does not have"
        for s in items:
            if mode == "accept" and s["kind"] == "studio" and status["scene_id"] in self.has_studio:
                note = f"the scene already has a studio; remove it in Stash to accept {s['name']!r}"
                if strict:
                    raise RuntimeError(f"scene {status['scene_id']}: {note}")
                status["notes"].append(note)
                continue
            s["status"] = "accepted" if mode == "accept" else "rejected"

    def task(self, job, cookie):
        sid = (job.get("args") or {}).get("scene_id")
        thread = threading.Thread(target=self._run_job, args=(job["id"], sid), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run_job(self, job_id, sid):
        time.sleep(0.2)
        self.stash.set_job(job_id, status="RUNNING", progress=0.25)
        time.sleep(1.0)
        if sid in self.fail_job:
            self.stash.set_job(job_id, status="FAILED", error=self.fail_job[sid])
            return
        self.add(sid, "analyzed", self.after_job.get(sid, []))
        self.stash.set_job(job_id, status="FINISHED", progress=1.0)
        if sid in self.forget_jobs:
            with self.stash.lock:
                del self.stash.jobs[job_id]


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"), REPO)


@pytest.fixture(scope="module")
def site(site_root):
    from tests.standin import FakeStash
    with FakeStash(static_dir=str(site_root)) as stash:
        backend = ContractBackend(stash)
        stash.on_run_plugin_operation = backend.operation
        stash.on_run_plugin_task = backend.task
        yield stash, backend


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture()
def open_tab(site, browser):
    stash, backend = site

    def go(title, state="never", suggestions=(), reason=None, query="", setup=None):
        sid = stash.add_scene(title)
        backend.add(sid, state, copy.deepcopy(list(suggestions)), reason)
        if setup:
            setup(sid)
        browser.goto(f"{stash.base_url}/harness.html?scene={sid}{query}")
        assert operations(stash, sid) == [], "the tab must not call the plugin until it is opened"
        browser.click(TAB)
        browser.wait(PANEL)
        browser.wait(f"{PANEL} .ss-loading", gone=True)
        return sid
    yield go
    assert stash.schema_violations == [], stash.schema_violations
    missing = [path for verb, path, code in stash.http_log if code == 404 and path != "/favicon.ico"]
    assert missing == []
    problems = [line for line in browser.logs() if "pageerror" in line
                or ("error:" in line and "Failed to load resource" not in line)]
    assert problems == []


def operations(stash, sid):
    """runPluginOperation requests for one scene, as sent over HTTP (variables)."""
    return [r["variables"] for r in stash.calls("runPluginOperation")
            if (r["variables"].get("args") or {}).get("scene_id") == sid
            # the sections other scripts add to the tab ask on their own (search.js, faces.js)
            and r["variables"]["args"].get("mode") not in ("similar", "face_groups")]


def eventually(check, timeout: float = 5.0) -> bool:
    """For what the page does right after the DOM changed (a request still in flight)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def clock(seconds: float) -> str:
    s = int(seconds + 0.5)                       # Math.round, not banker's rounding
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def row(sid_suggestion):
    return f'{PANEL} li[data-suggestion-id="{sid_suggestion}"]'


def test_tab_shows_suggestions_by_category_and_accepts_exactly_one(site, browser, open_tab):
    stash, _ = site
    sid = open_tab("Pool party", "analyzed", analyzed_suggestions())
    browser.wait(f"{PANEL} .ss-category")
    assert browser.texts(f"{PANEL} .ss-category-name") == [
        "Lighting", "Location", "Objects", "Performer", "Studio"]
    pool = browser.texts(row(7))[0]
    assert "Pool" in pool and "83%" in pool and "clip" in pool
    assert browser.texts(f"{row(7)} .ss-segment") == ["0:12–1:20", "6:50–7:49"]
    assert "Your earlier decisions: accepted 3×, rejected 1×." in pool
    assert "Its threshold was raised to 70%" in browser.texts(row(10))[0]
    assert browser.texts(f"{row(9)} .ss-status") == ["Applied"]
    summary = browser.texts(f"{PANEL} .ss-models")[0]
    assert "open_clip:ViT-B-32/laion2b_s34b_b79k, yolo:yolo11n.pt" in summary
    assert "Analyzed" in summary
    if os.environ.get("UPDATE_SCREENSHOT"):
        browser.screenshot(".scene-tabs", REPO / "docs" / "scene-tab.png")

    refetches = browser.eval("window.__harness.refetches.length")
    browser.click(f"{row(7)} .ss-accept")
    browser.wait(f"{row(7)} .ss-status", text="Accepted")
    sent = operations(stash, sid)
    assert [v["args"]["mode"] for v in sent] == ["status", "accept"]
    assert sent[-1] == {"plugin_id": "stash_sense",
                        "args": {"mode": "accept", "scene_id": sid, "suggestion_id": 7}}
    request = stash.calls("runPluginOperation")[-1]
    assert request["operation_name"] == "StashSenseOperation"
    assert stash.operations[-1] == {"plugin_id": "stash_sense", "args": sent[-1]["args"]}
    assert browser.count(f"{row(8)} .ss-accept") == 1, "only suggestion 7 changed"
    assert browser.eval("window.__harness.refetches.length") == refetches + 1


def test_reject_one_and_accept_a_category(site, browser, open_tab):
    stash, _ = site
    sid = open_tab("Beach day", "analyzed", analyzed_suggestions())
    browser.click(f"{row(8)} .ss-reject")
    browser.wait(f"{row(8)} .ss-status", text="Rejected")
    assert operations(stash, sid)[-1]["args"] == {"mode": "reject", "scene_id": sid, "suggestion_id": 8}
    assert browser.count(f"{row(7)} .ss-accept") == 1

    browser.click(f'{PANEL} [data-category="location"] .ss-accept-all')
    browser.wait(f"{row(7)} .ss-status", text="Accepted")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "accept_category", "scene_id": sid, "category": "location"}
    assert browser.count(f'{PANEL} [data-category="location"] .ss-accept-all') == 0
    assert browser.count(f'{PANEL} [data-category="location"] .ss-reject-all') == 0

    # an applied suggestion can still be rejected (the plugin takes back what it wrote)
    assert browser.count(f"{row(9)} .ss-accept") == 0
    browser.click(f"{row(9)} .ss-reject")
    browser.wait(f"{row(9)} .ss-status", text="Rejected")
    assert operations(stash, sid)[-1]["args"] == {"mode": "reject", "scene_id": sid, "suggestion_id": 9}

    # a decision can be turned around
    browser.click(f"{row(8)} .ss-accept", text="Accept instead")
    browser.wait(f"{row(8)} .ss-status", text="Accepted")
    assert operations(stash, sid)[-1]["args"] == {"mode": "accept", "scene_id": sid, "suggestion_id": 8}


def test_notes_and_refusals_of_a_decision_are_shown(site, browser, open_tab):
    stash, backend = site
    sid = open_tab("Studio set", "analyzed", analyzed_suggestions(),
                   setup=lambda s: backend.has_studio.add(s))
    browser.click(f"{row(11)} .ss-accept")
    browser.wait(f"{PANEL} .ss-error", text="already has a studio")
    assert browser.count(f"{row(11)} .ss-accept") == 1, "refused: the suggestion stays open"
    browser.click(f"{PANEL} .ss-error .close")
    browser.wait(f"{PANEL} .ss-error", gone=True)

    browser.click(f'{PANEL} [data-category="studio"] .ss-accept-all')
    browser.wait(f"{PANEL} .ss-notes", text="The scene already has a studio; remove it in Stash to accept 'Sunset Studios'")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "accept_category", "scene_id": sid, "category": "studio"}
    assert "Your earlier decisions: accepted 1×." in browser.texts(row(12))[0]


def test_clicking_a_time_range_seeks_the_player(site, browser, open_tab):
    open_tab("Seek", "analyzed", analyzed_suggestions())
    browser.click(f"{row(7)} .ss-segment", text="6:50")
    assert browser.eval("window.__harness.seeks") == [{"via": "setTimestamp", "seconds": 410.0}]

    # without setTimestamp in the props the video.js player from InteractiveUtils is used
    open_tab("Seek player", "analyzed", analyzed_suggestions(), query="&seek=player")
    browser.click(f"{row(12)} .ss-segment")
    assert browser.eval("window.__harness.seeks") == [{"via": "player", "seconds": 30.0}]


def test_analyze_now_queues_the_task_polls_the_job_and_refreshes(site, browser, open_tab):
    stash, backend = site
    found = [suggestion(1, "Kitchen", "location", 0.77, [(5.0, 50.0, 0.7)])]
    sid = open_tab("Fresh scene", setup=lambda s: backend.after_job.__setitem__(s, found))
    assert "not been analyzed" in browser.texts(f"{PANEL} .ss-summary")[0]
    assert browser.texts(f"{PANEL} .ss-state") == ["Not analyzed"]

    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-job")
    assert browser.texts(f"{PANEL} .ss-state")[0] in ("Queued", "Analyzing")
    browser.wait(f"{PANEL} .ss-state", text="Analyzed", exact=True)
    assert "Kitchen" in browser.texts(row(1))[0]
    assert browser.count(f"{PANEL} .ss-job") == 0

    task = stash.calls("runPluginTask")[-1]
    assert task["variables"]["args_map"] == {"mode": "tag_scene", "scene_id": sid}
    assert task["variables"]["task_name"] == "Tag one scene"
    assert task["variables"]["plugin_id"] == "stash_sense"
    job = stash.jobs[stash.calls("runPluginTask")[-1]["data"]["runPluginTask"]]
    assert job["args"] == {"mode": "tag_scene", "scene_id": sid} and job["status"] == "FINISHED"
    polls = [r for r in stash.calls("findJob") if r["variables"]["id"] == job["id"]]
    assert len(polls) >= 2, "the job is polled until it ends"
    assert [v["args"]["mode"] for v in operations(stash, sid)] == ["status", "status"]

    # Stash keeps only recent finished jobs: a job that is gone has ended, the tab reloads
    backend.forget_jobs.add(sid)
    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-job")
    browser.wait(f"{PANEL} .ss-job", gone=True)
    assert eventually(lambda: [v["args"]["mode"] for v in operations(stash, sid)] == ["status"] * 3)
    assert browser.count(f"{PANEL} .ss-error") == 0


def test_errors_are_shown_in_the_tab(site, browser, open_tab):
    stash, backend = site
    reason = "No sprite for this scene: run Tasks > Generate > Sprites, then Analyze now"
    open_tab("Broken", "error", reason=reason)
    assert browser.texts(f"{PANEL} .ss-state") == ["Error"]
    assert reason in browser.texts(f"{PANEL} .ss-error-state")[0]

    # the status operation itself fails (the plugin printed {"error": ...})
    locked = "Stash Sense store is locked by another task; try again"
    open_tab("No status", setup=lambda s: backend.fail_status.__setitem__(s, locked))
    browser.wait(f"{PANEL} .ss-error", text="store is locked")
    assert "Could not load the Stash Sense status" in browser.texts(f"{PANEL} .ss-error")[0]

    # the analysis job fails
    missing = "CLIP weights missing: put them in /plugins/stash_sense/models"
    open_tab("Failing job", setup=lambda s: backend.fail_job.__setitem__(s, missing))
    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-error", text="CLIP weights missing")
    assert "The analysis failed" in browser.texts(f"{PANEL} .ss-error")[0]
    assert browser.count(f"{PANEL} .ss-analyze:not([disabled])") == 1


def test_real_plugin_behind_the_tab(site_root, browser, tmp_path):
    """The real plugin process behind runPluginOperation/runPluginTask (tests/standin/runner.py),
    with the scripted colour analyzer: Analyze now runs the real task, Accept writes the tag."""
    from tests.e2e import configure
    from tests.standin import FakeStash
    from tests.standin.media import synthetic_sprite, vtt_text
    from tests.standin.runner import attach_plugin

    red, blue = (200, 40, 40), (20, 20, 230)
    jpeg, _ = synthetic_sprite(600, lambda t: red if 100 <= t < 300 else blue if t >= 400 else None)
    with FakeStash(static_dir=str(site_root)) as stash:
        sid = stash.add_scene(title="Colours", duration=600, sprite=jpeg,
                              vtt=lambda name: vtt_text(600, 160, 90, name))
        configure(stash, tmp_path, analyzers="tests.helpers.scripted:ColorAnalyzer",
                  reviewMode=True, gapSeconds=20)
        plugin = attach_plugin(stash, hooks=False, run_tasks="background")
        browser.goto(f"{stash.base_url}/harness.html?scene={sid}")
        browser.click(TAB)
        browser.wait(f"{PANEL} .ss-state", text="Not analyzed", exact=True, timeout_ms=30000)

        browser.click(f"{PANEL} .ss-analyze")
        browser.wait(f"{PANEL} .ss-state", text="Analyzed", exact=True, timeout_ms=60000)
        assert browser.texts(f"{PANEL} .ss-category-name") == ["Colour"]
        assert stash.scene_tag_names(sid) == ["StashSense_Review", "StashSense_Tagged"]
        status = [r.output for r in plugin.runs if r.args.get("mode") == "status"][-1]
        for s in status["suggestions"]:          # the UI shows what the plugin answered
            shown = browser.texts(row(s["id"]))[0]
            assert shown.startswith(f"{s['name']} {int(s['confidence'] * 100 + 0.5)}% color"), shown
            assert [clock(g["start"]) + "–" + clock(g["end"]) for g in s["segments"]] == \
                browser.texts(f"{row(s['id'])} .ss-segment")
        assert sorted(s["name"] for s in status["suggestions"]) == ["Blue", "Red"]

        browser.click(f"{PANEL} .ss-suggestion .ss-accept")   # first row: the highest confidence
        browser.wait(f"{PANEL} .ss-status", text="Accepted", timeout_ms=30000)
        accepted = browser.texts(f"{PANEL} .ss-status-accepted .ss-name")
        assert accepted == ["Blue"] and "Blue" in stash.scene_tag_names(sid)
        assert [stash.tag(m["primary_tag_id"])["name"] for m in stash.markers(sid)] == ["Blue"]

        browser.click(f"{PANEL} .ss-status-open .ss-reject")
        browser.wait(f"{PANEL} .ss-status", text="Rejected", timeout_ms=30000)
        assert stash.scene_tag_names(sid) == ["Blue", "StashSense_Tagged"]   # Review tag left
        assert stash.schema_violations == [] and stash.internal_errors == []
