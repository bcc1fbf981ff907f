"""ui/reports.js in a real headless chromium, backed by the real plugin: the stand-in's
runPluginOperation spawns the plugin (mode "reports"), which reads the quality report a real
`evaluate` run wrote (scripted colour analyzer, so the figures are known)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import configure
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import attach_plugin, run_plugin
from tests.ui.browser import Browser, available, build_site

REPO = Path(__file__).resolve().parents[1]
_reason = available()
if _reason is None:
    from tests.standin import schema_available
    if not schema_available():
        _reason = "Stash's GraphQL SDL (shared/stash-schema) not found; set STASH_SCHEMA_DIR"
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

RENDER = """(() => {
  const el = document.createElement("div");
  el.id = "reports-root";
  document.body.appendChild(el);
  window.ReactDOM.render(window.React.createElement(window.StashSenseReports.ReportsPage), el);
  return window.StashSenseReports.ROUTE;
})()"""


def test_reports_page_shows_the_quality_report_and_says_when_nothing_was_learned(tmp_path):
    from tests.standin import FakeStash
    site = build_site(tmp_path / "site", REPO)
    with FakeStash(static_dir=str(site)) as stash:
        attach_plugin(stash)
        tagme, red = stash.add_tag("StashSense_TagMe"), stash.add_tag("Red")
        sids = []
        for n, (color, tags) in enumerate([((230, 20, 20), [tagme, red]),
                                           ((230, 20, 20), [tagme, red]),
                                           ((20, 20, 230), [tagme, red])]):
            jpeg, _ = synthetic_sprite(600, lambda t, c=color: c)
            sids.append(stash.add_scene(title=f"s{n}", duration=600, sprite=jpeg, tag_ids=tags,
                                        vtt=lambda name: vtt_text(600, 160, 90, name)))
        configure(stash, tmp_path, analyzers="tests.helpers.scripted:ColorAnalyzer")
        assert run_plugin(stash, {"mode": "tag_tagme"}).error is None
        evaluated = run_plugin(stash, {"mode": "evaluate"})
        assert evaluated.error is None, evaluated.log_text()

        browser = Browser()
        try:
            browser.goto(f"{stash.base_url}/harness.html?scene={sids[0]}")
            assert browser.eval(RENDER) == "/plugin/stash-sense/reports"
            browser.wait(".ss-quality-table tr[data-tag='Red']")
            cells = browser.texts(".ss-quality-table tr[data-tag='Red'] td")
            # 3 scenes tagged Red by the user, the plugin finds it on the 2 red ones
            assert cells[:7] == ["Red", "Red", "3", "3", "2", "1.00", "0.67"]
            assert browser.count(".ss-report-empty", text="No learned tags yet") == 1
            calls = [r["variables"]["args"] for r in stash.calls("runPluginOperation")]
            assert calls == [{"mode": "reports"}]
            problems = [line for line in browser.logs() if "pageerror" in line
                        or ("error:" in line and "Failed to load resource" not in line)]
            assert problems == []
        finally:
            browser.close()
        assert stash.schema_violations == []
