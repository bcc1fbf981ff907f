"""The objects analyzer: a randomly initialised YOLO through the real loading code, detections ->
signals with real ultralytics Results, findings from controlled signals (table-driven), and the
errors a user sees for missing or broken weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")

from PIL import Image  # noqa: E402

from stash_sense.analyzers.base import AnalyzerContext  # noqa: E402
from stash_sense.analyzers.objects import ObjectsAnalyzer, frame_detections, input_size, object_findings  # noqa: E402
from stash_sense.errors import ModelUnavailable, SettingsError  # noqa: E402
from stash_sense.findings import Signal  # noqa: E402
from stash_sense.frames.types import Frame, SceneMedia  # noqa: E402
from stash_sense.models import download as download_mod  # noqa: E402
from stash_sense.models.yolo import resolve_weights  # noqa: E402
from stash_sense.settings import load_settings  # noqa: E402
from stash_sense.vocabulary import load_vocabulary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VOCAB = """
clip:
  categories:
    - name: environment
      labels:
        - tag: Indoors
          prompts: ["indoors"]
objects:
  min_confidence: 0.5
  min_area: 0.02
  classes:
    couch: {tag: Couch, aliases: [Sofa]}
    car: {tag: Vehicle}
    truck: {tag: Vehicle, min_confidence: 0.7}
    laptop: {tag: Laptop, min_area: 0.0}
    person: {tag: Person, min_confidence: 0.0}
"""


@pytest.fixture(scope="module")
def vocab_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocabulary.yaml"
    path.write_text(VOCAB)
    return str(path)


def settings_for(tmp, **values):
    base = {"modelDir": str(tmp), "dataDir": str(tmp), "gapSeconds": 10,
            "minSegmentSeconds": 0, "requiredDuration": "15"}
    base.update(values)
    return load_settings({}, base, str(tmp))


def tile(seed: int, size=(160, 90)) -> Image.Image:
    g = torch.Generator().manual_seed(seed)
    data = (torch.rand(size[1], size[0], 3, generator=g) * 255).to(torch.uint8).numpy()
    return Image.fromarray(data)


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory, vocab_path):
    tmp = tmp_path_factory.mktemp("yolo")
    settings = settings_for(tmp, yoloModel="yolo11n.yaml", vocabularyFile=vocab_path)
    a = ObjectsAnalyzer(AnalyzerContext(settings, load_vocabulary(vocab_path), "cpu"))
    a.load()
    return a


# -- the real model path ----------------------------------------------------------------------
def test_random_yolo_runs_on_sprite_and_video_frames(analyzer):
    threads = torch.get_num_threads()
    frames = [Frame("1", i, 10.0 * i, 10.0, tile(i)) for i in range(5)]
    frames.append(Frame("2", 0, 0.0, 30.0, tile(9, (640, 360)), source="video"))
    out = analyzer.analyze(frames)
    assert len(out) == len(frames)
    assert torch.get_num_threads() == threads, "ultralytics changed torch's thread count"
    # person has min_confidence 0 in this vocabulary, so every candidate box comes back: the
    # random model's real outputs flow through NMS and into signals.
    assert analyzer.conf == 0.0
    signals = [s for per in out for s in per]
    assert signals, "with a confidence floor of 0 the model must return boxes"
    for frame, per in zip(frames, out):
        for s in per:
            assert (s.time, s.span) == (frame.time, frame.span)
            assert s.key in analyzer.names.values()        # COCO names, not class indices
            boxes = s.data["boxes"]
            assert 1 <= len(boxes) <= 3 and s.data["n"] >= len(boxes)
            assert s.score == boxes[0][4] == max(b[4] for b in boxes)
            for x1, y1, x2, y2, _conf, area in boxes:
                assert 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1
                assert area == pytest.approx((x2 - x1) * (y2 - y1), abs=1e-3)
    assert "yolo11n.yaml/random" in analyzer.model_id
    json.dumps([s.data for s in signals])                  # storable as is


def test_input_size_follows_the_frame():
    assert input_size(160, 90) == 320        # sprite tile: 2x, not 640
    assert input_size(160, 120) == 320
    assert input_size(100, 56) == 224        # rounded up to the stride
    assert input_size(1920, 1080) == 640     # never above YOLO's training size
    assert input_size(160, 90, upscale=1.0) == 160


def test_frame_detections_from_real_results():
    from ultralytics.engine.results import Results
    names = {0: "person", 57: "couch", 2: "car"}
    h, w = 90, 160
    boxes = torch.tensor([
        [0, 0, 80, 45, 0.9, 57],      # couch, a quarter of the frame
        [0, 0, 16, 9, 0.95, 57],      # couch, small but more confident
        [10, 10, 20, 20, 0.3, 57],
        [100, 50, 160, 90, 0.6, 57],  # 4th couch: counted, not kept
        [40, 20, 120, 80, 0.7, 2],    # car
    ], dtype=torch.float32)
    result = Results(orig_img=torch.zeros(h, w, 3).numpy(), path="t", names=names, boxes=boxes)
    signals = {s.key: s for s in frame_detections(result, names)}
    assert set(signals) == {"couch", "car"}
    couch = signals["couch"]
    assert couch.score == 0.95 and couch.data["n"] == 4
    assert [b[4] for b in couch.data["boxes"]] == [0.95, 0.9, 0.6]
    assert couch.data["boxes"][1][5] == pytest.approx(0.25, abs=1e-3)
    assert signals["car"].data["boxes"][0][:4] == pytest.approx([0.25, 0.2222, 0.75, 0.8889], abs=1e-3)
    empty = Results(orig_img=torch.zeros(h, w, 3).numpy(), path="t", names=names,
                    boxes=torch.zeros(0, 6))
    assert frame_detections(empty, names) == []


# -- findings from controlled detections ------------------------------------------------------
def det(t, key, *boxes, span=10.0):
    """boxes: (conf, area) pairs."""
    rows = [[0, 0, 0.1, 0.1, c, a] for c, a in sorted(boxes, reverse=True)]
    return Signal(t, span, key, rows[0][4], {"n": len(rows), "boxes": rows})


SCENE = SceneMedia("1", "s", 100.0, 0, 0, None, None, None, None)

CASES = [
    # (id, signals, settings, expected {tag: (frames, classes)})
    ("confident and large -> tag", [det(0, "couch", (0.8, 0.1)), det(10, "couch", (0.9, 0.1))],
     {}, {"Couch": (2, ["couch"])}),
    ("below min_confidence -> nothing", [det(0, "couch", (0.45, 0.1)), det(10, "couch", (0.4, 0.5))],
     {}, {}),
    ("below min_area -> nothing", [det(0, "couch", (0.9, 0.01)), det(10, "couch", (0.9, 0.015))],
     {}, {}),
    ("a small box does not hide a large one", [det(0, "couch", (0.9, 0.01), (0.6, 0.2)),
                                               det(10, "couch", (0.7, 0.3))],
     {}, {"Couch": (2, ["couch"])}),
    ("per-class min_area 0", [det(0, "laptop", (0.6, 0.001)), det(10, "laptop", (0.6, 0.001))],
     {}, {"Laptop": (2, ["laptop"])}),
    ("unmapped class -> nothing", [det(0, "dog", (0.99, 0.5)), det(10, "dog", (0.99, 0.5))], {}, {}),
    ("two classes, one tag, own thresholds", [det(0, "car", (0.6, 0.1)), det(10, "truck", (0.6, 0.1)),
                                              det(20, "truck", (0.75, 0.1))],
     {}, {"Vehicle": (2, ["car", "truck"])}),
    ("too short for requiredDuration", [det(0, "couch", (0.9, 0.2))], {}, {}),
    ("threshold setting overrides min_confidence", [det(0, "couch", (0.45, 0.1)),
                                                    det(10, "couch", (0.45, 0.1))],
     {"threshold": 0.4}, {"Couch": (2, ["couch"])}),
    ("threshold setting raises it too", [det(0, "couch", (0.8, 0.1)), det(10, "couch", (0.8, 0.1))],
     {"threshold": 0.85}, {}),
]


@pytest.mark.parametrize("signals,values,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_object_findings_table(tmp_path, vocab_path, signals, values, expected):
    settings = settings_for(tmp_path, vocabularyFile=vocab_path, **values)
    found = object_findings(settings, load_vocabulary(vocab_path), SCENE, signals)
    got = {f.name: (f.detail["frames"], f.detail["classes"]) for f in found}
    assert got == expected
    for f in found:
        assert (f.kind, f.analyzer, f.category, f.markers) == ("tag", "objects", "objects", True)
        assert 0 < f.confidence <= 1 and f.segments
        if f.name == "Couch":
            assert f.aliases == ("Sofa",)


def test_findings_aggregate_over_time_into_segments(tmp_path, vocab_path):
    settings = settings_for(tmp_path, vocabularyFile=vocab_path, gapSeconds=10)
    signals = [det(t, "couch", (0.9, 0.1)) for t in (0, 10, 20, 60, 70)]
    (found,) = object_findings(settings, load_vocabulary(vocab_path), SCENE, signals)
    assert [(s.start, s.end) for s in found.segments] == [(0, 30), (60, 80)]
    assert found.detail["detected_seconds"] == 50
    assert found.confidence == pytest.approx(0.9)


def test_findings_recompute_from_the_store(tmp_path, vocab_path, analyzer):
    """Signals survive the SQLite store unchanged, so findings can be recomputed later."""
    from stash_sense.store import Store
    store = Store.in_dir(str(tmp_path))
    signals = [det(t, "couch", (0.9, 0.1), (0.3, 0.5)) for t in (0, 10, 20)]
    store.signals.save("1", "objects", analyzer.model_id, "sprite",
                       [(s.time, s.span, [s]) for s in signals])
    loaded = store.signals.load("1", "objects")
    assert object_findings(analyzer.ctx.settings, analyzer.ctx.vocabulary, SCENE, loaded) == \
        object_findings(analyzer.ctx.settings, analyzer.ctx.vocabulary, SCENE, signals)


# -- weights: resolution and the errors users see --------------------------------------------
def test_default_weights_by_device(tmp_path):
    cpu = resolve_weights("", "cpu", str(tmp_path))
    gpu = resolve_weights("", "cuda", str(tmp_path))
    assert (cpu.name, gpu.name) == ("yolo11n.pt", "yolo11s.pt")
    assert cpu.path == os.path.join(str(tmp_path), "yolo", "yolo11n.pt")
    assert cpu.url.startswith("https://github.com/ultralytics/assets/releases/download/")
    assert cpu.url.endswith("/yolo11n.pt")
    assert resolve_weights("yolo11m", "cpu", str(tmp_path)).name == "yolo11m.pt"


def test_offline_download_names_url_and_path(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", offline)
    settings = settings_for(tmp_path, yoloModel="yolo11s.pt")
    a = ObjectsAnalyzer(AnalyzerContext(settings, load_vocabulary(), "cpu"))
    with pytest.raises(ModelUnavailable) as err:
        a.load()
    target = os.path.join(str(tmp_path), "yolo", "yolo11s.pt")
    message = str(err.value)
    assert "https://github.com/ultralytics/assets/releases/download/" in message
    assert f"place it at {target}" in message
    assert not os.path.exists(target) and not os.path.exists(target + ".part")
    assert not os.path.exists(os.path.join(os.getcwd(), "yolo11s.pt"))


@pytest.mark.parametrize("value,error,text", [
    ("yolo99z.pt", SettingsError, "neither an existing file nor an official"),
    ("/nowhere/my-detector.pt", ModelUnavailable, "does not exist"),
])
def test_bad_yolo_model_setting(tmp_path, value, error, text):
    with pytest.raises(error, match=text):
        resolve_weights(value, "cpu", str(tmp_path))


def test_corrupt_weights_file(tmp_path):
    bad = tmp_path / "detector.pt"
    bad.write_bytes(b"not a checkpoint" * 100)
    settings = settings_for(tmp_path, yoloModel=str(bad))
    a = ObjectsAnalyzer(AnalyzerContext(settings, load_vocabulary(), "cpu"))
    with pytest.raises(ModelUnavailable, match="not a loadable YOLO checkpoint"):
        a.load()


# -- no network, no stdout --------------------------------------------------------------------
GUARDED = textwrap.dedent("""
    import json, socket, sys
    attempts = []
    def refuse(name):
        def call(*args, **kwargs):
            attempts.append([name, repr(args[:2])])
            raise OSError("network disabled by the test")
        return call
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.create_connection = refuse("create_connection")
    socket.socket.connect = refuse("connect")
    sys.path.insert(0, sys.argv[1])
    from PIL import Image
    from stash_sense.settings import load_settings
    from stash_sense.vocabulary import load_vocabulary
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.objects import ObjectsAnalyzer
    from stash_sense.frames.types import Frame
    settings = load_settings({}, {"yoloModel": "yolo11n.yaml", "modelDir": sys.argv[2]}, sys.argv[2])
    a = ObjectsAnalyzer(AnalyzerContext(settings, load_vocabulary(), "cpu"))
    a.load()
    a.analyze([Frame("1", 0, 0.0, 1.0, Image.new("RGB", (160, 90), (90, 120, 30)))])
    with open(sys.argv[3], "w") as fh:
        json.dump(attempts, fh)
""")


def test_no_network_and_nothing_on_stdout(tmp_path):
    """Ultralytics probes DNS on import, may pip-install, sync settings and print to stdout; none
    of it may happen on our code path."""
    report = tmp_path / "attempts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    proc = subprocess.run([sys.executable, "-c", GUARDED, ROOT, str(tmp_path / "models"),
                           str(report)], capture_output=True, timeout=300, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout == b""
    assert json.loads(report.read_text()) == []
    assert (tmp_path / "models" / "ultralytics").is_dir()     # its settings file is ours
    assert not any(p.suffix == ".pt" for p in tmp_path.iterdir())


def test_loading_yolo_leaves_pillow_s_image_open_alone(tmp_path):
    """ultralytics patches PIL.Image.open to pip-install pi-heif on unknown images; after our
    loader a corrupt sprite must still be a plain scene error."""
    import ultralytics.utils.patches  # noqa: F401 - the patch happens on import
    from PIL import Image

    from stash_sense.errors import FramesUnavailable
    from stash_sense.frames.sprite import decode_sprite
    from stash_sense.models.yolo import import_ultralytics
    import_ultralytics(str(tmp_path))
    assert Image.open.__module__.startswith("PIL")
    with pytest.raises(FramesUnavailable, match="corrupt"):
        decode_sprite(b"not an image at all")
