"""Where the full-resolution frames for OCR are taken: dense in the opening for title cards."""
import pytest

from stash_sense.frames.sampling import TITLE_TIMES, frame_times


@pytest.mark.parametrize("duration,count,expected", [
    (20.0, 4, [2.5, 7.5, 12.5, 17.5]),                          # short: evenly spread
    (600.0, 8, [0.7, 1.7, 2.7, 60.0, 180.0, 300.0, 420.0, 540.0]),  # + three in the opening
    (600.0, 4, [0.7, 1.7, 150.0, 450.0]),                       # two in the opening
    (600.0, 3, [100.0, 300.0, 500.0]),                          # too few frames to spare
    (0.0, 8, []), (100.0, 0, []),
])
def test_frame_times(duration, count, expected):
    assert frame_times(duration, count) == expected


@pytest.mark.parametrize("start", [0.0, 0.25, 0.5])
@pytest.mark.parametrize("length", [2.0, 3.0, 4.0])
def test_two_frames_fall_inside_any_short_title_card(start, length):
    """The two-frame agreement rule needs two frames inside a 2-4 s card at the start."""
    inside = [t for t in frame_times(1800.0, 8) if start <= t <= start + length]
    assert len(inside) >= 2
    assert set(TITLE_TIMES) <= set(frame_times(1800.0, 8))


def test_title_frames_are_told_apart_from_spread_ones():
    from stash_sense.frames.sampling import is_title_time
    times = frame_times(1800.0, 8)
    assert [is_title_time(t) for t in times] == [True] * 3 + [False] * 5
    assert not any(is_title_time(t) for t in frame_times(20.0, 8))   # short: all spread
