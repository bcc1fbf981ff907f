"""The unknown-faces page (ui/faces.js) in a real headless chromium, with the real plugin process
behind runPluginOperation (tests/standin/runner.py): groups seeded in the plugin's store are
shown with their crops and scenes; naming one after an existing performer adds them to its scenes
through the Writer; creating one asks first; ignoring removes the group."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.ui.browser import Browser, available, build_site

REPO = Path(__file__).resolve().parents[1]
PAGE = ".stash-sense-faces"
_reason = available()
if _reason is None:
    from tests.standin import schema_available
    if not schema_available():
        _reason = "Stash's GraphQL SDL (shared/stash-schema) not found"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def jpeg_face(shade: int) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (shade, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def seed_groups(data_dir: str, scenes: list[str]) -> tuple[int, int]:
    """Two groups of unknown faces (as the analyzer and the clustering task leave them)."""
    import numpy as np

    from stash_sense.models import faces as models
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    faces = FaceStore(Store.in_dir(data_dir))
    model = models.embedder_id(models.RANDOM)
    rng = np.random.default_rng(0)
    for sid in scenes:
        rows = []
        for k in range(4):
            emb = rng.normal(size=512).astype(np.float32)
            rows.append((float(k), k % 2, [1, 2, 3, 4], 0.99, None, 0.1, emb, jpeg_face(40 * k)))
        faces.save_scene_faces(sid, model, rows)
    unknown = faces.unknown_faces(model)                 # two groups: face 0 and face 1 of frames
    first, second = faces.replace_open_groups(model, [[f for f in unknown if f.idx == i]
                                                      for i in (0, 1)])
    return first, second


def set_input(browser, selector: str, value: str) -> None:
    browser.eval(
        "(() => { const el = document.querySelector(%r);"
        " Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, %r);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()"
        % (selector, value))


def test_groups_are_shown_named_and_ignored_from_the_page(tmp_path):
    from tests.e2e import configure
    from tests.standin import FakeStash
    from tests.standin.runner import attach_plugin
    site = build_site(tmp_path / "site", REPO)
    browser = Browser()
    try:
        with FakeStash(static_dir=str(site)) as stash:
            scenes = [stash.add_scene(title=f"s{i}") for i in range(2)]
            jane = stash.add_performer("Jane Roe")
            configure(stash, tmp_path, faceWeights="none")
            first, second = seed_groups(str(tmp_path / "data"), scenes)
            attach_plugin(stash, hooks=False, run_tasks="background")
            browser.goto(f"{stash.base_url}/harness.html?route=/plugin/stash_sense/faces")
            browser.wait(f"{PAGE} .ss-face-group", timeout_ms=30000)
            assert browser.count(f"{PAGE} .ss-face-group") == 2
            assert browser.count(f'[data-group-id="{first}"] img.ss-face-crop') == 4
            assert browser.texts(f'[data-group-id="{first}"] .ss-face-scenes a') == scenes
            performers = len(stash.performers)

            # the scene tab's section (window.StashSense.SceneFaceGroups): this scene's groups
            browser.eval(
                "(() => { const el = document.createElement('div'); el.id = 'scene-section';"
                " document.body.appendChild(el); const R = window.PluginApi.React;"
                " window.PluginApi.ReactDOM.render(R.createElement("
                "window.StashSense.SceneFaceGroups, {sceneId: %r}), el); return true; })()"
                % scenes[1])
            browser.wait("#scene-section .ss-scene-faces .ss-face-group", timeout_ms=30000)
            assert browser.count("#scene-section .ss-face-group") == 2
            calls = [r["variables"]["args"] for r in stash.calls("runPluginOperation")]
            assert {"mode": "face_groups", "scene_id": scenes[1]} in calls
            browser.eval("(() => { window.PluginApi.ReactDOM.unmountComponentAtNode("
                         "document.getElementById('scene-section')); return true; })()")

            # an existing performer, by id: added to both scenes through the Writer
            set_input(browser, f'[data-group-id="{first}"] .ss-face-who', jane)
            browser.click(f'[data-group-id="{first}"] .ss-face-confirm')
            browser.wait(f"{PAGE} .ss-message", text="Jane Roe added to 2 scene(s)",
                         timeout_ms=30000)
            browser.wait(f'[data-group-id="{first}"]', gone=True, timeout_ms=30000)
            assert all(stash.scene(s)["performer_ids"] == [jane] for s in scenes)
            assert len(stash.performers) == performers

            # a new name asks first: declined, nothing is created
            set_input(browser, f'[data-group-id="{second}"] .ss-face-who', "New Person")
            browser.eval("(() => { window.confirm = () => false; return true; })()")
            browser.click(f'[data-group-id="{second}"] .ss-face-confirm')
            assert browser.count(f'[data-group-id="{second}"]') == 1
            assert len(stash.performers) == performers

            browser.click(f'[data-group-id="{second}"] .ss-face-ignore')
            browser.wait(f"{PAGE} .ss-no-groups", timeout_ms=30000)
            assert len(stash.performers) == performers
            assert stash.schema_violations == [] and stash.internal_errors == []
        problems = [line for line in browser.logs() if "pageerror" in line]
        assert problems == []
    finally:
        browser.close()
