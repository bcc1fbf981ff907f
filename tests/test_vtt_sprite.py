"""The VTT parser and sprite slicer against text and images made exactly the way Stash makes them."""
import io

import pytest
from PIL import Image

from stash_sense.errors import FramesUnavailable
from stash_sense.frames.sprite import decode_sprite, slice_tiles
from stash_sense.frames.vtt import parse_vtt
from tests.helpers.bad_files import jpeg_bomb, png_bomb


def stash_vtt(duration: float, w: int = 160, h: int = 90, name: str = "abc_sprite.jpg") -> str:
    """Stash's pkg/utils/vtt.go output: 81 cues, ms truncated, LF only, one trailing newline."""
    def t(sec: float) -> str:
        ms = int(sec * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
    step = duration / 81
    lines = ["WEBVTT", ""]
    for i in range(81):
        lines += [f"{t(i * step)} --> {t((i + 1) * step)}",
                  f"{name}#xywh={w * (i % 9)},{h * (i // 9)},{w},{h}", ""]
    return "\n".join(lines[:-1]) + "\n"


def test_parses_81_cues_with_times_and_positions():
    cues = parse_vtt(stash_vtt(600.0))
    assert len(cues) == 81
    assert cues[1].start == pytest.approx(7.407, abs=1e-3)
    assert cues[80].end == pytest.approx(600.0, abs=1e-3)
    assert (cues[10].x, cues[10].y, cues[10].w, cues[10].h) == (160, 90, 160, 90)
    assert cues[0].image == "abc_sprite.jpg"


@pytest.mark.parametrize("text, words", [
    ("", "no WEBVTT header"),
    ("WEBVTT\n\n", "no cues"),
    ("WEBVTT\n\n00:00:00.000 --> 00:00:07.407\nsprite.jpg\n", "broken near line 3"),
    ("WEBVTT\n\n00:00:09.000 --> 00:00:07.407\ns.jpg#xywh=0,0,160,90\n", "broken near line 3"),
])
def test_broken_vtt_names_the_problem_and_the_fix(text, words):
    with pytest.raises(FramesUnavailable) as err:
        parse_vtt(text)
    assert words in str(err.value)
    assert "Generate" in str(err.value)


def _sheet(w=160, h=90) -> Image.Image:
    sheet = Image.new("RGB", (w * 9, h * 9))
    for i in range(81):
        sheet.paste(Image.new("RGB", (w, h), (i * 3, 255 - i * 3, 0)), (w * (i % 9), h * (i // 9)))
    return sheet


def test_tiles_are_cut_at_their_cue_positions_with_cue_times():
    frames = slice_tiles(_sheet(), parse_vtt(stash_vtt(810.0)), "7")
    assert len(frames) == 81
    assert frames[40].time == pytest.approx(400.0, abs=1e-2)
    assert frames[40].span == pytest.approx(10.0, abs=1e-2)
    assert frames[40].image.size == (160, 90)
    assert frames[40].image.getpixel((80, 45)) == (120, 135, 0)


def test_cue_outside_the_image_is_a_scene_error():
    with pytest.raises(FramesUnavailable, match="outside the sprite"):
        slice_tiles(_sheet(80, 45), parse_vtt(stash_vtt(600.0)), "7")


def test_corrupt_jpeg_is_a_scene_error():
    buf = io.BytesIO()
    _sheet().save(buf, "JPEG")
    with pytest.raises(FramesUnavailable, match="corrupt"):
        decode_sprite(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(FramesUnavailable, match="corrupt"):
        decode_sprite(b"not an image at all")


@pytest.mark.parametrize("make", [lambda: png_bomb(100_000, 100_000),
                                  lambda: png_bomb(10_000, 9_000), jpeg_bomb],
                         ids=["png", "pillow-warning-zone", "jpeg"])
def test_decompression_bomb_is_a_scene_error_not_a_crash(make):
    """Issue #8 case 7: Pillow's DecompressionBombError is not an OSError, and between its warning
    and error limits it only warns, then allocates gigabytes. (That no warning line reaches
    Stash's log is checked in the plugin process, tests/test_scene_files_robust.py: pytest
    replaces the process's warning filters inside a test.)"""
    with pytest.raises(FramesUnavailable, match="too large.*Generate > Sprites"):
        decode_sprite(make())


def test_a_number_too_long_for_int_reads_as_a_broken_vtt():
    text = stash_vtt(600.0).replace("#xywh=0,", "#xywh=" + "9" * 5000 + ",", 1)
    with pytest.raises(FramesUnavailable, match="broken near line 3"):
        parse_vtt(text)
    with pytest.raises(FramesUnavailable, match="no cues"):
        parse_vtt("WEBVTT\n\n" + "9" * 5000 + ":00:00.000 --> 00:00:01.000\ns.jpg#xywh=0,0,1,1\n")


# -- issue #8 case 11: a VTT with a missing cue (Stash's sprite generator interrupted) ------------
def _without(text: str, *indexes: int) -> str:
    """Stash's VTT with the cue blocks at `indexes` (0-based) removed."""
    head, *blocks = text.rstrip("\n").split("\n\n")
    return "\n\n".join([head] + [b for i, b in enumerate(blocks) if i not in indexes]) + "\n"


@pytest.mark.parametrize("frame_rate, frame_count, duration", [
    (None, None, 600.0), (30.0, 18000, 600.0), (30.0, 1818, 60.6), (29.97, 1799, 60.03),
    (25.0, 100, 4.0), (30.0, 50, 1.67),
])
def test_a_complete_stash_vtt_misses_nothing(frame_rate, frame_count, duration):
    from stash_sense.frames.vtt import missing_cues
    from tests.standin.media import vtt_text
    text = vtt_text(duration, 160, 90, "h_sprite.jpg", frame_rate=frame_rate, frame_count=frame_count)
    assert missing_cues(parse_vtt(text)) == 0


@pytest.mark.parametrize("removed, expected", [
    ((40,), 1), ((0,), 1), ((80,), 1), ((10, 11, 12), 3), ((5, 60), 2),
    (tuple(range(50, 81)), 31),                          # the generator stopped at tile 50
])
def test_missing_cues_are_counted(removed, expected):
    from stash_sense.frames.vtt import missing_cues
    assert missing_cues(parse_vtt(_without(stash_vtt(600.0), *removed))) == expected


def test_tiles_that_have_cues_are_still_used():
    cues = parse_vtt(_without(stash_vtt(810.0), 40))
    frames = slice_tiles(_sheet(), cues, "7")
    assert len(frames) == 80
    assert frames[40].time == pytest.approx(410.0, abs=1e-2)      # tile 41, at its own position
    assert frames[40].image.getpixel((80, 45)) == (123, 132, 0)
