"""Check setup (`doctor`): every check says what it found and, when something is wrong, the action
that fixes it — without importing torch or any model library to find out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stash_sense.install import doctor
from stash_sense.install.doctor import Status, check_disk, check_ffmpeg, check_weights, run_checks
from stash_sense.install.location import write_pointer
from stash_sense.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "open_clip", "ultralytics", "facenet_pytorch", "onnxruntime",
         "rapidocr_onnxruntime", "rapidocr", "cv2")


def settings_for(tmp_path, **values):
    values = {"modelDir": str(tmp_path / "models"), "dataDir": str(tmp_path / "data"),
              "analyzers": "clip,objects,ocr,faces", **values}
    return load_settings({}, values, str(tmp_path / "plugin"))


def by_area(checks):
    return {c.area: c for c in checks}


def test_the_report_imports_no_model_library(tmp_path):
    code = ("import sys, json\n"
            "from stash_sense.install.doctor import run_checks\n"
            "from stash_sense.settings import load_settings\n"
            "s = load_settings({}, {'analyzers': 'clip,objects,ocr,faces', "
            f"'modelDir': {str(tmp_path)!r}}}, {str(tmp_path)!r})\n"
            "run_checks(s)\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_weights_on_disk_are_found_where_the_analyzers_look(tmp_path, monkeypatch):
    pytest.importorskip("numpy")
    models = tmp_path / "models"
    snapshot = models / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"w" * 1000)
    (models / "yolo").mkdir()
    (models / "yolo" / "yolo11n.pt").write_bytes(b"w" * 1000)
    (models / "facenet").mkdir()
    (models / "facenet" / "20180402-114759-vggface2.pt").write_bytes(b"w" * 1000)
    monkeypatch.setattr(doctor, "torch_build", lambda: "cpu")
    checks = by_area(check_weights(settings_for(tmp_path, device="cpu")))
    assert checks["weights: clip"].status is Status.OK
    assert "open_clip_model.safetensors" in checks["weights: clip"].detail
    assert checks["weights: objects"].status is Status.OK
    assert checks["weights: faces"].status is Status.OK
    if doctor.has_module("rapidocr"):
        assert checks["weights: ocr"].status is Status.OK


def test_missing_weights_say_which_task_fetches_them_or_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "resolves", lambda host, timeout=3.0: False)   # offline
    checks = by_area(check_weights(settings_for(tmp_path, device="cpu")))
    yolo = checks["weights: objects"]
    assert yolo.status is Status.PROBLEM
    assert str(tmp_path / "models" / "yolo" / "yolo11n.pt") in yolo.detail
    assert "Download and verify models" in yolo.fix and "where to put it" in yolo.fix
    monkeypatch.setattr(doctor, "resolves", lambda host, timeout=3.0: True)    # online
    faces = by_area(check_weights(settings_for(tmp_path, device="cpu")))["weights: faces"]
    assert faces.status is Status.WARN and "Download and verify models" in faces.fix
    missing = by_area(check_weights(settings_for(tmp_path, faceWeights=str(tmp_path / "no.pt"))))
    assert missing["weights: faces"].status is Status.PROBLEM
    assert "faceWeights" in missing["weights: faces"].fix


def test_analyzers_not_enabled_are_not_checked(tmp_path):
    areas = by_area(check_weights(settings_for(tmp_path, analyzers="ocr")))
    assert list(areas) == ["weights: ocr"]


def test_no_ffmpeg_is_a_problem_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    checks = by_area(check_ffmpeg())
    assert checks["ffmpeg"].status is Status.PROBLEM and "apt-get install ffmpeg" in checks["ffmpeg"].fix


def test_disk_used_by_models_data_and_the_environment(tmp_path):
    settings = settings_for(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.pt").write_bytes(b"x" * 3_000_000)
    (tmp_path / "plugin").mkdir()
    (tmp_path / "env" / "lib").mkdir(parents=True)
    (tmp_path / "env" / "lib" / "big.so").write_bytes(b"x" * 5_000_000)
    write_pointer(str(tmp_path / "plugin"), str(tmp_path / "env"), str(tmp_path / "env/bin/python"), "")
    (disk,) = check_disk(settings)
    assert "models 3 MB" in disk.detail and "data 0 MB" in disk.detail
    assert "environment 5 MB" in disk.detail


def test_missing_environment_and_packages_point_to_the_install_task(tmp_path):
    checks = by_area(run_checks(settings_for(tmp_path), plugins_path=str(tmp_path / "plugins")))
    env = checks["environment"]
    assert env.status is Status.WARN and "Install or repair dependencies" in env.fix
    assert str(tmp_path / "stash_sense_env") in env.detail
    (tmp_path / "plugin").mkdir()
    write_pointer(str(tmp_path / "plugin"), str(tmp_path / "gone"), str(tmp_path / "gone/bin/python"), "")
    gone = by_area(run_checks(settings_for(tmp_path)))["environment"]
    assert gone.status is Status.PROBLEM and "does not exist" in gone.detail
    assert checks["stash"].status is Status.INFO           # no server connection given


def test_a_cuda_device_without_an_nvidia_gpu_is_a_problem(tmp_path):
    from stash_sense.install.machine import detect_machine
    if detect_machine().nvidia or not doctor.torch_build():
        pytest.skip("needs a machine without an NVIDIA GPU, with torch installed")
    (device,) = doctor.check_device(settings_for(tmp_path, device="cuda"))
    assert device.status is Status.PROBLEM and "set device to auto" in device.fix


def test_stash_unreachable_is_reported_not_raised(tmp_path):
    from stash_sense.stash.client import StashClient
    (stash,) = doctor.check_stash(StashClient({"Host": "127.0.0.1", "Port": 1}))
    assert stash.status is Status.PROBLEM and "not reachable" in stash.detail


def test_the_command_prints_json_and_fails_on_problems(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stash_sense", "doctor", "--json",
                           "--model-dir", str(tmp_path), "--set", f"dataDir={tmp_path}",
                           "--set", f"faceWeights={tmp_path / 'none.pt'}", "--analyzers", "faces"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1 and summary["problems"] >= 1
    assert {"area", "status", "detail", "fix"} <= set(summary["checks"][0])
    assert os.path.basename(sys.executable) in summary["checks"][0]["detail"]
