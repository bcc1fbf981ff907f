"""The accelerated CLIP image encoders give torch's embeddings, through the real open_clip model,
the real ONNX export and the real runtimes, on real photographs (scikit-image's samples).

Two models: the tiny config (tests/fixtures/tiny-clip.json) and the CPU default ViT-B-32, both with
random weights (no CLIP weights can be downloaded here). No timing is asserted."""
from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("open_clip")
pytest.importorskip("onnxruntime")
skimage_data = pytest.importorskip("skimage.data")

from stash_sense.analyzers import clip_backends  # noqa: E402
from stash_sense.analyzers.base import AnalyzerContext  # noqa: E402
from stash_sense.analyzers.clip_backends import MIN_COSINE, ClipBackend  # noqa: E402
from stash_sense.frames.types import Frame  # noqa: E402
from stash_sense.settings import CLIP_BACKENDS, load_settings  # noqa: E402
from stash_sense.vocabulary import load_vocabulary  # noqa: E402

TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny-clip.json")


def photographs() -> list[Image.Image]:
    """Whole photographs and sprite-sized 160x90 tiles cut from them (what the analyzer sees)."""
    names = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "immunohistochemistry")
    images = [Image.fromarray(getattr(skimage_data, n)()).convert("RGB") for n in names]
    tiles = [img.resize((160, 90)) for img in images]
    return images + tiles


def frames_of(images) -> list[Frame]:
    # distinct scenes: tile skipping must not pair them
    return [Frame(str(i), 0, 0.0, 1.0, img) for i, img in enumerate(images)]


def clip(model_dir, model: str, backend: str, **extra):
    from stash_sense.analyzers.clip import ClipAnalyzer
    settings = load_settings({}, {"clipModel": model, "clipPretrained": "none",
                                  "modelDir": str(model_dir), "clipBackend": backend, **extra},
                             str(model_dir))
    analyzer = ClipAnalyzer(AnalyzerContext(settings, load_vocabulary(), device="cpu"))
    analyzer.load()
    return analyzer


def available(backend: str) -> bool:
    module = {"onnx": "onnxruntime", "openvino": "openvino"}[backend]
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module", params=[TINY, "ViT-B-32"], ids=["tiny", "ViT-B-32"])
def reference(request, model_dir):
    """torch's embeddings of the photographs (the analyzer on clipBackend=torch)."""
    torch_clip = clip(model_dir, request.param, "torch")
    return request.param, torch_clip._encode(frames_of(photographs()))


def test_settings_list_every_backend():
    assert CLIP_BACKENDS == ClipBackend.names()


def test_numpy_preprocessing_gives_open_clip_transform_pixels():
    import open_clip
    import torch

    from stash_sense.analyzers.clip_preprocess import ClipPreprocess
    for size in (224, 64):
        transform = open_clip.image_transform(size, is_train=False)
        fast = ClipPreprocess.from_open_clip(transform)
        assert fast is not None, "open_clip's eval transform must take the fast path"
        images = photographs() + [photographs()[0].convert("L"), Image.new("RGB", (90, 160))]
        expected = torch.stack([transform(i) for i in images]).numpy()
        got = fast(images)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-5


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_accelerated_encoder_reproduces_torch_embeddings(reference, model_dir, backend):
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    model, expected = reference
    fast = clip(model_dir, model, backend)
    assert fast.encoder.backend == ClipBackend(backend)
    got = fast._encode(frames_of(photographs()))
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() >= MIN_COSINE, cosines
    # and the scores the analyzer stores agree as closely
    assert np.abs(fast.scores(got) - fast.scores(expected)).max() < 1e-3


def test_export_is_built_once_per_model_owner_only_and_reused(model_dir, monkeypatch):
    first = clip(model_dir, TINY, "onnx")
    target = first.factory.target_dir
    assert os.path.dirname(target) == os.path.join(str(model_dir), clip_backends.EXPORT_DIR)
    assert os.path.basename(target).startswith("tiny-clip-")
    mode = stat.S_IMODE(os.stat(os.path.join(target, "model.onnx")).st_mode)
    assert mode & 0o077 == 0, oct(mode)
    import torch

    def no_export(*_a, **_k):
        raise AssertionError("exported again")
    monkeypatch.setattr(torch.onnx, "export", no_export)
    again = clip(model_dir, TINY, "onnx")
    assert again.factory.target_dir == target


def test_other_weights_get_their_own_export(model_dir):
    import torch
    a = clip(model_dir, TINY, "onnx")
    with torch.no_grad():
        for p in a.model.visual.parameters():
            p.add_(0.01)
    assert clip_backends.weights_digest(a.model.visual) != os.path.basename(
        a.factory.target_dir).rsplit("-", 1)[1]


def test_auto_picks_a_checked_backend_once_and_remembers_it(tmp_path, monkeypatch):
    chosen = clip(tmp_path, TINY, "auto")
    choice = os.path.join(chosen.factory.target_dir, clip_backends.CHOICE_FILE)
    assert os.path.isfile(choice)
    assert stat.S_IMODE(os.stat(choice).st_mode) & 0o077 == 0

    def no_measuring(*_a, **_k):
        raise AssertionError("measured again")
    monkeypatch.setattr(clip_backends, "measure_fps", no_measuring)
    others = {ClipBackend.ONNX: "OnnxRuntimeEncoder", ClipBackend.OPENVINO: "OpenVinoEncoder"}
    for backend, cls in others.items():       # only the remembered runtime is built again
        if backend != chosen.encoder.backend:
            monkeypatch.setattr(clip_backends, cls, no_measuring)
    again = clip(tmp_path, TINY, "auto")
    assert again.encoder.backend == chosen.encoder.backend


def test_auto_falls_back_to_torch_without_runtimes(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)     # import fails as if not installed
    monkeypatch.setitem(sys.modules, "openvino", None)
    analyzer = clip(tmp_path, TINY, "auto")
    assert analyzer.encoder.backend == ClipBackend.TORCH
    assert len(analyzer._encode(frames_of(photographs()[:3]))) == 3


def test_an_explicit_backend_that_is_missing_stops_with_what_to_do(tmp_path, monkeypatch):
    from stash_sense.errors import DependencyMissing
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(DependencyMissing) as err:
        clip(tmp_path, TINY, "openvino")
    assert "openvino" in str(err.value)


def test_an_encoder_that_drifts_from_torch_is_refused(tmp_path, monkeypatch):
    """The check is real: an encoder whose output differs is not used (auto) or stops (explicit)."""
    from stash_sense.errors import ModelUnavailable
    real_call = clip_backends.OnnxRuntimeEncoder.__call__

    def drifted(self, pixels):
        out = real_call(self, pixels)
        return out + np.random.default_rng(0).normal(0, 0.2 * np.abs(out).mean(), out.shape)
    monkeypatch.setattr(clip_backends.OnnxRuntimeEncoder, "__call__", drifted)
    with pytest.raises(ModelUnavailable) as err:
        clip(tmp_path, TINY, "onnx")
    assert "does not reproduce torch" in str(err.value) and "clipBackend=torch" in str(err.value)
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert clip(tmp_path, TINY, "auto").encoder.backend == ClipBackend.TORCH


def test_int8_is_an_opt_in_that_still_gives_unit_embeddings(tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    analyzer = clip(tmp_path, TINY, "onnx-int8")
    assert analyzer.encoder.backend == ClipBackend.ONNX_INT8
    emb = analyzer._encode(frames_of(photographs()[:4]))
    assert emb.shape[0] == 4 and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert os.path.isfile(os.path.join(analyzer.factory.target_dir, "model-int8.onnx"))


def test_batches_and_order_are_kept(model_dir):
    """One row per frame, in order, whatever the batch size (the contract of _encode)."""
    one = clip(model_dir, TINY, "onnx", batchSize=1)
    many = clip(model_dir, TINY, "onnx", batchSize=5)
    frames = frames_of(photographs())
    a, b = one._encode(frames), many._encode(frames)
    assert a.shape == b.shape == (len(frames), a.shape[1])
    assert (a * b).sum(axis=1).min() >= MIN_COSINE
    assert many._encode(frames[3:4])[0] @ b[3] >= MIN_COSINE


def test_an_export_directory_that_lost_its_model_is_rebuilt(tmp_path):
    first = clip(tmp_path, TINY, "onnx")
    target = first.factory.target_dir
    for name in os.listdir(target):
        if name.startswith("model.onnx"):
            os.remove(os.path.join(target, name))
    open(os.path.join(target, clip_backends.CHOICE_FILE), "w").write("{}")   # a leftover
    again = clip(tmp_path, TINY, "onnx")
    assert os.path.isfile(os.path.join(target, "model.onnx"))
    frames = frames_of(photographs()[:2])
    assert (again._encode(frames) * first._encode(frames)).sum(axis=1).min() >= MIN_COSINE
    assert not [n for n in os.listdir(os.path.dirname(target)) if n.startswith(".")]
