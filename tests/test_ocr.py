"""Studio watermarks: the matcher (table-driven), the real RapidOCR on generated frames and clips,
and a TagMe batch in the Stash stand-in."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import pytest
from PIL import Image, ImageDraw, ImageFont

from stash_sense.analyzers.ocr import frame_texts, merge_readings, read_frame, regions, studio_findings
from stash_sense.findings import Signal
from stash_sense.frames.types import SceneMedia
from stash_sense.studios import StudioMatcher, fold, words

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDIOS = [
    {"id": "1", "name": "Velvet Room Pictures", "aliases": ["VelvetRoom"]},
    {"id": "3", "name": "Blue Harbor", "aliases": []},
    {"id": "4", "name": "Blue Harbor Raw", "aliases": []},
    {"id": "5", "name": "Kinetix", "aliases": ["Kinetix.com"]},
    {"id": "6", "name": "Moxie", "aliases": []},
    {"id": "7", "name": "21 Summers", "aliases": ["21Summers"]},
    {"id": "10", "name": "Silver Screen X", "aliases": ["SSX", "SX"]},
    {"id": "11", "name": "Lumen & Co", "aliases": []},
    {"id": "12", "name": "Halcyon Digital", "aliases": []},
    {"id": "13", "name": "Starlet Cove", "aliases": []},
    {"id": "14", "name": "OpenAir Films", "aliases": ["Open Air"]},
    {"id": "16", "name": "Reality", "aliases": []},
    {"id": "17", "name": "HD Films", "aliases": []},
]


def test_normalisation():
    assert words("www.Kinetix.COM") == ["kinetix"]
    assert words("Lumen & Co.") == ["lumen", "and", "co"]
    assert words("Crème  Brûlée!") == ["creme", "brulee"]
    assert fold("bl0ue harb0r 5") == fold("bloue harbor s")
    assert fold("rnoxie") == fold("moxie")


@pytest.mark.parametrize("lines,expected", [
    (["BLUE HARBOR"], "Blue Harbor"),
    (["Blue Harbor RAW"], "Blue Harbor Raw"),          # the longer name wins over its prefix
    (["BLUE HARB0R"], "Blue Harbor"),                  # 0 read for O
    (["blueharbor"], "Blue Harbor"),                   # words glued together
    (["kinetix.com"], "Kinetix"),
    (["KlNETlX"], "Kinetix"),                          # l read for I
    (["www.openairfilms.com"], "OpenAir Films"),
    (["0penAir Fi1ms"], "OpenAir Films"),
    (["VELVETROOM"], "Velvet Room Pictures"),          # an alias
    (["Velvet Roorn Pictures"], "Velvet Room Pictures"),  # rn read for m
    (["00:12:45", "MOXIE"], "Moxie"),                  # beside unrelated text
    (["© Moxie 2024"], "Moxie"),                       # a short name among other words
    (["MOX1E"], "Moxie"),
    (["2l SUMMERS"], "21 Summers"),
    (["Lumen & Co."], "Lumen & Co"),
    (["LUMEN&CO"], "Lumen & Co"),
    (["www.lumenco.com"], "Lumen & Co"),               # '&' has no place in a web address
    (["Halcyon Digitai"], "Halcyon Digital"),          # one letter wrong in a long name
    (["visitsilverscreenx"], "Silver Screen X"),       # exactly inside glued text
    (["SSX"], "Silver Screen X"),                      # a 3-letter alias, alone on its line
    (["Reality"], "Reality"),                          # a generic name, alone on its line
    # no studio
    (["Moxies"], None),                                # short names match exactly only
    (["Moxy"], None),
    (["SSX 2"], None),                                 # 3 letters: only alone
    (["SX"], None),                                    # 2-letter aliases are ignored
    (["REALITY CHECK"], None),                         # generic name inside other text
    (["HD Films presents"], None),
    (["Blue Sky Harbor"], None),                       # an extra word inside the name
    (["Silver Screen Classics"], None),
    (["Kinetic Arts"], None),                          # 7 letters, one off, among other words
    (["KINETlX presents"], "Kinetix"),                 # ... but exact after folding is fine
    (["SilverScreenClassics"], None),                  # a fuzzy part of glued text
    (["SUBSCRIBE FOR MORE"], None),
    (["Episode 4 - The Beach House"], None),
    (["00:00:10.000", "250"], None),
    ([], None),
])
def test_match_table(lines, expected):
    best = StudioMatcher(STUDIOS, min_score=85).best_in_frame(lines)
    assert (best.studio if best else None) == expected


def test_min_score_is_the_setting():
    lines = ["Halcyon Digitol"]                         # 13 of 14 letters
    assert StudioMatcher(STUDIOS, min_score=85).best_in_frame(lines) is not None
    assert StudioMatcher(STUDIOS, min_score=95).best_in_frame(lines) is None


def test_agreement_across_frames():
    m = StudioMatcher(STUDIOS)
    one = m.choose_studio([(1.0, 1.0, ["MOXIE"]), (2.0, 1.0, ["nothing"]), (3.0, 1.0, [])])
    assert one is None                                  # a single frame is not enough
    two = m.choose_studio([(1.0, 1.0, ["MOXIE"]), (2.0, 1.0, ["moxie"]), (3.0, 1.0, ["KINETIX"])])
    assert two.studio == "Moxie" and len(two.frames) == 2 and two.others == {"Kinetix": 1}
    assert two.confidence == pytest.approx(2 / 3, abs=1e-3)
    tie = m.choose_studio([(1, 1, ["MOXIE"]), (2, 1, ["moxie"]), (3, 1, ["kinetix"]), (4, 1, ["KINETIX"])])
    assert tie is None                                  # two studios equally supported
    assert m.choose_studio([(1, 1, ["x"])]) is None
    assert StudioMatcher([]).choose_studio([(1, 1, ["MOXIE"]), (2, 1, ["MOXIE"])]) is None


def _signal(t, lines):
    return Signal(t, 10.0, "ocr", 0.9, {"lines": [
        {"text": text, "conf": 0.9, "box": box, "region": "full"} for text, box in lines]})


def test_words_of_one_row_join_left_to_right_even_when_boxed_higher():
    """Seen on the accuracy set: "Harbor" boxed 16 px higher than "Blue" beside it was joined
    as "Harbor Blue"."""
    blue = ("Blue", [[316, 284], [438, 291], [435, 347], [313, 340]])
    harbor = ("Harbor", [[428, 268], [639, 275], [639, 354], [425, 347]])
    films = ("Films", [[330, 360], [500, 360], [500, 420], [330, 420]])      # a second row
    [(_, _, texts)] = frame_texts([_signal(1.0, [harbor, films, blue])])
    assert "Blue Harbor Films" in texts


def test_findings_from_stored_lines_join_nearby_lines():
    """A logo set on two lines ("Velvet" over "Room") is read as two lines and joined."""
    velvet = ("Velvet", [[10, 10], [60, 10], [60, 25], [10, 25]])
    room = ("Room", [[12, 28], [50, 28], [50, 43], [12, 43]])
    far = ("Pictures", [[500, 300], [580, 300], [580, 315], [500, 315]])
    signals = [_signal(5.0, [velvet, room, far]), _signal(15.0, [velvet, room]),
               Signal(20.0, 1.0, "other", 1.0)]
    assert frame_texts(signals)[0][2] == ["Velvet", "Room", "Pictures", "Velvet Room"]
    scene = SceneMedia("9", "", 20.0, 0, 0, None, None, None, None)
    [finding] = studio_findings(StudioMatcher(STUDIOS, 85), scene, signals)
    assert (finding.kind, finding.name, finding.target_id, finding.analyzer) == \
        ("studio", "Velvet Room Pictures", "1", "ocr")
    assert [(s.start, s.end) for s in finding.segments] == [(0.0, 20.0)]   # neighbouring frames join
    assert finding.detail["read"] == ["Velvet Room"]
    assert studio_findings(StudioMatcher([]), scene, signals) == []


# -- the real OCR engine ---------------------------------------------------------------------
def _font(size):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                 "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"):
        if os.path.isfile(path):
            return ImageFont.truetype(path, size)
    pytest.skip("no TrueType font: apt-get install -y fonts-dejavu-core")


def _frame(text, size, where, opacity=0.8, dims=(1280, 720)):
    base = Image.effect_mandelbrot(dims, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    base = Image.merge("RGB", (base.getchannel(0), base.getchannel(0).point(lambda v: v // 2),
                               base.getchannel(0).point(lambda v: 255 - v)))
    layer = Image.new("RGBA", dims, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(size)
    w = draw.textlength(text, font=font)
    m = int(dims[1] * 0.035)
    x = {"br": dims[0] - w - m, "tl": m, "center": (dims[0] - w) / 2}[where]
    y = {"br": dims[1] - size - m, "tl": m, "center": dims[1] / 2}[where]
    draw.text((x, y), text, font=font, fill=(255, 255, 255, int(255 * opacity)))
    return Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")


@pytest.fixture(scope="module", params=[("rapidocr", "rapidocr"),
                                         ("rapidocr-onnxruntime", "rapidocr_onnxruntime")],
                ids=["rapidocr", "rapidocr-onnxruntime"])
def engine(request):
    """Both RapidOCR engines: the default (3.x) and the one it replaced (1.4.4)."""
    name, module = request.param
    pytest.importorskip(module)
    from stash_sense.models.ocr import make_engine
    return make_engine(name)


def test_rapidocr_reads_small_corner_watermarks(engine):
    matcher = StudioMatcher(STUDIOS)
    for text, size, where, dims, studio, region in [
            ("kinetix.com", 20, "br", (1280, 720), "Kinetix", "bottom"),  # small, corner
            ("BLUE HARBOR", 14, "tl", (854, 480), "Blue Harbor", "full"),   # tiny, low resolution
            ("Starlet Cove", 18, "tl", (1920, 1080), "Starlet Cove", "top"),  # 1080p print
            ("OpenAir Films", 72, "center", (1280, 720), "OpenAir Films", "full")]:  # title card
        lines = read_frame(engine, _frame(text, size, where, dims=dims))
        assert all(set(ln) == {"text", "conf", "box", "region"} for ln in lines)
        best = matcher.best_in_frame([ln["text"] for ln in lines])
        assert best is not None and best.studio == studio, (text, lines)
        line = next(ln for ln in lines if ln["text"] == best.text)
        assert line["region"] == region                        # strips only above 960 px
        x0 = min(p[0] for p in line["box"])
        assert (x0 > dims[0] / 2) == (where == "br")           # boxes in frame pixels


def _boxed_frame(text, height_share, dims=(1280, 720)):
    """Large white text on a dark box in the bottom-right corner, over a busy picture."""
    base = Image.effect_mandelbrot(dims, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    draw = ImageDraw.Draw(base)
    size = round(dims[1] * height_share)
    font = _font(size)
    w = draw.textlength(text, font=font)
    m, pad = int(dims[1] * 0.035), size // 3
    x, y = dims[0] - m - pad - w, dims[1] - m - pad - size
    draw.rectangle((x - pad, y - pad, dims[0] - m, dims[1] - m), fill=(18, 18, 22))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    return base


def test_a_reading_is_never_replaced_by_a_cut_off_one(engine):
    """Issue #10: on 1280x720 the whole-frame pass reads "Pineapple Studios" (text 10 % of the
    frame's height) whole, and the bottom-right corner crop, narrower than the text, reads a
    cut-off "ple Studios": the cut reading must not replace the whole one."""
    studios = STUDIOS + [{"id": "30", "name": "Pineapple Studios", "aliases": []}]
    lines = read_frame(engine, _boxed_frame("Pineapple Studios", 0.10))
    texts = [ln["text"] for ln in lines]
    assert any(t.replace(" ", "").lower() == "pineapplestudios" for t in texts), lines
    best = StudioMatcher(studios).best_in_frame(texts)
    assert best is not None and best.studio == "Pineapple Studios", lines


def _line(text, x0, y0, x1, y1, region):
    return {"text": text, "conf": 0.9, "box": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            "region": region}


def test_merge_keeps_the_better_of_two_readings():
    corner = {"bottom-right": (819, 576, 1280, 720)}   # a crop with inner left and top sides
    whole = _line("Pineapple Studios", 480, 600, 1250, 690, "full")
    cut = _line("ple Studios", 820, 600, 1250, 690, "bottom-right")       # at the crop's left side
    assert merge_readings([whole], [cut], corner, 1280, 720) == [whole]
    inside = _line("le Studios", 900, 600, 1250, 690, "bottom-right")     # not at a side, but
    assert merge_readings([whole], [inside], corner, 1280, 720) == [whole]  # the whole is longer
    alone = _line("ple Stu", 820, 600, 1000, 690, "bottom-right")           # cut, nothing better
    assert merge_readings([], [alone], corner, 1280, 720) == [alone]
    strips = dict(regions(1280, 720))                   # full width: top 0..144, bottom 576..720
    assert strips == {"top": (0, 0, 1280, 144), "bottom": (0, 576, 1280, 720)}
    small_full = _line("kinetix.corn", 1100, 660, 1250, 680, "full")
    small_edge = _line("kinetix.com", 1101, 661, 1249, 679, "bottom")
    assert merge_readings([small_full], [small_edge], strips, 1280, 720) == [small_edge]
    tall = _line("STUDIOS", 400, 560, 900, 700, "full")                    # taller than the strip
    top_cut = _line("STUDlOS", 400, 577, 900, 700, "bottom")               # cut by its top side
    assert merge_readings([tall], [top_cut], strips, 1280, 720) == [tall]


def test_engine_choice_and_missing_paddle(monkeypatch):
    from stash_sense.errors import DependencyMissing
    from stash_sense.models import ocr as ocr_engines
    monkeypatch.setitem(sys.modules, "paddleocr", None)        # import fails like uninstalled
    with pytest.raises(DependencyMissing, match="pip install paddlepaddle paddleocr"):
        ocr_engines.make_engine("paddleocr")
    v3 = [{"rec_texts": ["MOXIE"], "rec_scores": [0.93],
           "rec_polys": [[[1, 2], [30, 2], [30, 12], [1, 12]]]}]
    assert ocr_engines.parse_paddle_v3(v3) == [("MOXIE", 0.93, [[1.0, 2.0], [30.0, 2.0],
                                                                 [30.0, 12.0], [1.0, 12.0]])]
    v2 = [[[[[1, 2], [30, 2], [30, 12], [1, 12]], ("MOXIE", 0.9)]]]
    assert ocr_engines.parse_paddle_v2(v2)[0][:2] == ("MOXIE", 0.9)
    assert ocr_engines.parse_paddle_v2([None]) == []


# -- a few clips of the accuracy set (tools/ocr_accuracy.py runs them all) --------------------
def _accuracy_tool():
    spec = importlib.util.spec_from_file_location("ocr_accuracy",
                                                  os.path.join(ROOT, "tools", "ocr_accuracy.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_accuracy_subset(tmp_path):
    """A few clips made by the accuracy tool, through VideoSource, the default engine and the
    matcher: the large 720p watermark of issue #10, a 2.4 s title card (needs the dense opening
    frames), small print in a corner, and a near miss that must give no studio."""
    tool = _accuracy_tool()
    Case = tool.Case
    subset = [
        Case("big720", "Pineapple Studios", "Pineapple Studios", pos="br", size=0.10, opacity=1.0,
             style="box", res="720", bg="mandelbrot"),
        Case("card", "STARLET COVE", "Starlet Cove", pos="center", size=0.1, opacity=1.0,
             style="box", presence="title", start=0.2, end=2.6, res="480", bg="gradients"),
        Case("small", "kinetix.com", "Kinetix", pos="tr", size=0.03, opacity=0.8, style="shadow",
             res="720", bg="cellular"),
        Case("near", "Blue Sky Harbor", None, form="not-studio", pos="bl", size=0.06,
             opacity=0.9, res="480", bg="testsrc2"),
    ]
    from stash_sense.frames.video import VideoSource, find_tools
    from stash_sense.settings import Settings
    analyzer = tool.build_analyzer(Settings().ocrEngine, frames=8)
    source = VideoSource(find_tools({}), count=8)
    for case in subset:
        clip = tool.make_clip(case, str(tmp_path))
        result = tool.run_case(case, clip, analyzer, source)
        assert result.verdict == "ok", (case, result.got, result.texts)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("seed", [1, 2])           # the development set and the held-out one
def test_accuracy_full_set(tmp_path, seed):
    assert _accuracy_tool().main(["--seed", str(seed), "--keep", str(tmp_path)]) == 0


# -- end to end: a TagMe batch in the Stash stand-in -----------------------------------------
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_tagme_batch_sets_studios_from_watermarks(tmp_path):
    from tests.e2e import configure, require_schema, snapshot
    from tests.standin.media import make_video, sprite_from_video
    from tests.standin.runner import run_plugin
    from tests.standin.server import FakeStash
    require_schema()
    pytest.importorskip("rapidocr_onnxruntime")
    pytest.importorskip("ultralytics")
    marked = make_video(str(tmp_path / "marked.mp4"), 30, (854, 480), drawtext="KINETIX")
    plain = make_video(str(tmp_path / "plain.mp4"), 30, (854, 480),
                       color_segments=[(0, 30, (60, 90, 120))])
    sprites = {p: sprite_from_video(p, 30)[0] for p in (marked, plain)}

    def scene(stash, title, path, **kw):
        from tests.standin.media import vtt_text
        return stash.add_scene(title, duration=30, video_path=path, sprite=sprites[path],
                               vtt=lambda name: vtt_text(30, 160, 90, name), **kw)

    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        kinetix = stash.add_studio("Kinetix", aliases=["Kinetix.com"])
        moxie = stash.add_studio("Moxie")
        stash.add_studio("Kinematic Arts")
        new = scene(stash, "watermarked", marked, tag_ids=[tagme])
        kept = scene(stash, "has a studio", marked, tag_ids=[tagme], studio_id=moxie)
        none = scene(stash, "no watermark", plain, tag_ids=[tagme])
        # the default CPU pipeline in one batch: CLIP (tiny, random) and YOLO (random) on the
        # sprite tiles, OCR on full-resolution frames
        tiny = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")
        configure(stash, tmp_path, analyzers="clip,objects,ocr", videoFrames=3, clipModel=tiny,
                  clipPretrained="none", yoloModel="yolo11n.yaml")
        run = run_plugin(stash, {"mode": "tag_tagme"})
        assert run.error is None, run.log_text()
        models = " ".join(run.output["models"])
        assert "open_clip:tiny-clip" in models and "ultralytics:yolo11n.yaml" in models
        assert stash.schema_violations == [] and stash.internal_errors == []
        assert run.output["tagged"] == 3 and run.output["errored"] == []
        assert snapshot(stash, new)["studio"] == "Kinetix"
        assert snapshot(stash, kept)["studio"] == "Moxie"          # the user's studio stays
        assert snapshot(stash, none)["studio"] is None
        notes = " ".join(run.messages("i"))
        assert f"scene {kept}" in notes and "already has a studio" in notes and "Kinetix" in notes
        for sid in (new, kept, none):
            assert "StashSense_Tagged" in snapshot(stash, sid)["tags"]
        # the OCR text of every frame is stored with the raw results
        from stash_sense.store import Store
        store = Store.in_dir(str(tmp_path / "data"))
        signals = store.signals.load(new, "ocr")
        assert all(s.key == "ocr" for s in signals)
        frames = [s for s in signals if "composite" not in s.data]
        [median] = [s for s in signals if "composite" in s.data]    # of the 3 spread frames
        assert len(frames) == 3 and median.data["composite"] == [s.time for s in frames]
        assert any("KINETIX" in ln["text"].upper() for s in signals for ln in s.data["lines"])
        assert stash.studio(kinetix)["name"] == "Kinetix"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_missing_ffmpeg_stops_the_task(tmp_path):
    from tests.e2e import configure, require_schema, snapshot
    from tests.standin.runner import run_plugin
    from tests.standin.server import FakeStash
    require_schema()
    pytest.importorskip("rapidocr_onnxruntime")
    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        sid = stash.add_scene("a scene", duration=30, tag_ids=[tagme])
        stash.set_general_config(ffmpegPath=str(tmp_path / "no-ffmpeg"))
        configure(stash, tmp_path, analyzers="ocr")
        before = snapshot(stash, sid)
        run = run_plugin(stash, {"mode": "tag_tagme"}, env={"PATH": str(tmp_path)})
        assert run.error and "ffmpeg" in run.error and "apt-get install ffmpeg" in run.error
        assert snapshot(stash, sid) == before


def test_a_missing_word_is_another_name():
    only_raw = StudioMatcher([{"id": "4", "name": "Blue Harbor Raw", "aliases": []}])
    assert only_raw.best_in_frame(["BLUE HARBOR"]) is None
    assert only_raw.best_in_frame(["BLUE HARB0R RAW"]).studio == "Blue Harbor Raw"


# -- temporal composites (static watermarks over moving pictures) ----------------------------
def test_composite_windows_per_scene_without_title_frames():
    from stash_sense.analyzers.ocr import composite_windows
    from stash_sense.frames.sampling import frame_times
    from stash_sense.frames.types import Frame
    img, small = Image.new("RGB", (64, 36)), Image.new("RGB", (32, 18))
    a = [Frame("a", i, t, 1.0, img, "video") for i, t in enumerate(frame_times(600.0, 8))]
    b = [Frame("b", i, t, 1.0, img, "video") for i, t in enumerate(frame_times(600.0, 4))]
    c = [Frame("c", i, t, 1.0, im, "video") for i, (t, im) in enumerate(
        zip([10.0, 20.0, 30.0], [img, small, img]))]                 # sizes differ: none
    windows = composite_windows(a + b + c)
    # scene a: 3 title frames, then 5 spread (indices 3-7): two windows of 3, overlapping in one
    assert windows == [(4, [3, 4, 5]), (6, [5, 6, 7])]                # scene b: 2 spread frames


def test_median_keeps_a_static_watermark_and_drops_moving_noise():
    import numpy as np

    from stash_sense.analyzers.ocr import median_image
    rng = np.random.default_rng(5)
    frames = []
    for _ in range(3):
        noise = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
        noise[40:50, 20:140] = 255                                    # the watermark: static
        frames.append(Image.fromarray(noise))
    med = np.asarray(median_image(frames)).astype(float)
    assert (med[40:50, 20:140] == 255).all()
    single = np.asarray(frames[0]).astype(float)
    assert med[:30].std() < 0.8 * single[:30].std()                  # the background is calmer
