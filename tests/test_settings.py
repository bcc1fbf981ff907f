import pytest
import yaml

from stash_sense.errors import SettingsError
from stash_sense.settings import SETTING_KEYS, load_settings, parse_duration


def test_defaults_then_stash_settings_then_task_args():
    s = load_settings({"gapSeconds": 12, "createMarkers": False, "analyzers": "CLIP, ocr"},
                      {"gapSeconds": "20", "mode": "tag_tagme"}, "/plugins/stash_sense")
    assert s.gapSeconds == 20.0
    assert s.createMarkers is False
    assert s.analyzers == ("clip", "ocr")
    assert s.requiredDuration == "15%"
    assert s.model_dir == "/plugins/stash_sense/models"


def test_numbers_arrive_as_int_or_float_and_empty_means_default():
    s = load_settings({"videoFrames": 6.0, "threshold": 1, "batchSize": ""}, {}, "/p")
    assert s.videoFrames == 6 and isinstance(s.videoFrames, int)
    assert s.threshold == 1.0 and s.batchSize == 0


@pytest.mark.parametrize("stored, words", [
    ({"device": "gpu"}, "'device' must be one of auto, cpu, cuda, mps"),
    ({"ocrEngine": "tesseract"}, "'ocrEngine'"),
    ({"gapSeconds": "soon"}, "'gapSeconds' must be a number"),
    ({"createMarkers": "maybe"}, "'createMarkers' must be true or false"),
    ({"requiredDuration": "lots"}, "'requiredDuration'"),
    ({"threshold": 3}, "confidences in [0, 1]"),
    ({"taggedTag": "StashSense_TagMe"}, "must all differ"),
])
def test_bad_values_are_named(stored, words):
    with pytest.raises(SettingsError) as err:
        load_settings(stored, {}, "/p")
    assert words in str(err.value)


@pytest.mark.parametrize("text, seconds", [("30", 30), ("30s", 30), ("15%", 90), (" 50 % ", 300)])
def test_durations(text, seconds):
    assert parse_duration(text, 600) == pytest.approx(seconds)


def test_every_setting_is_declared_in_the_manifest_and_vice_versa():
    import os
    manifest = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "stash_sense.yml")))
    declared = manifest["settings"]
    assert set(declared) == set(SETTING_KEYS)
    for key, spec in declared.items():
        assert spec["type"] in ("STRING", "NUMBER", "BOOLEAN") and spec["displayName"], key


def test_every_setting_is_documented_in_the_readme():
    import os
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    missing = [k for k in SETTING_KEYS if f"`{k}`" not in readme]
    assert missing == []


# -- issue #8 case 10: numbers that are not numbers ----------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("batchSize", "inf"), ("batchSize", float("inf")), ("videoFrames", "1e400"),
    ("videoFrames", 10 ** 400), ("gapSeconds", "nan"), ("gapSeconds", float("nan")),
    ("threshold", "NaN"), ("studioMinScore", "-inf"), ("minSegmentSeconds", -5),
    ("faceMinFrames", "-1"), ("batchSize", 10 ** 9), ("videoFrames", "1e9"),
    ("studioMinScore", 250), ("gapSeconds", 1e12), ("videoFrames", 2.5), ("requiredDuration", "nan"),
    ("requiredDuration", "inf%"), ("requiredDuration", "-10s"), ("requiredDuration", "150%"),
], ids=lambda v: repr(v)[:20])
def test_numbers_that_are_not_numbers_or_absurd_are_named(key, value):
    with pytest.raises(SettingsError) as err:
        load_settings({key: value}, {}, "/p")
    assert repr(key) in str(err.value)


@pytest.mark.parametrize("key, value, expected", [
    ("batchSize", "64", 64), ("videoFrames", 16.0, 16), ("gapSeconds", "0", 0.0),
    ("studioMinScore", 100, 100.0), ("requiredDuration", "100%", "100%"),
])
def test_sensible_numbers_still_pass(key, value, expected):
    assert getattr(load_settings({key: value}, {}, "/p"), key) == expected


@pytest.mark.parametrize("args", [{"batchSize": "inf"}, {"videoFrames": "1e400"},
                                  {"gapSeconds": "NaN"}, {"videoFrames": "-3"}])
def test_a_bad_number_stops_the_task_before_any_change(tmp_path, args):
    """Through the plugin entry as Stash runs it: a task error naming the key, zero mutations."""
    from tests.e2e import configure, mutations, require_schema
    from tests.standin.media import synthetic_sprite, vtt_text
    from tests.standin.runner import run_plugin
    from tests.standin.server import FakeStash
    require_schema()
    with FakeStash() as stash:
        tagme = stash.add_tag("StashSense_TagMe")
        jpeg, _ = synthetic_sprite(600, lambda t: (230, 20, 20))
        stash.add_scene("red", sprite=jpeg, vtt=lambda n: vtt_text(600, 160, 90, n),
                        tag_ids=[tagme])
        configure(stash, tmp_path, analyzers="tests.helpers.scripted:ColorAnalyzer")
        run = run_plugin(stash, {"mode": "tag_tagme", **args})
        [key] = args
        assert run.error and f"setting {key!r}" in run.error, run.log_text()
        assert "internal error" not in run.error
        assert mutations(stash) == []
        assert stash.schema_violations == [] and stash.internal_errors == []
