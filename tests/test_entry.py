"""The entry point and manifest, checked against how Stash loads and runs a raw plugin."""
import json
import os
import subprocess
import sys

import yaml

from tests.e2e import configure, require_schema
from tests.helpers.stash_manifest import assert_stash_loads
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin
from tests.standin.server import FakeStash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_entry(stdin: str):
    return subprocess.run([sys.executable, os.path.join(ROOT, "stash_sense.py")], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd="/")


def test_bad_stdin_gives_one_json_error():
    proc = run_entry("{not json")
    assert json.loads(proc.stdout)["error"].startswith("stdin is not the JSON Stash sends")


def test_unknown_mode_is_an_error_naming_the_known_ones():
    proc = run_entry(json.dumps({"server_connection": {}, "args": {"mode": "dance"}}))
    result = json.loads(proc.stdout)
    assert "unknown mode 'dance'" in result["error"] and "tag_tagme" in result["error"]
    assert "\x01e\x02unknown mode" in proc.stderr


def test_library_output_on_stdout_never_corrupts_the_result(tmp_path):
    require_schema()
    with FakeStash() as stash:
        jpeg, _ = synthetic_sprite(300, lambda t: (200, 10, 10))
        sid = stash.add_scene(sprite=jpeg, duration=300, vtt=lambda n: vtt_text(300, 160, 90, n))
        configure(stash, tmp_path, analyzers="tests.helpers.noisy:NoisyAnalyzer")
        run = run_plugin(stash, {"mode": "tag_scene", "scene_id": sid})
    assert run.stdout_was_json and run.error is None, run.stdout_raw
    assert run.output["tagged"] == 1
    assert "library banner on sys.stdout" in run.stderr_raw


def test_manifest_uses_only_keys_stash_accepts():
    """Stash decodes the yml strictly: an unknown key silently drops the plugin."""
    manifest = yaml.safe_load(open(os.path.join(ROOT, "stash_sense.yml")))
    assert_stash_loads(manifest)


def test_only_one_yml_in_the_plugin_folder():
    """Stash loads every .yml below its plugins folder as a plugin."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert [f for f in files if f.endswith(".yml")] == ["stash_sense.yml"]
