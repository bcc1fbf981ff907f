"""Gap-tolerant aggregation over time, table-driven. Tolerances are seconds, never frame counts."""
import pytest

from stash_sense.aggregate import TimeRule, aggregate_tag, find_segments


def hits(*times, span=10.0, score=0.9):
    return [(t, span, score) for t in times]


@pytest.mark.parametrize("name, points, threshold, gap, min_seg, expected", [
    ("seen at 0:10 and 0:50, gap 30 s within 40 s tolerance -> one segment",
     hits(10, 50), 0.5, 40, 0, [(10, 60)]),
    ("same hits, tolerance 20 s -> two segments",
     hits(10, 50), 0.5, 20, 0, [(10, 20), (50, 60)]),
    ("consecutive tiles touch: gap 0",
     hits(0, 10, 20), 0.5, 0, 0, [(0, 30)]),
    ("below threshold frames are not hits",
     hits(0, 10) + [(20, 10.0, 0.3)] + hits(30), 0.5, 0, 0, [(0, 20), (30, 40)]),
    ("short segments are dropped",
     hits(0) + hits(100, 110, 120), 0.5, 5, 15, [(100, 130)]),
    ("unsorted input is sorted",
     hits(50, 10), 0.5, 40, 0, [(10, 60)]),
    ("nothing above threshold",
     hits(0, 10, score=0.2), 0.5, 40, 0, []),
    ("a long sprite step (1 h scene: 44 s) still merges with a 45 s tolerance",
     hits(0, 88.9, span=44.4), 0.5, 45, 0, [(0, 133.3)]),
])
def test_segments(name, points, threshold, gap, min_seg, expected):
    got = [(round(s.start, 1), round(s.end, 1)) for s in find_segments(points, threshold, gap, min_seg)]
    assert got == expected, name


@pytest.mark.parametrize("points, required, passed, detected", [
    (hits(0, 10, 20), 30, True, 30),
    (hits(0, 10), 30, False, 20),
    (hits(0, 100, 200), 25, True, 30),      # scene-level time counts every hit, gaps or not
    ([], 0, False, 0),                       # no hit: never a tag, even with 0 required
])
def test_scene_level_decision(points, required, passed, detected):
    result = aggregate_tag(points, TimeRule(threshold=0.5, gap=5, min_segment=0, required=required))
    assert result.passed is passed
    assert result.detected == pytest.approx(detected)


def test_confidence_is_the_mean_score_of_hits():
    points = [(0, 10, 0.6), (10, 10, 0.8), (20, 10, 0.1)]
    result = aggregate_tag(points, TimeRule(0.5, 0, 0, 0))
    assert result.confidence == pytest.approx(0.7)
    assert result.segments[0].score == pytest.approx(0.7)
