"""Feedback: the raised-threshold rule (table-driven), the counts in the store, and how a raised
threshold and the two thresholds (apply / suggest) decide a finding's fate in the plan."""
from __future__ import annotations

import pytest

from stash_sense.feedback import CAP, describe, raised_threshold, raised_thresholds, report
from stash_sense.findings import Finding, Segment
from stash_sense.settings import load_settings
from stash_sense.store import Store
from stash_sense.tagging.plan import make_plan, verdict_for
from stash_sense.tagging.state import Owned, SceneState


@pytest.mark.parametrize("accepted, rejected, expected", [
    (0, 0, None),        # no decisions
    (0, 3, None),        # too few decisions to say anything
    (0, 4, CAP),         # always rejected: as high as it goes, still possible
    (1, 3, 0.75),        # 75 % rejected -> needs 0.75
    (2, 3, 0.6),         # exactly the high rate
    (3, 2, None),        # 40 % rejected: not raised
    (2, 2, None),        # 50 %: not raised
    (1, 9, 0.9),
    (0, 50, CAP),
    (10, 15, 0.6),
    (10, 14, None),      # 58 %
])
def test_raised_threshold_rule(accepted, rejected, expected):
    assert raised_threshold(accepted, rejected) == expected


def test_rule_parameters_and_bad_counts():
    assert raised_threshold(0, 1, min_decisions=1) == CAP
    assert raised_threshold(1, 1, min_decisions=2, high_rate=0.5, cap=0.8) == 0.5
    assert raised_threshold(0, 10, cap=0.7) == 0.7
    with pytest.raises(ValueError, match="negative"):
        raised_threshold(-1, 5)


def test_raised_thresholds_keys_and_report():
    counts = {("tag", "pool"): (0, 6), ("tag", "beach"): (5, 1), ("studio", "3"): (1, 4)}
    assert raised_thresholds(counts) == {"tag:pool": CAP, "studio:3": 0.8}
    rows = report(counts, {("tag", "pool"): "Pool"}, learn=True)
    assert [(r.kind, r.name, r.threshold_raised_to) for r in rows] == [
        ("tag", "Pool", CAP), ("studio", "3", 0.8), ("tag", "beach", None)]
    assert rows[0].as_dict()["rejection_rate"] == 1.0
    assert all(r.threshold_raised_to is None for r in report(counts, {}, learn=False))
    assert "threshold raised to 0.95" in describe(rows)[0]


# ---- counts in the store ------------------------------------------------------------------------
def finding(name="Pool", conf=0.8, kind="tag", target=None):
    return Finding(kind, name, "clip", "location", conf, (Segment(10, 60, conf),), target_id=target,
                   markers=True)


def test_store_counts_follow_decisions_and_changes_of_mind(tmp_path):
    store = Store.in_dir(str(tmp_path))
    store.suggestions.sync("1", [], [finding("Pool"), finding("Beach")], set())
    pool, beach = sorted(store.suggestions.of_scene("1", "open"), key=lambda r: r.name != "Pool")
    assert store.suggestions.record_decision(pool.id, "rejected") is True
    assert store.suggestions.record_decision(pool.id, "rejected") is False   # idempotent: counted once
    assert store.feedback.all()[("tag", "pool")] == (0, 1)
    store.suggestions.record_decision(pool.id, "accepted")          # changed their mind
    assert store.feedback.all()[("tag", "pool")] == (1, 0)
    store.suggestions.record_decision(beach.id, "accepted")
    assert store.suggestions.keys_with_status("1", "accepted") == {("tag", "pool"), ("tag", "beach")}
    # the user removes a tag they had accepted: the count moves again
    store.suggestions.record_rejection("1", "tag", "beach", "Beach", "location", "clip")
    assert store.feedback.all()[("tag", "beach")] == (0, 1)
    assert store.suggestions.rejected_keys("1") == {("tag", "beach")}


def test_sync_keeps_decisions_and_tracks_what_was_applied(tmp_path):
    store = Store.in_dir(str(tmp_path))
    store.suggestions.sync("1", [finding("Pool", 0.9)], [finding("Beach", 0.4)], {("tag", "pool")})
    assert {r.name: r.status for r in store.suggestions.of_scene("1")} == {"Pool": "applied",
                                                                       "Beach": "open"}
    beach = store.suggestions.of_scene("1", "open")[0]
    store.suggestions.record_decision(beach.id, "rejected")
    # next run: Pool is only a suggestion now and no longer ours; Beach found again
    store.suggestions.sync("1", [], [finding("Pool", 0.5), finding("Beach", 0.5)], set())
    assert {r.name: r.status for r in store.suggestions.of_scene("1")} == {"Pool": "open",
                                                                       "Beach": "rejected"}
    # an applied row whose tag we still own stays 'applied' even when only suggested now
    store.suggestions.sync("2", [finding("Pool")], [], {("tag", "pool")})
    store.suggestions.sync("2", [], [finding("Pool")], {("tag", "pool")})
    assert store.suggestions.of_scene("2")[0].status == "applied"


# ---- thresholds in the plan -----------------------------------------------------------------------
def settings(**values):
    return load_settings(values, {}, "/p")


@pytest.mark.parametrize("conf, values, raised, expected", [
    (0.9, {}, {}, "apply"),
    (0.2, {}, {}, "apply"),                                            # defaults: apply all
    (0.5, {"applyThreshold": 0.7}, {}, "suggest"),
    (0.7, {"applyThreshold": 0.7}, {}, "apply"),
    (0.3, {"applyThreshold": 0.7, "suggestThreshold": 0.4}, {}, "drop"),
    (0.5, {"applyThreshold": 0.7, "suggestThreshold": 0.4}, {}, "suggest"),
    (0.5, {"applyThreshold": 0.7}, {"tag:pool": 0.6}, "drop"),       # asked for less
    (0.65, {"applyThreshold": 0.7}, {"tag:pool": 0.6}, "suggest"),
    (0.9, {"applyThreshold": 0.7}, {"tag:pool": 0.8}, "apply"),
    (0.9, {"reviewMode": True}, {}, "suggest"),
    (0.1, {"reviewMode": True, "suggestThreshold": 0.5}, {}, "drop"),
])
def test_decide(conf, values, raised, expected):
    assert verdict_for(finding("Pool", conf), settings(**values), raised) == expected


def test_accepted_is_applied_whatever_the_thresholds():
    s = settings(reviewMode=True, suggestThreshold=0.9)
    assert verdict_for(finding("Pool", 0.1), s, {"tag:pool": 0.95}, {("tag", "pool")}) == "apply"


def test_raised_threshold_drops_a_tag_from_the_plan():
    scene = SceneState("1", frozenset(), (), None, frozenset())
    plan = make_plan(scene, [finding("Pool", 0.7), finding("Beach", 0.7)], Owned(),
                     settings(applyThreshold=0.9), {}, set(),
                     raised_thresholds={"tag:pool": 0.8})
    assert [f.name for f in plan.suggestions] == ["Beach"] and not plan.changes_stash
