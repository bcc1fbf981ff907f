"""The matching rules with controlled embeddings: per-face verdicts (threshold, margin), the
N-frame agreement, confidence, unknown faces, the gallery's per-performer scores, the cluster
check that decides which scene faces may join the gallery, and the fp16 store."""
from __future__ import annotations

import numpy as np
import pytest

from stash_sense.analyzers.faces import face_findings
from stash_sense.faces.match import (
    FaceMatch,
    Gallery,
    MatchRule,
    Observation,
    consistent_faces,
    frame_strength,
    match_faces,
    performers_seen,
    unit,
)
from stash_sense.findings import Signal

RULE = MatchRule(threshold=0.5, margin=0.08, min_frames=2, strong=0.75)


def vec(*pairs, dim=8):
    v = np.zeros(dim, np.float32)
    for i, x in pairs:
        v[i] = x
    return unit(v)


def near(axis: int, cos: float, other: int = 7, dim=8):
    """A unit vector with cosine `cos` to basis vector `axis`."""
    return vec((axis, cos), (other, float(np.sqrt(max(0.0, 1 - cos * cos)))), dim=dim)


@pytest.mark.parametrize("match, verdict", [
    (FaceMatch("a", 0.80, "b", 0.30), "vote"),
    (FaceMatch("a", 0.50, "b", 0.42), "vote"),          # exactly at threshold, margin 0.08
    (FaceMatch("a", 0.49, "b", 0.10), "unknown"),       # below the threshold
    (FaceMatch("a", 0.70, "b", 0.65), "contested"),     # a look-alike within the margin
    (FaceMatch("a", 0.70, None, 0.0), "vote"),          # a one-performer gallery
    (FaceMatch(None, 0.0), "unknown"),                  # empty gallery
])
def test_face_verdicts(match, verdict):
    assert match.verdict(RULE) == verdict


def obs(t, best, score, second=None, second_score=0.0, box=None):
    """A face; by default each at its own place (its own shot), unless `box` says otherwise."""
    box = box or (100.0 * t, 0.0, 100.0 * t + 50, 50.0)
    return Observation(t, 5.0, FaceMatch(best, score, second, second_score), box)


CASES = {
    "two frames agree": ([obs(0, "a", .7, "b", .2), obs(5, "a", .72, "b", .1)], ["a"]),
    "one frame is not enough": ([obs(0, "a", .9, "b", .1)], []),
    "two faces in one frame count once": ([obs(0, "a", .9), obs(0, "a", .8)], []),
    "below threshold never counts": ([obs(0, "a", .45), obs(5, "a", .45), obs(9, "a", .49)], []),
    "margin too small never counts": ([obs(0, "a", .7, "b", .66), obs(5, "a", .7, "b", .65)], []),
    "two performers in one scene": ([obs(0, "a", .8, "b", .1), obs(0, "b", .8, "a", .1),
                                     obs(5, "a", .8, "b", .1), obs(5, "b", .7, "a", .1)],
                                    ["a", "b"]),
    "only the one with enough frames": ([obs(0, "a", .8), obs(5, "a", .8), obs(9, "b", .9)], ["a"]),
    "unknown faces are ignored": ([obs(0, "a", .8), obs(2, None, 0.0), obs(5, "a", .8),
                                   obs(7, "c", .2)], ["a"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scene_decisions(name):
    observations, expected = CASES[name]
    assert sorted(d.performer_id for d in performers_seen(observations, RULE)) == expected


def test_min_frames_is_the_setting():
    three = [obs(0, "a", .8), obs(5, "a", .8), obs(9, "a", .8)]
    assert performers_seen(three, MatchRule(min_frames=3))[0].frames == 3
    assert performers_seen(three, MatchRule(min_frames=4)) == []
    assert performers_seen(three[:1], MatchRule(min_frames=1))[0].frames == 1


def test_confidence_reflects_strength_margin_and_shots_not_frame_count():
    def conf(observations):
        (d,) = performers_seen(observations, RULE)
        return d.confidence
    weak2 = conf([obs(0, "a", .5), obs(5, "a", .5)])
    weak10 = conf([obs(t, "a", .5) for t in range(0, 50, 5)])
    strong1 = conf([obs(0, "a", .8), obs(5, "a", .8, box=(0, 0, 50, 50))])   # one still shot
    strong2 = conf([obs(0, "a", .8), obs(5, "a", .8)])
    thin = conf([obs(0, "a", .8, "b", .72), obs(5, "a", .8, "b", .72)])     # margin just 0.08
    contested = conf([obs(0, "a", .8), obs(5, "a", .8), obs(9, "a", .7, "b", .68)])
    # a borderline match stays well below 0.9 however many frames show it
    assert weak2 == pytest.approx(0.625) and weak2 < weak10 < 0.75
    # frames of one shot are one piece of evidence; two shots add a little
    assert strong1 == pytest.approx(0.95) and strong1 < strong2 < 0.98
    assert thin == pytest.approx(0.76 + 0.24 * 0.25) and thin < 0.9    # strength 0.95 x 0.8
    assert contested == pytest.approx(strong2 * 2 / 3, abs=1e-3)   # 2 votes, 1 contested
    assert frame_strength(0.3, RULE) == 0.5 and frame_strength(0.99, RULE) == 0.95


def test_frames_of_one_shot_are_one_piece_of_evidence():
    still = (10, 10, 90, 110)
    moved = (400, 10, 480, 110)
    (d,) = performers_seen([obs(0, "a", .7, box=still), obs(5, "a", .72, box=(12, 11, 91, 112)),
                   obs(10, "a", .7, box=moved), obs(15, "a", .7, box=still)], RULE)
    assert d.frames == 4 and d.pieces == 3


def test_decision_reports_frames_points_and_mean():
    (d,) = performers_seen([obs(9, "a", .6), obs(2, "a", .8), obs(2, "a", .7)], RULE)
    assert d.frames == 2 and [p[0] for p in d.points] == [2, 9]
    assert d.mean_score == pytest.approx(0.7) and [p[2] for p in d.points] == [.8, .6]


def test_measured_rules_per_network():
    from stash_sense.faces.match import CASIA_ID, rule_for
    rule = rule_for(CASIA_ID, 3)
    assert rule.min_frames == 3 and 0.3 < rule.threshold < rule.strong < 0.9
    assert rule_for("facenet:InceptionResnetV1/random").threshold == rule.threshold


def test_gallery_scores_each_performer_by_its_best_face():
    rows = [("1", "Ann", vec((0, 1))), ("2", "Bea", vec((1, 1))), ("1", "Ann", vec((2, 1))),
            ("3", "Cy", vec((3, 1)))]
    g = Gallery.from_rows(rows)
    assert g.performer_ids == ["1", "2", "3"] and len(g) == 3
    scores = g.performer_scores(np.stack([vec((2, 1)), vec((1, .6), (0, .8))]))
    assert np.allclose(scores, [[1.0, 0.0, 0.0], [0.8, 0.6, 0.0]], atol=1e-6)
    m = match_faces(np.stack([vec((2, 1)), vec((1, .6), (0, .8)), vec((5, 1))]), g)
    assert [(x.best, round(x.score, 2), x.second, round(x.second_score, 2)) for x in m] == [
        ("1", 1.0, "2", 0.0), ("1", 0.8, "2", 0.6), ("1", 0.0, "2", 0.0)]
    assert m[2].verdict(RULE) == "unknown"
    assert len(g.rows_of("1")) == 2 and len(g.rows_of("9")) == 0
    assert match_faces(np.stack([vec((0, 1))]), Gallery.from_rows([]))[0].best is None


def test_scene_faces_join_the_gallery_only_when_they_agree_with_the_profile():
    profile = np.stack([vec((0, 1))])
    others = np.stack([vec((1, 1))])                          # a co-performer
    candidates = np.stack([
        near(0, 0.85),                  # 0: the performer
        near(0, 0.75, other=6),         # 1: the performer, another angle
        vec((1, 1)),                    # 2: the co-performer
        vec((0, .62), (1, .6)),         # 3: between the two: not clearly ours
        near(0, 0.3),                   # 4: someone else
    ])
    assert consistent_faces(profile, candidates, RULE, others) == [0, 1]
    assert consistent_faces(profile, candidates[2:], RULE, others) == []
    assert consistent_faces(np.zeros((0, 8)), candidates, RULE) == []


def test_findings_from_stored_signals_are_pure():
    def face(t, best, score, second=None, s2=0.0, name="Ann", box=(1, 2, 3, 4)):
        return Signal(t, 5.0, "face", score, {"box": list(box), "prob": 0.99,
                                             "performer": best, "name": name,
                                             "second": second, "second_score": s2})
    signals = [face(2.5, "1", .8, "2", .1), face(7.5, "1", .7, "2", .2, box=(50, 2, 90, 40)),
               face(7.5, "2", .3, "1", .2), Signal(7, 5.0, "text", 0.9)]
    (f,) = face_findings(RULE, signals, duration=10.0)
    assert (f.kind, f.name, f.target_id, f.analyzer, f.markers) == ("performer", "Ann", "1",
                                                                     "faces", False)
    assert f.key == "1" and 0.9 < f.confidence <= 1.0 and f.detail["frames"] == 2
    assert f.detail["shots"] == 2
    # centred on each frame (2.5 s and 7.5 s, 5 s apart): 0..5 and 5..10, merged into one range
    assert [(s.start, s.end) for s in f.segments] == [(0, 10)]
    assert f.segments[0].score == pytest.approx(0.75)
    assert face_findings(MatchRule(min_frames=3), signals) == []


def test_segments_are_centred_never_past_the_end_and_keep_their_own_scores():
    from stash_sense.aggregate.timeline import centred_segments
    points = [(1.0, 2.0, 0.9), (3.0, 2.0, 0.7), (20.0, 4.0, 0.5), (29.5, 4.0, 0.6)]
    got = [(s.start, s.end, round(s.score, 3)) for s in centred_segments(points, 30.0)]
    assert got == [(0.0, 4.0, 0.8), (18.0, 22.0, 0.5), (27.5, 30.0, 0.6)]
    assert centred_segments([(0.2, 2.0, 1.0)], None)[0].start == 0.0


def test_fp16_embeddings_round_trip_per_model(tmp_path):
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    faces = FaceStore(Store(str(tmp_path / "s.sqlite")))
    faces.set_names([("1", "Ann"), ("2", "Bea")])
    a, b = near(0, 0.9), vec((1, 1))
    faces.replace_profile("1", "m1", "100", [a], [0.99])
    faces.add_scene_faces("1", "55", "m1", [near(0, 0.8)], [0.98], [12.0])
    faces.replace_profile("2", "m1", "100", [b], [0.99])
    faces.replace_profile("2", "m2", "100", [a], [0.99])
    g = faces.gallery("m1")
    assert g.performer_ids == ["1", "2"] and g.names == {"1": "Ann", "2": "Bea"}
    assert np.abs(g.rows_of("1")[0] - a).max() < 1e-3                  # fp16 is close enough
    assert faces.counts("m1") == {"performers": 2, "profile_faces": 2, "scene_faces": 1}
    assert set(faces.galleries()) == {"m1", "m2"}
    # a new profile image: the scene faces checked against the old one go too
    faces.replace_profile("1", "m1", "200", [], [], "no face found")
    assert faces.counts("m1") == {"performers": 1, "profile_faces": 1, "scene_faces": 0}
    assert faces.source("1", "profile", "image", "m1").faces == 0
    assert faces.forget_performers(["1"]) == 1 and faces.gallery("m2").performer_ids == []


@pytest.mark.parametrize("on_scene, apply, added, suggested", [
    (False, False, [], ["7"]),          # the default: a suggestion for review
    (False, True, ["7"], []),           # applyPerformers: added
    (True, False, [], []),              # the user already tagged them: nothing at all
    (True, True, [], []),
])
def test_performer_findings_in_the_plan(on_scene, apply, added, suggested):
    from stash_sense.findings import Finding
    from stash_sense.settings import Settings
    from stash_sense.tagging.plan import make_plan
    from stash_sense.tagging.state import Owned, SceneState
    scene = SceneState("1", frozenset(), (), None, frozenset({"3"} | ({"7"} if on_scene else set())))
    finding = Finding("performer", "Eileen", "faces", "performers", 0.95, target_id="7")
    plan = make_plan(scene, [finding], Owned(), Settings(applyPerformers=apply), {}, set())
    assert plan.add_performer_ids == added
    assert [f.target_id for f in plan.suggestions] == suggested
    assert plan.remove_performer_ids == []          # the user's performer "3" is never touched


def test_forget_faces_of_deleted_scenes_and_performers_and_owner_only_store(tmp_path):
    import os
    import stat

    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    (tmp_path / "data").mkdir(mode=0o755)
    db = str(tmp_path / "data" / "stash_sense.sqlite")
    store = Store(db)
    faces = FaceStore(store)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
    faces.set_names([("1", "Ann"), ("2", "Bea")])
    faces.replace_profile("1", "m", "1", [vec((0, 1))], [0.99])
    faces.replace_profile("2", "m", "1", [vec((1, 1))], [0.99])
    faces.add_scene_faces("1", "50", "m", [near(0, 0.9)], [0.9], [3.0])
    faces.add_scene_faces("2", "60", "m", [near(1, 0.9)], [0.9], [3.0])
    faces.save_scene_faces("50", "m", [(3.0, 0, [1, 2, 3, 4], 0.99, "1", 0.9, near(0, 0.9)),
                                       (3.0, 1, [5, 6, 7, 8], 0.99, None, 0.2, vec((3, 1)))])
    faces.save_scene_faces("60", "m", [(1.0, 0, [1, 2, 3, 4], 0.99, "2", 0.9, near(1, 0.9))])
    removed = faces.forget_faces(scene_ids=["50"], performer_ids=["2"])
    assert removed == {"scene_faces": 2, "gallery_faces": 3, "performers": 1}
    assert faces.scene_faces("50", "m") == []
    assert faces.counts("m") == {"performers": 1, "profile_faces": 1, "scene_faces": 0}
    assert faces.gallery("m").performer_ids == ["1"]
    (left,) = faces.scene_faces("60", "m")
    assert left.performer_id is None                 # Bea is gone: an unknown face again
    assert faces.source("1", "scene", "50", "m") is None
