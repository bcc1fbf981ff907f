"""Find by look in a real headless chromium, against the stand-in Stash wired to the real plugin
(tests/standin/runner.attach_plugin: every runPluginOperation runs stash_sense.py).

A library of generated looks (tests/helpers/looks.py) is analysed with the tiny random-weight CLIP
first. Then: the Similar scenes section of the Stash Sense tab shows same-look scenes with their
sprite tiles; the search page (the route ui/search.js registers, opened from the navbar button)
takes a description and a tag filter, lists scenes with moments, and a moment opens the scene at
its time. Set UPDATE_SCREENSHOT=1 to rewrite docs/similar.png and docs/search.png.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e import configure, eventually
from tests.helpers.looks import build_library, clip_settings
from tests.ui.browser import Browser, available, build_site

REPO = Path(__file__).resolve().parents[1]
ROUTE = "/plugins/stash-sense"

_reason = available()
if _reason is None:
    from tests.standin import schema_available
    if not schema_available():
        _reason = "Stash's GraphQL SDL (shared/stash-schema) not found; set STASH_SCHEMA_DIR"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")
pytest.importorskip("open_clip")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from tests.standin import FakeStash
    from tests.standin.runner import attach_plugin, run_plugin
    site = build_site(tmp_path_factory.mktemp("site"), REPO)
    with FakeStash(static_dir=str(site)) as stash:
        ids = build_library(stash, per_kind=4)
        configure(stash, tmp_path_factory.mktemp("plugin"), **clip_settings())
        tagged = run_plugin(stash, {"mode": "tag_tagme"}, timeout=600)
        assert tagged.error is None, tagged.log_text()
        attach_plugin(stash, run_tasks=False, hooks=False)
        yield stash, ids
        assert stash.schema_violations == [], stash.schema_violations


@pytest.fixture(scope="module")
def browser():
    b = Browser(timeout_ms=60000)     # the first search loads the text encoder (torch) in Python
    yield b
    b.close()


def page_problems(browser):
    return [line for line in browser.logs() if "pageerror" in line
            or ("error:" in line and "Failed to load resource" not in line)]


def kind_of(ids, sid):
    return next(k for k, members in ids.items() if sid in members)


def test_similar_scenes_section_on_the_scene_tab(library, browser):
    stash, ids = library
    sid = ids["checks"][0]
    browser.goto(f"{stash.base_url}/harness.html?scene={sid}&tab=stash-sense-panel")
    browser.wait(".stash-sense-tab .ss-similar-item", timeout_ms=60000)
    items = browser.eval("[...document.querySelectorAll('.ss-similar-item')].map(a => "
                         "[a.getAttribute('href'), a.querySelector('.ss-similar-title').textContent,"
                         " a.querySelector('.ss-tile').dataset.xywh,"
                         " a.querySelector('.ss-tile').style.backgroundImage])")
    assert len(items) == 11                                   # every other analysed scene
    first = [href.rsplit("/", 1)[1] for href, *_ in items[:3]]
    assert {kind_of(ids, s) for s in first} == {"checks"}, items[:3]
    assert sid not in [href.rsplit("/", 1)[1] for href, *_ in items]
    for href, title, xywh, image in items:
        assert title == stash.scene(href.rsplit("/", 1)[1])["title"]
        assert len(xywh.split(",")) == 4 and "_sprite.jpg" in image
    assert eventually(lambda: [p for verb, p, code in stash.http_log
                               if p.endswith("_sprite.jpg") and code == 200]), \
        "the tiles' sprite sheets were loaded"
    if os.environ.get("UPDATE_SCREENSHOT"):
        browser.screenshot(".stash-sense-tab .ss-similar", REPO / "docs" / "similar.png")
    assert page_problems(browser) == []


def test_search_page_from_the_navbar_with_a_filter_and_click_through(library, browser):
    stash, ids = library
    keep = stash.add_tag("Keep")
    chosen = ids["noise"][:2] + ids["stripes"][:1]
    stash.graphql('mutation { bulkSceneUpdate(input: {ids: [%s], tag_ids: {ids: ["%s"], '
                  'mode: ADD}}) { id } }' % (",".join(f'"{s}"' for s in chosen), keep))
    browser.goto(f"{stash.base_url}/harness.html?route={ROUTE}")
    assert browser.eval("document.querySelector('.ss-nav-search').getAttribute('href')") == ROUTE
    browser.wait(".stash-sense-search .ss-search-input")

    browser.fill(".ss-search-input", "orange and blue stripes")
    browser.click(".ss-search-go")
    browser.wait(".ss-result", timeout_ms=120000)
    shown = browser.eval("[...document.querySelectorAll('.ss-result')].map(r => r.dataset.sceneId)")
    direct = stash.operations[-1]
    assert direct["args"]["mode"] == "search" and direct["args"]["query"] == "orange and blue stripes"
    assert len(shown) == 12                                   # every analysed scene, best first
    moments = browser.eval("[...document.querySelectorAll('.ss-result')][0].querySelectorAll("
                           "'.ss-moment').length")
    assert moments == 3
    if os.environ.get("UPDATE_SCREENSHOT"):
        browser.screenshot(".stash-sense-search", REPO / "docs" / "search.png")

    browser.fill("#ss-f-tags", "Keep")
    browser.click(".ss-search-go")
    browser.wait(".ss-search-summary", text="3 scenes")
    shown = browser.eval("[...document.querySelectorAll('.ss-result')].map(r => r.dataset.sceneId)")
    assert sorted(shown) == sorted(chosen)
    assert stash.operations[-1]["args"]["tags"] == [keep]

    browser.fill("#ss-f-tags", "No such tag")
    browser.click(".ss-search-go")
    browser.wait(".stash-sense-search .ss-error", text='unknown tag "No such tag"')
    browser.fill("#ss-f-tags", "Keep")
    browser.click(".ss-search-go")
    browser.wait(".ss-result")

    browser.click(".ss-duplicates-load")                      # no report yet
    browser.wait(".ss-duplicates", text="No report yet")
    from tests.standin.runner import run_plugin
    dup = run_plugin(stash, {"mode": "duplicates", "pooled_min": 0.99, "frame_min": 0.99},
                     timeout=300)
    assert dup.error is None, dup.log_text()
    browser.click(".ss-duplicates-load")
    browser.wait(".ss-duplicates-summary", text=f"{len(dup.output['groups'])} group(s) among 12")
    assert browser.count(".ss-duplicate-group") == len(dup.output["groups"])
    if dup.output["groups"]:
        first = dup.output["groups"][0]["scenes"][0]
        assert browser.texts(".ss-duplicate-group .ss-duplicate-scene")[0] == first["title"]

    target = browser.eval("(() => { const m = document.querySelector('.ss-result .ss-moment');"
                          " return [m.closest('.ss-result').dataset.sceneId,"
                          " m.querySelector('.ss-moment-time').textContent]; })()")
    assert page_problems(browser) == []
    browser.click(".ss-result .ss-moment")
    where = browser.until("location.pathname.startsWith('/scenes/') && "
                          "location.pathname + location.search", timeout_ms=10000)
    sid, clock = target
    minutes, seconds = clock.split(":")
    assert where.startswith(f"/scenes/{sid}?t=")
    assert abs(int(where.split("t=")[1]) - (int(minutes) * 60 + int(seconds))) <= 1
