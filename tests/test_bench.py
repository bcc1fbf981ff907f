"""`python -m stash_sense bench` runs the real pipeline on synthetic scenes and prints its tables.
No timing is asserted: speed is what the command reports, not what a test demands."""
from __future__ import annotations

import json
import os
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("ultralytics")

from stash_sense.__main__ import main  # noqa: E402
from stash_sense.cli.bench import per_scene_halves  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CLIP = os.path.join(ROOT, "tests", "fixtures", "tiny-clip.json")


def test_bench_prints_every_row(tmp_path, capfd):
    code = main(["bench", "--scenes", "2", "--analyzers", "clip,objects", "--device", "cpu",
                 "--model-dir", str(tmp_path), "--set", f"clipModel={TINY_CLIP}",
                 "--random-weights", "--yolo-sizes", "160,320"])
    out, err = capfd.readouterr()
    assert code == 0, err[-3000:]
    assert out.startswith("Stash Sense benchmark: 2 scenes, cpu")
    assert "random weights (same architecture and compute, meaningless findings): clip, objects" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    for name in ("clip", "objects", "bare CLIP image encoder (batch 16)",
                 "seconds per scene (wall)", "CPU seconds per scene (all threads)",
                 "inference per scene", "overhead outside inference per scene",
                 "stage seconds per scene (fetch+decode runs ahead in a thread)",
                 "CLIP analyzer / bare encoder throughput", "model loads (load time)",
                 "Stash requests per scene", "peak memory (RSS)", "scenes tagged / errored"):
        assert name in rows, f"missing row {name!r} in\n{out}"
    assert "| 2 / 0" in rows["scenes tagged / errored"]
    assert "clip 1, objects 1" in rows["model loads (load time)"]
    assert "ultralytics:yolo11n.yaml/random" in rows["objects"]
    assert "| 81 " in rows["clip"]                      # 81 sprite frames per scene
    in_pipeline = [c.strip() for c in rows["clip"].split("|")[1:-1]][4]
    assert in_pipeline != "-" and float(in_pipeline) > 0   # CLIP's calls in the pipeline are timed
    assert "320x192" in rows["320"] and "160x96" in rows["160"]   # sprite tile 160x90 letterboxed


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="the video frame source needs ffmpeg")
def test_bench_json_with_video_frames(tmp_path, capfd):
    code = main(["bench", "--scenes", "1", "--analyzers", "ocr", "--clip-seconds", "6",
                 "--device", "cpu", "--model-dir", str(tmp_path), "--set", "videoFrames=2", "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err[-3000:]
    report = json.loads(out)
    assert report["frames_per_scene"] == {"ocr": 2}
    assert report["pipeline"]["tagged"] == 1 and report["pipeline"]["errored"] == []
    assert report["model_loads"] == {"ocr": 1}
    assert report["stash_requests"]["StashSenseGeneralConfig"] >= 1     # ffmpeg located like in Stash
    assert report["peak_rss_mb"] > 0


@pytest.mark.parametrize("marks,n,expected", [
    ([float(i) for i in range(1, 21)], 20, (1.0, 1.0)),                     # flat
    ([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7], 20, (2 / 8, 4 / 8)),
    ([1.0] * 8, 8, None),                                                    # too few scenes
])
def test_per_scene_halves(marks, n, expected):
    got = per_scene_halves(marks, n)
    assert got == (pytest.approx(expected) if expected else None)
