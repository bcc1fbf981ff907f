"""CLIP through the real open_clip loading code, with a tiny randomly initialised architecture."""
import os

import numpy as np
import pytest
from PIL import Image

from stash_sense.analyzers.base import AnalyzerContext
from stash_sense.errors import ModelUnavailable
from stash_sense.frames.types import Frame, SceneMedia
from stash_sense.settings import load_settings
from stash_sense.vocabulary import load_vocabulary

TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")
open_clip = pytest.importorskip("open_clip")


def analyzer(tmp_path, **overrides):
    from stash_sense.analyzers.clip import ClipAnalyzer
    args = {"clipModel": TINY, "clipPretrained": "none", "modelDir": str(tmp_path), **overrides}
    settings = load_settings({}, args, str(tmp_path))
    return ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(), device="cpu"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    a = analyzer(tmp_path_factory.mktemp("models"))
    a.load()
    return a


def frames(n=20, span=10.0):
    return [Frame("1", i, i * span, span, Image.new("RGB", (160, 90), (i * 10 % 255, 80, 200)))
            for i in range(n)]


def test_loads_once_and_names_the_model(tiny):
    model = tiny.model
    tiny.load()
    assert tiny.model is model
    assert tiny.model_id == "open_clip:tiny-clip/none"


def test_scores_are_a_softmax_within_each_exclusive_category(tiny):
    signals = tiny.analyze(frames(3))
    assert len(signals) == 3
    vocab = tiny.ctx.vocabulary
    env = {s.key: s.score for s in signals[0] if s.key in ("Indoors", "Outdoors")}
    assert sum(env.values()) == pytest.approx(1.0, abs=1e-5)   # no background label there
    location = [label.tag for c in vocab.categories if c.name == "location" for label in c.labels]
    loc_sum = sum(s.score for s in signals[0] if s.key in location)
    assert 0 < loc_sum < 1.0                                    # the background label takes a share
    assert all(s.key for s in signals[0])                       # background labels are never emitted


def test_batched_and_single_frame_scores_agree(tiny):
    many = tiny.analyze(frames(20))
    one = tiny.analyze(frames(20)[7:8])
    assert [round(s.score, 4) for s in many[7]] == [round(s.score, 4) for s in one[0]]


def test_findings_come_from_aggregation_over_time(tiny):
    signals = [s for per_frame in tiny.analyze(frames(60)) for s in per_frame]
    media = SceneMedia("1", "", 600.0, 1920, 1080, None, None, None, None)
    found = tiny.findings(media, signals)
    for f in found:
        assert f.kind == "tag" and 0 <= f.confidence <= 1
        assert f.detail["detected_seconds"] >= 0.15 * 600 - 1e-6


def test_text_embeddings_are_cached_on_disk_for_real_weights(tmp_path, monkeypatch):
    a = analyzer(tmp_path)
    a.load()
    emb = a._embed_texts(["a photo of a pool"], cache=True)
    files = os.listdir(tmp_path / "text-cache")
    assert len(files) == 1
    monkeypatch.setattr(a.model, "encode_text", lambda *_: (_ for _ in ()).throw(AssertionError))
    assert np.allclose(a._embed_texts(["a photo of a pool"], cache=True), emb)


@pytest.mark.parametrize("overrides, words", [
    ({"clipPretrained": "/nowhere/weights.bin"}, "does not exist"),
    ({"clipModel": "ViT-Nonexistent-99"}, "not an open_clip model"),
    ({"clipModel": "/nowhere/model.json"}, "does not exist"),
])
def test_missing_weights_or_models_say_what_to_do(tmp_path, overrides, words):
    with pytest.raises(ModelUnavailable) as err:
        analyzer(tmp_path, **overrides).load()
    assert words in str(err.value)


def test_offline_download_failure_names_source_and_destination(tmp_path, monkeypatch):
    def offline(*_a, **_k):
        raise RuntimeError("Failed to download weights: network is unreachable")
    monkeypatch.setattr(open_clip, "create_model_and_transforms", offline)
    with pytest.raises(ModelUnavailable) as err:
        analyzer(tmp_path, clipModel="ViT-B-32", clipPretrained="laion2b_s34b_b79k").load()
    text = str(err.value)
    assert "huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in text
    assert str(tmp_path) in text and "clipPretrained" in text
