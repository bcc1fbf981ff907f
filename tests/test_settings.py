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
