"""The scene page's Stash Sense tab in a real headless chromium, the real plugin behind it.

The page (tests/ui/harness.html) gives ui/stash_sense.js a window.PluginApi with the React,
react-dom and react-bootstrap versions Stash 0.30 ships and renders ScenePage.Tabs/TabContent as
Stash's Scene.tsx does. /graphql is the stand-in Stash (tests/standin), which validates every
request against Stash's real SDL and records it; its runPluginOperation/runPluginTask run
stash_sense.py as Stash does (tests/standin/runner.attach_plugin), so every answer the tab renders
comes from the plugin's own operations (stash_sense/tasks/review.py). A scene's analysis is seeded
through the plugin's Store, or made by the real task with the scripted colour analyzer; failures
are real ones (a store that cannot be opened, an analyzer that cannot be imported).

Set UPDATE_SCREENSHOT=1 to rewrite docs/scene-tab.png.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e import configure, eventually
from tests.ui.browser import Browser, available, build_site

if TYPE_CHECKING:
    from tests.standin.server import FakeStash

REPO = Path(__file__).resolve().parents[1]
TAB = "a.stash-sense-tab-link"
PANEL = ".stash-sense-tab"
COLOR = "tests.helpers.scripted:ColorAnalyzer"
RED, BLUE = (200, 40, 40), (20, 20, 230)

_reason = available()
if _reason is None:
    from tests.standin import schema_available
    if not schema_available():
        _reason = "Stash's GraphQL SDL (shared/stash-schema) not found; set STASH_SCHEMA_DIR"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

MODELS = ["open_clip:ViT-B-32/laion2b_s34b_b79k", "yolo:yolo11n.pt"]


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"), REPO)


@pytest.fixture
def stash_options(site_root):
    """The stand-in also serves the harness page and the plugin's JS/CSS."""
    return {"static_dir": str(site_root)}


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def plugin(stash, tmp_path):
    """stash_sense.py behind runPluginOperation / runPluginTask (tasks on Stash's one job worker),
    in review mode with rejections raising thresholds; its store is in tmp_path/data."""
    from tests.standin.runner import attach_plugin
    configure(stash, tmp_path, analyzers=COLOR, reviewMode=True, learnFromRejections=True,
              gapSeconds=20)
    return attach_plugin(stash, hooks=False, run_tasks="background")


def analyzed(stash: FakeStash, data_dir: Path, sid: str) -> dict[str, int]:
    """What an analysis of `sid` leaves in the plugin's store, written through its Store: open
    suggestions of several kinds and categories, one already applied, one rejected so often that
    its threshold was raised, earlier decisions on Pool and on the performer. The studio and the
    performer exist in Stash. Returns the suggestions' ids by name."""
    from stash_sense.findings import Finding, Segment
    from stash_sense.kinds import Kind
    from stash_sense.store import Store
    from stash_sense.store.scene_status import ProcessingState
    from stash_sense.store.suggestions import SuggestionStatus

    def found(kind, name, category, confidence, segments, analyzer="clip", target=None):
        return Finding(kind, name, analyzer, category, confidence,
                       tuple(Segment(a, b, c) for a, b, c in segments), target_id=target,
                       markers=kind == "tag")
    studio = stash.add_studio("Sunset Studios")
    performer = stash.add_performer("Jane Roe")
    low_light = found("tag", "Low light", "lighting", 0.66, [(0.0, 300.0, 0.66)])
    store = Store.in_dir(str(data_dir))
    try:
        store.suggestions.sync(sid, [low_light], [
            found("tag", "Pool", "location", 0.83, [(12.3, 80.0, 0.8), (410.0, 468.5, 0.71)]),
            found("tag", "Beach", "location", 0.46, [(95.0, 140.0, 0.46)]),
            found("tag", "Couch", "objects", 0.58, [(200.0, 260.0, 0.58)], analyzer="objects"),
            found("studio", "Sunset Studios", "studio", 0.91, [(3.0, 9.0, 0.91)], "ocr", studio),
            found("performer", "Jane Roe", "performer", 0.74, [(30.0, 95.0, 0.74)], "faces",
                  performer),
        ], {(low_light.kind, low_light.key)})
        store.scene_status.set(sid, ProcessingState.ANALYZED, models=MODELS)
        store.feedback.count(Kind.TAG, "pool", accepted=3, rejected=1)
        store.feedback.count(Kind.PERFORMER, performer, accepted=1)
        store.feedback.count(Kind.TAG, "couch", accepted=3, rejected=6)
        ids = {r.name: r.id for r in store.suggestions.of_scene(sid)}
        # 3 accepted, 7 rejected: needs 70 % now
        store.suggestions.record_decision(ids["Couch"], SuggestionStatus.REJECTED)
    finally:
        store.close()
    return ids


def colour_scene(stash: FakeStash, title: str) -> str:
    """Red from 100 s to 300 s, blue from 400 s to the end: the scripted analyzer's findings."""
    from tests.standin.media import synthetic_sprite, vtt_text
    jpeg, _ = synthetic_sprite(600, lambda t: RED if 100 <= t < 300 else BLUE if t >= 400 else None)
    return stash.add_scene(title=title, duration=600, sprite=jpeg,
                           vtt=lambda name: vtt_text(600, 160, 90, name))


@pytest.fixture()
def open_tab(stash, plugin, browser, tmp_path):
    """Opens the tab on a new scene: `seeded` writes analyzed() into the store first, `make`
    makes the scene (default: one with no sprite). Returns (scene id, suggestion ids by name)."""
    page_requests_from: list[int] = []        # what the plugin fetched before may 404 (no sprite)

    def go(title: str, *, seeded: bool = False, query: str = "",
           make: Callable[[FakeStash, str], str] | None = None) -> tuple[str, dict[str, int]]:
        sid = make(stash, title) if make else stash.add_scene(title)
        ids = analyzed(stash, tmp_path / "data", sid) if seeded else {}
        page_requests_from.append(len(stash.http_log))
        browser.goto(f"{stash.base_url}/harness.html?scene={sid}{query}")
        assert operations(stash, sid) == [], "the tab must not call the plugin until it is opened"
        browser.click(TAB)
        browser.wait(PANEL)
        browser.wait(f"{PANEL} .ss-loading", gone=True)
        return sid, ids
    yield go
    missing = [path for verb, path, code in stash.http_log[min(page_requests_from, default=0):]
               if code == 404 and path != "/favicon.ico"]
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


def clock(seconds: float) -> str:
    s = int(seconds + 0.5)                       # Math.round, not banker's rounding
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def row(sid_suggestion):
    return f'{PANEL} li[data-suggestion-id="{sid_suggestion}"]'



def test_tab_shows_suggestions_by_category_and_accepts_exactly_one(stash, browser, open_tab):
    sid, ids = open_tab("Pool party", seeded=True)
    pool, beach, couch = ids["Pool"], ids["Beach"], ids["Couch"]
    browser.wait(f"{PANEL} .ss-category")
    assert browser.texts(f"{PANEL} .ss-category-name") == [
        "Lighting", "Location", "Objects", "Performer", "Studio"]
    shown = browser.texts(row(pool))[0]
    assert "Pool" in shown and "83%" in shown and "clip" in shown
    assert browser.texts(f"{row(pool)} .ss-segment") == ["0:12–1:20", "6:50–7:49"]
    assert "Your earlier decisions: accepted 3×, rejected 1×." in shown
    assert "Its threshold was raised to 70%" in browser.texts(row(couch))[0]
    assert browser.texts(f"{row(ids['Low light'])} .ss-status") == ["Applied"]
    summary = browser.texts(f"{PANEL} .ss-models")[0]
    assert "open_clip:ViT-B-32/laion2b_s34b_b79k, yolo:yolo11n.pt" in summary
    assert "Analyzed" in summary
    if os.environ.get("UPDATE_SCREENSHOT"):
        browser.screenshot(".scene-tabs", REPO / "docs" / "scene-tab.png")

    refetches = browser.eval("window.__harness.refetches.length")
    browser.click(f"{row(pool)} .ss-accept")
    browser.wait(f"{row(pool)} .ss-status", text="Accepted")
    sent = operations(stash, sid)
    assert [v["args"]["mode"] for v in sent] == ["status", "accept"]
    assert sent[-1] == {"plugin_id": "stash_sense",
                        "args": {"mode": "accept", "scene_id": sid, "suggestion_id": pool}}
    request = stash.calls("runPluginOperation")[-1]
    assert request["operation_name"] == "StashSenseOperation"
    assert stash.operations[-1] == {"plugin_id": "stash_sense", "args": sent[-1]["args"]}
    assert browser.count(f"{row(beach)} .ss-accept") == 1, "only Pool changed"
    assert eventually(lambda: browser.eval("window.__harness.refetches.length") == refetches + 1)
    assert stash.scene_tag_names(sid) == ["Pool"]             # the plugin wrote it, with markers
    assert sorted(m["seconds"] for m in stash.markers(sid)) == [12.3, 410.0]


def test_reject_one_and_accept_a_category(stash, browser, open_tab):
    sid, ids = open_tab("Beach day", seeded=True)
    pool, beach, low_light = ids["Pool"], ids["Beach"], ids["Low light"]
    browser.click(f"{row(beach)} .ss-reject")
    browser.wait(f"{row(beach)} .ss-status", text="Rejected")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "reject", "scene_id": sid, "suggestion_id": beach}
    assert browser.count(f"{row(pool)} .ss-accept") == 1

    browser.click(f'{PANEL} [data-category="location"] .ss-accept-all')
    browser.wait(f"{row(pool)} .ss-status", text="Accepted")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "accept_category", "scene_id": sid, "category": "location"}
    assert browser.count(f'{PANEL} [data-category="location"] .ss-accept-all') == 0
    assert browser.count(f'{PANEL} [data-category="location"] .ss-reject-all') == 0
    assert stash.scene_tag_names(sid) == ["Pool"]             # the rejected Beach stays out

    # an applied suggestion can still be rejected (the plugin takes back what it wrote)
    assert browser.count(f"{row(low_light)} .ss-accept") == 0
    browser.click(f"{row(low_light)} .ss-reject")
    browser.wait(f"{row(low_light)} .ss-status", text="Rejected")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "reject", "scene_id": sid, "suggestion_id": low_light}

    # a decision can be turned around
    browser.click(f"{row(beach)} .ss-accept", text="Accept instead")
    browser.wait(f"{row(beach)} .ss-status", text="Accepted")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "accept", "scene_id": sid, "suggestion_id": beach}
    assert stash.scene_tag_names(sid) == ["Beach", "Pool"]


def test_notes_and_refusals_of_a_decision_are_shown(stash, browser, open_tab):
    theirs = stash.add_studio("Their Studio")
    sid, ids = open_tab("Studio set", seeded=True,
                        make=lambda stash, title: stash.add_scene(title, studio_id=theirs))
    studio = ids["Sunset Studios"]
    browser.click(f"{row(studio)} .ss-accept")
    browser.wait(f"{PANEL} .ss-error", text="already has a studio")
    assert browser.count(f"{row(studio)} .ss-accept") == 1, "refused: the suggestion stays open"
    browser.click(f"{PANEL} .ss-error .close")
    browser.wait(f"{PANEL} .ss-error", gone=True)

    browser.click(f'{PANEL} [data-category="studio"] .ss-accept-all')
    browser.wait(f"{PANEL} .ss-notes", text="The scene already has a studio; "
                 "remove it in Stash to accept 'Sunset Studios'")
    assert operations(stash, sid)[-1]["args"] == {
        "mode": "accept_category", "scene_id": sid, "category": "studio"}
    assert "Your earlier decisions: accepted 1×." in browser.texts(row(ids["Jane Roe"]))[0]
    assert stash.scene(sid)["studio_id"] == theirs


def test_clicking_a_time_range_seeks_the_player(browser, open_tab):
    _, ids = open_tab("Seek", seeded=True)
    browser.click(f"{row(ids['Pool'])} .ss-segment", text="6:50")
    assert browser.eval("window.__harness.seeks") == [{"via": "setTimestamp", "seconds": 410.0}]

    # without setTimestamp in the props the video.js player from InteractiveUtils is used
    _, ids = open_tab("Seek player", seeded=True, query="&seek=player")
    browser.click(f"{row(ids['Jane Roe'])} .ss-segment")
    assert browser.eval("window.__harness.seeks") == [{"via": "player", "seconds": 30.0}]


def test_analyze_now_queues_the_task_polls_the_job_and_shows_what_the_plugin_found(
        stash, plugin, browser, open_tab):
    """Analyze now runs the real task with the scripted colour analyzer; every row shows what
    the status operation answered; Accept writes the tag and its marker; Reject leaves the
    Review tag; a job Stash has already forgotten still reloads the tab."""
    sid, _ = open_tab("Colours", make=colour_scene)
    assert "not been analyzed" in browser.texts(f"{PANEL} .ss-summary")[0]
    assert browser.texts(f"{PANEL} .ss-state") == ["Not analyzed"]

    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-job")
    assert browser.texts(f"{PANEL} .ss-state")[0] in ("Queued", "Analyzing")
    browser.wait(f"{PANEL} .ss-state", text="Analyzed", exact=True, timeout_ms=60000)
    assert browser.count(f"{PANEL} .ss-job") == 0
    assert browser.texts(f"{PANEL} .ss-category-name") == ["Colour"]
    assert stash.scene_tag_names(sid) == ["StashSense_Review", "StashSense_Tagged"]
    status = [r.output for r in plugin.runs if r.args.get("mode") == "status"][-1]
    assert sorted(s["name"] for s in status["suggestions"]) == ["Blue", "Red"]
    for s in status["suggestions"]:          # the UI shows what the plugin answered
        shown = browser.texts(row(s["id"]))[0]
        assert shown.startswith(f"{s['name']} {int(s['confidence'] * 100 + 0.5)}% color"), shown
        assert [clock(g["start"]) + "–" + clock(g["end"]) for g in s["segments"]] == \
            browser.texts(f"{row(s['id'])} .ss-segment")

    task = stash.calls("runPluginTask")[-1]
    assert task["variables"]["args_map"] == {"mode": "tag_scene", "scene_id": sid}
    assert task["variables"]["task_name"] == "Tag one scene"
    assert task["variables"]["plugin_id"] == "stash_sense"
    job = stash.jobs[task["data"]["runPluginTask"]]
    assert job["args"] == {"mode": "tag_scene", "scene_id": sid} and job["status"] == "FINISHED"
    polls = [r for r in stash.calls("findJob") if r["variables"]["id"] == job["id"]]
    assert len(polls) >= 2, "the job is polled until it ends"
    assert [v["args"]["mode"] for v in operations(stash, sid)] == ["status", "status"]

    browser.click(f"{PANEL} .ss-suggestion .ss-accept")   # first row: the highest confidence
    browser.wait(f"{PANEL} .ss-status", text="Accepted")
    accepted = browser.texts(f"{PANEL} .ss-status-accepted .ss-name")
    assert accepted == ["Blue"] and "Blue" in stash.scene_tag_names(sid)
    assert [stash.tag(m["primary_tag_id"])["name"] for m in stash.markers(sid)] == ["Blue"]
    browser.click(f"{PANEL} .ss-status-open .ss-reject")
    browser.wait(f"{PANEL} .ss-status", text="Rejected")
    assert stash.scene_tag_names(sid) == ["Blue", "StashSense_Tagged"]   # Review tag left

    # Stash keeps only recent finished jobs: a job that is gone has ended, the tab reloads
    stash.graveyard_size = 0
    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-job")
    browser.wait(f"{PANEL} .ss-job", gone=True, timeout_ms=60000)
    assert eventually(lambda: [v["args"]["mode"] for v in operations(stash, sid)] == [
        "status", "status", "accept", "reject", "status"])
    assert browser.count(f"{PANEL} .ss-error") == 0


def test_errors_are_shown_in_the_tab(stash, browser, open_tab, tmp_path):
    from tests.standin.runner import run_plugin

    # the last analysis failed: the real task on a scene Stash made no sprite for
    def unanalysable(stash, title):
        sid = stash.add_scene(title)
        assert run_plugin(stash, {"mode": "tag_scene", "scene_id": sid}).error is None
        return sid
    open_tab("Broken", make=unanalysable)
    assert browser.texts(f"{PANEL} .ss-state") == ["Error"]
    reason = browser.texts(f"{PANEL} .ss-error-state")[0]
    assert "no sprite: run Tasks > Generate > Sprites" in reason

    # the status operation itself fails (the plugin printed {"error": ...}): no store to open
    (tmp_path / "not-a-folder").write_text("")
    settings = stash.plugin_settings("stash_sense")
    configure(stash, tmp_path, **{**settings, "dataDir": str(tmp_path / "not-a-folder" / "data")})
    open_tab("No status")
    browser.wait(f"{PANEL} .ss-error", text="cannot open the Stash Sense store")
    assert "Could not load the Stash Sense status" in browser.texts(f"{PANEL} .ss-error")[0]

    # the analysis job fails
    configure(stash, tmp_path, **{**settings, "analyzers": "tests.helpers.absent:Analyzer"})
    open_tab("Failing job", make=colour_scene)
    browser.click(f"{PANEL} .ss-analyze")
    browser.wait(f"{PANEL} .ss-error", text="cannot be imported")
    assert "The analysis failed" in browser.texts(f"{PANEL} .ss-error")[0]
    assert browser.count(f"{PANEL} .ss-analyze:not([disabled])") == 1
