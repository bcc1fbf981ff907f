"""Near-identical consecutive sprite tiles reuse their neighbour's embedding (frames/dedupe.py), and
doing so never changes what is written to Stash."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stash_sense.frames import dedupe
from stash_sense.frames.types import Frame
from tests.standin.media import make_sprite, vtt_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny-clip.json")
HAMILTON = os.path.join(ROOT, "..", "shared", "data", "faces", "more", "short_hamilton_clip.mp4")
DEFAULT = dedupe.DEFAULT_THRESHOLD


def photo(name="astronaut") -> Image.Image:
    from skimage import data
    return Image.fromarray(getattr(data, name)()).convert("RGB").resize((160, 90))


def noisy(image: Image.Image, seed: int, amplitude: int = 6) -> Image.Image:
    """The same picture with per-pixel sensor noise (what a static camera gives)."""
    rng = np.random.default_rng(seed)
    arr = np.asarray(image, np.int16) + rng.integers(-amplitude, amplitude + 1, (90, 160, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def jpeg_tiles(images: list[Image.Image]) -> list[Image.Image]:
    """Through a real Stash-like sprite JPEG and back, as the analyzer receives them."""
    from stash_sense.frames.sprite import decode_sprite, slice_tiles
    from stash_sense.frames.vtt import parse_vtt
    padded = images + [Image.new("RGB", (160, 90))] * (81 - len(images))
    sheet = decode_sprite(make_sprite(padded))
    return [f.image for f in slice_tiles(sheet, parse_vtt(vtt_text(810, 160, 90, "s.jpg")), "x")]


def frames(images, scene="1") -> list[Frame]:
    return [Frame(scene, i, i * 10.0, 10.0, img) for i, img in enumerate(images)]


pytest.importorskip("skimage")


# -- the plan ----------------------------------------------------------------------------------
def test_a_static_shot_through_jpeg_is_encoded_once():
    tiles = jpeg_tiles([noisy(photo(), seed) for seed in range(6)])[:6]
    assert dedupe.reuse_plan(frames(tiles), DEFAULT) == [0, 0, 0, 0, 0, 0]


def test_a_small_local_change_is_not_skipped():
    still = photo("coffee")
    moved = still.copy()
    ImageDraw.Draw(moved).rectangle((130, 60, 144, 74), fill=(250, 250, 250))   # 15x15 px, 1.6 %
    assert dedupe.reuse_plan(frames(jpeg_tiles([still, moved])[:2]), DEFAULT) == [0, 1]


def test_a_colour_shift_counts():
    grey = Image.new("RGB", (160, 90), (120, 120, 120))
    tinted = Image.new("RGB", (160, 90), (120, 120, 132))   # one channel, 12 levels
    assert dedupe.reuse_plan(frames([grey, tinted]), DEFAULT) == [0, 1]


def test_a_slow_fade_cannot_creep_past_the_threshold():
    """Each tile is 2 levels brighter than the one before: every step is below the threshold,
    but a tile is compared with the last ENCODED tile, so it is encoded again every few tiles."""
    ramp = [Image.new("RGB", (160, 90), (60 + 2 * i,) * 3) for i in range(30)]
    plan = dedupe.reuse_plan(frames(ramp), DEFAULT)
    encoded = sorted(set(plan))
    assert 5 <= len(encoded) <= 15
    for i, source in enumerate(plan):
        assert abs(ramp[i].getpixel((0, 0))[0] - ramp[source].getpixel((0, 0))[0]) / 255 <= DEFAULT


def test_scenes_sources_and_gaps_are_never_paired():
    same = photo()
    two_scenes = frames([same] * 3, "1") + frames([same] * 3, "2")
    assert dedupe.reuse_plan(two_scenes, DEFAULT) == [0, 0, 0, 3, 3, 3]
    video = [Frame("1", i, float(i), 1.0, same, source="video") for i in range(3)]
    assert dedupe.reuse_plan(video, DEFAULT) == [0, 1, 2]
    gap = [Frame("1", i, float(i), 1.0, same) for i in (0, 1, 5)]
    assert dedupe.reuse_plan(gap, DEFAULT) == [0, 0, 2]


def test_zero_turns_it_off():
    assert dedupe.reuse_plan(frames([photo()] * 4), 0) == [0, 1, 2, 3]


# -- in the analyzer ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    pytest.importorskip("open_clip")
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.clip import ClipAnalyzer
    from stash_sense.settings import load_settings
    from stash_sense.vocabulary import load_vocabulary
    model_dir = str(tmp_path_factory.mktemp("models"))
    out = []
    for threshold in (0, DEFAULT):
        settings = load_settings({}, {"clipModel": TINY, "clipPretrained": "none",
                                      "modelDir": model_dir, "clipBackend": "torch",
                                      "tileSkipThreshold": threshold}, model_dir)
        a = ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(), device="cpu"))
        a.load()
        out.append(a)
    return out


def test_encode_gives_skipped_tiles_the_anchor_row_and_runs_the_encoder_less(tiny_pair):
    off, on = tiny_pair
    images = jpeg_tiles([noisy(photo(), s) for s in range(4)] + [photo("chelsea")] * 3)[:7]
    calls = []
    real = on.encoder

    def counting(pixels):
        calls.append(len(pixels))
        return real(pixels)
    on.encoder = counting
    try:
        got = on._encode(frames(images))
    finally:
        on.encoder = real
    assert sum(calls) == 2                     # one astronaut, one cat
    own = off._encode(frames(images))
    assert got.shape == own.shape
    assert np.allclose(got[:4], own[0]) and np.allclose(got[4:], own[4])
    assert (got * own).sum(axis=1).min() > 0.999     # tiny model: reused rows are close anyway
    assert on.tiles_skipped >= 5


# -- end to end: the same tags and markers with and without skipping -----------------------------
def library_sprites(tmp_path) -> dict[str, tuple[bytes, float]]:
    """Sprite JPEGs with static stretches: held photographs with sensor noise, a black stretch,
    and (when ../shared/data is there) a sprite of the real video, made the way Stash makes it."""
    from skimage import data  # noqa: F401
    sprites = {}
    for name, shots in (("interview", ["astronaut"] * 50 + ["coffee"] * 31),
                        ("stills", ["chelsea"] * 27 + ["rocket"] * 27 + [None] * 27)):
        tiles = [noisy(photo(s), i) if s else Image.new("RGB", (160, 90)) for i, s in enumerate(shots)]
        sprites[name] = (make_sprite(tiles), 810.0)
    if os.path.isfile(HAMILTON) and shutil.which("ffmpeg"):
        from tests.standin.media import sprite_from_video
        sprites["hamilton"] = (sprite_from_video(HAMILTON)[0], 10.0)
    return sprites


def run_library(tmp_path, sprites, threshold: float) -> tuple[dict, list[str]]:
    from tests.e2e import configure, snapshot
    from tests.standin.runner import run_plugin
    from tests.standin.server import FakeStash
    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        ids = {name: stash.add_scene(name, duration=duration, sprite=jpeg, tag_ids=[tagme],
                                     vtt=lambda n, d=duration: vtt_text(d, 160, 90, n))
               for name, (jpeg, duration) in sprites.items()}
        configure(stash, tmp_path, analyzers="clip", clipModel=TINY, clipPretrained="none",
                  tileSkipThreshold=threshold, dataDir=str(tmp_path / f"data-{threshold}"),
                  gapSeconds=0.5, minSegmentSeconds=0.2, requiredDuration="5%")
        run = run_plugin(stash, {"mode": "tag_tagme"})
        assert run.error is None, run.log_text()
        assert run.stdout_was_json                     # the ONNX export printed nothing there
        assert run.output["tagged"] == len(sprites)
        assert stash.schema_violations == [] and stash.internal_errors == []
        return {name: snapshot(stash, sid) for name, sid in ids.items()}, run.messages("i")


def test_skipping_never_changes_a_written_tag_on_the_test_library(tmp_path):
    from tests.e2e import require_schema
    require_schema()
    pytest.importorskip("open_clip")
    from stash_sense.frames.sprite import decode_sprite, slice_tiles
    from stash_sense.frames.vtt import parse_vtt
    sprites = library_sprites(tmp_path)
    skipped = 0
    for name, (jpeg, duration) in sprites.items():
        tiles = slice_tiles(decode_sprite(jpeg), parse_vtt(vtt_text(duration, 160, 90, "s")), name)
        skipped += dedupe.skipped(dedupe.reuse_plan(tiles, DEFAULT))
    assert skipped >= 100, "the library must exercise skipping"

    without, _ = run_library(tmp_path, sprites, 0)
    with_skip, _ = run_library(tmp_path, sprites, DEFAULT)
    written = [t for snap in without.values() for t in snap["tags"] if t != "StashSense_Tagged"]
    assert written, "the tiny model must write some tags, or the comparison proves nothing"
    assert with_skip == without
