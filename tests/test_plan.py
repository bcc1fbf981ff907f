"""The pure plan: what to write, and above all what never to touch."""
from stash_sense.findings import Finding, Segment
from stash_sense.settings import load_settings
from stash_sense.tagging.plan import make_plan
from stash_sense.tagging.state import Marker, Owned, SceneState

S = load_settings({}, {}, "/p")


def scene(tags=(), markers=(), studio=None, performers=()):
    return SceneState("1", frozenset(tags), tuple(markers), studio, frozenset(performers))


def tag(name, conf=0.9, segments=((10, 60),), markers=True, aliases=()):
    return Finding("tag", name, "clip", "location", conf,
                   tuple(Segment(a, b, conf) for a, b in segments), aliases=aliases, markers=markers)


def test_new_tag_and_its_markers_are_added():
    plan = make_plan(scene(), [tag("Pool")], Owned(), S, {}, set())
    assert plan.add_tags == [("Pool", ())]
    assert [(m.tag_name, m.seconds, m.end_seconds) for m in plan.create_markers] == [("Pool", 10, 60)]


def test_existing_user_tag_found_by_alias_is_reused_not_duplicated_and_not_claimed():
    plan = make_plan(scene(tags={"9"}), [tag("Outdoors", aliases=("Outdoor",), markers=False)],
                     Owned(), S, {"outdoor": "9"}, set())
    assert plan.add_tags == [] and plan.remove_tag_ids == []


def test_rerun_replaces_only_our_own_tags():
    owned = Owned(tags={"5": {"name": "Beach"}})
    plan = make_plan(scene(tags={"5", "7"}), [tag("Pool", markers=False)], owned, S, {"beach": "5"}, set())
    assert plan.remove_tag_ids == ["5"]          # ours, no longer found
    assert "7" not in plan.remove_tag_ids         # the user's: never touched


def test_our_tag_the_user_removed_is_a_rejection_and_not_re_added():
    owned = Owned(tags={"5": {"name": "Pool"}})
    plan = make_plan(scene(tags=set()), [tag("Pool")], owned, S, {"pool": "5"}, set())
    assert ("tag", "5", {"name": "Pool"}) in plan.forget
    rejected = {("tag", "pool")}
    again = make_plan(scene(tags=set()), [tag("Pool")], Owned(), S, {"pool": "5"}, rejected)
    assert again.add_tags == [] and again.create_markers == [] and again.suggestions == []


def test_markers_are_never_duplicated_and_user_markers_never_deleted():
    user_marker = Marker("m1", "5", 10.0, 60.0)
    own_old = Marker("m2", "5", 300.0, 400.0)
    owned = Owned(tags={"5": {}}, markers={"m2": {"name": "Pool"}})
    plan = make_plan(scene(tags={"5"}, markers=[user_marker, own_old]), [tag("Pool")], owned, S,
                     {"pool": "5"}, set())
    assert plan.create_markers == []             # the user's identical marker is enough
    assert plan.delete_marker_ids == ["m2"]      # ours, no longer found
    assert plan.add_tags == [] and plan.remove_tag_ids == []


def test_marker_marked_incorrect_is_removed_and_rejected():
    marker = Marker("m2", "5", 10.0, 60.0, frozenset({"99"}))
    owned = Owned(tags={"5": {}}, markers={"m2": {"name": "Pool"}})
    plan = make_plan(scene(tags={"5"}, markers=[marker]), [tag("Pool")], owned, S, {"pool": "5"},
                     set(), incorrect_tag_id="99")
    assert plan.delete_marker_ids == ["m2"]
    assert any(kind == "marker" and ref == "m2" for kind, ref, _ in plan.forget)


def test_review_mode_and_apply_threshold_turn_findings_into_suggestions():
    review = load_settings({"reviewMode": True}, {}, "/p")
    plan = make_plan(scene(), [tag("Pool")], Owned(), review, {}, set())
    assert not plan.changes_stash and [f.name for f in plan.suggestions] == ["Pool"]
    picky = load_settings({"applyThreshold": 0.95}, {}, "/p")
    plan = make_plan(scene(), [tag("Pool", conf=0.9), tag("Beach", conf=0.97)], Owned(), picky, {}, set())
    assert [n for n, _ in plan.add_tags] == ["Beach"] and [f.name for f in plan.suggestions] == ["Pool"]


def test_studio_only_when_the_scene_has_none():
    studio = Finding("studio", "Acme", "ocr", "studio", 0.9, target_id="3")
    assert make_plan(scene(), [studio], Owned(), S, {}, set()).set_studio_id == "3"
    plan = make_plan(scene(studio="8"), [studio], Owned(), S, {}, set())
    assert plan.set_studio_id is None and plan.suggestions == [studio] and plan.notes


def test_performers_are_only_added_never_removed():
    s = load_settings({"applyPerformers": True}, {}, "/p")
    perf = Finding("performer", "Ann", "faces", "performers", 0.9, target_id="4")
    assert make_plan(scene(), [perf], Owned(), s, {}, set()).add_performer_ids == ["4"]
    owned = Owned(performers={"6": {}})
    plan = make_plan(scene(performers={"6"}), [], owned, s, {}, set())
    assert not plan.changes_stash


def test_markers_off():
    s = load_settings({"createMarkers": False}, {}, "/p")
    assert make_plan(scene(), [tag("Pool")], Owned(), s, {}, set()).create_markers == []


def test_a_finding_of_an_unknown_kind_names_the_analyzer():
    """A custom analyzer (the `package.module:Class` extension point) that makes a finding of a
    kind Stash Sense cannot write gets a settings error naming it, not an internal error."""
    import pytest

    from stash_sense.errors import SettingsError
    from stash_sense.findings import Finding
    from stash_sense.kinds import Kind
    with pytest.raises(SettingsError, match=r"analyzer 'mine' made a finding of kind 'gallery'.*"
                                            r"tag, studio, performer"):
        Finding("gallery", "Beach set", "mine", "custom", 0.9)
    assert Finding("tag", "Pool", "clip", "location", 0.9).kind is Kind.TAG
