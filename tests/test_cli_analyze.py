"""The newcomer's first command: analyze a generated sample without Stash, offline."""
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed")
def test_analyze_sample_finds_the_watermark_studio_and_reports_missing_weights(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "stash_sense", "analyze", "--sample", "--offline", "--json",
         "--analyzers", "ocr,clip", "--set", f"modelDir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)                      # stdout carries only the report
    ocr = report["analyzers"]["ocr"]
    [studio] = [f for f in ocr["findings"] if f["kind"] == "studio"]
    assert studio["name"] == "Acme Studios" and studio["segments"]
    clip = report["analyzers"]["clip"]
    assert "unavailable" in clip and "clipPretrained" in clip["unavailable"]


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed")
def test_missing_video_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stash_sense", "analyze", str(tmp_path / "x.mp4")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no such video file" in proc.stderr
