"""Face models through their real loading code: MTCNN (weights ship in facenet-pytorch) on a real
photograph, InceptionResnetV1 with random weights and from a checkpoint file, the errors an
install without facenet-pytorch or without the weights gets, and the analyzer's signals."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from stash_sense.errors import DependencyMissing, ModelUnavailable
from stash_sense.models import faces as models
from tests.helpers.faces import ASTRONAUT_FACE, ColourIdentity, astronaut, astronaut_crop, faceless, on_canvas

facenet = pytest.importorskip("facenet_pytorch")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def engine():
    from stash_sense.faces.engine import FaceEngine
    return FaceEngine(models.load_detector("cpu", 40), models.load_embedder(models.RANDOM, "cpu"),
                      models.embedder_id(models.RANDOM), "cpu", batch_size=4)


def test_mtcnn_finds_the_astronauts_face_and_nothing_in_faceless_images(engine):
    found = engine.detect([astronaut(), faceless("gradient"), faceless("plain")])
    assert [len(f) for f in found] == [1, 0, 0]
    face = found[0][0]
    assert face.prob > 0.99
    assert all(abs(a - b) <= 8 for a, b in zip(face.box, ASTRONAUT_FACE)), face.box
    assert tuple(face.crop.shape) == (3, 160, 160)
    assert -1.0 <= float(face.crop.min()) and float(face.crop.max()) <= 1.0   # standardised


def test_boxes_on_a_4k_frame_are_in_full_resolution_coordinates(engine):
    # detection runs on the frame scaled to 1280 px; the box must come back in 4K pixels
    frame = on_canvas(astronaut_crop(), size=(3840, 2160), at=(2000, 600), scale=3)
    (face,) = engine.detect([frame])[0]
    x1, y1, x2, y2 = face.box
    # the face sits at about (72..156, 64..176) in the crop, scaled x3 and moved by (2000, 600)
    assert 2000 + 3 * 60 < x1 < 2000 + 3 * 85 and 2000 + 3 * 145 < x2 < 2000 + 3 * 170
    assert 600 + 3 * 50 < y1 < 600 + 3 * 80 and 600 + 3 * 160 < y2 < 600 + 3 * 190


def test_random_weights_embed_through_the_real_loading_code(engine):
    (face,) = engine.detect([astronaut()])[0]
    emb = engine.embed([face.crop, face.crop.flip(-1)])
    assert emb.shape == (2, 512) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert engine.model_id == "facenet:InceptionResnetV1/random"
    assert not engine.embedder.training                   # eval mode: batch-norm statistics fixed


def test_a_checkpoint_in_the_model_dir_is_loaded_without_download(tmp_path, monkeypatch):
    torch.manual_seed(3)
    source = facenet.InceptionResnetV1(pretrained=None)
    state = dict(source.state_dict())
    state["logits.weight"] = torch.zeros(8631, 512)       # what the VGGFace2 file carries
    state["logits.bias"] = torch.zeros(8631)
    target = models.default_weights_path(str(tmp_path))
    os.makedirs(os.path.dirname(target))
    torch.save(state, target)
    monkeypatch.setattr(models, "download", lambda *a: pytest.fail("must not download"))

    weights = models.resolve_weights("", str(tmp_path))
    assert weights == target == str(tmp_path / "facenet" / "20180402-114759-vggface2.pt")
    model = models.load_embedder(weights, "cpu")
    assert torch.equal(model.last_linear.weight, source.last_linear.weight)
    assert models.embedder_id(weights) == "facenet:InceptionResnetV1/20180402-114759-vggface2"


def test_a_foreign_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(ModelUnavailable, match="not an InceptionResnetV1 checkpoint"):
        models.load_embedder(str(bad), "cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable, match="cannot be read"):
        models.load_embedder(str(tmp_path / "junk.pt"), "cpu")


def test_offline_names_the_url_and_the_exact_target_path(tmp_path):
    url = "http://127.0.0.1:9/20180402-114759-vggface2.pt"     # nothing listens on port 9
    with pytest.raises(ModelUnavailable) as err:
        models.resolve_weights("vggface2", str(tmp_path), url=url)
    target = str(tmp_path / "facenet" / "20180402-114759-vggface2.pt")
    assert url in str(err.value) and target in str(err.value)
    assert not os.path.exists(target) and not os.path.exists(target + ".part")
    with pytest.raises(ModelUnavailable, match="does not exist"):
        models.resolve_weights(str(tmp_path / "missing.pt"), str(tmp_path))
    assert models.resolve_weights("None", str(tmp_path)) == models.RANDOM


def test_without_facenet_pytorch_the_analyzer_says_how_to_install_it(monkeypatch):
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.faces import FacesAnalyzer
    from stash_sense.settings import Settings
    from stash_sense.vocabulary import load_vocabulary
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)   # import fails like when absent
    analyzer = FacesAnalyzer(AnalyzerContext(Settings(analyzers=("faces",)), load_vocabulary("")))
    with pytest.raises(DependencyMissing) as err:
        analyzer.load()
    assert "python -m pip install --no-deps facenet-pytorch==2.6.0" in str(err.value)


def test_analyzer_signals_carry_the_match_and_faces_are_kept(tmp_path, monkeypatch):
    """FacesAnalyzer.analyze on frames of two scenes: one signal per face with the two best
    performers; every face (matched or unknown) lands in the store's scene_faces."""
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.faces import FacesAnalyzer
    from stash_sense.faces.engine import FaceEngine
    from stash_sense.frames.types import Frame
    from stash_sense.references import StaticReferences
    from stash_sense.settings import Settings
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    from stash_sense.vocabulary import load_vocabulary

    store = Store(str(tmp_path / "s.sqlite"))
    faces = FaceStore(store)
    model_id = models.embedder_id(models.RANDOM)
    faces.set_names([("7", "Eileen"), ("8", "Cam")])
    faces.replace_profile("7", model_id, "1", [ColourIdentity.COLOUR], [0.99])
    faces.replace_profile("8", model_id, "1", [ColourIdentity.GREY], [0.99])
    monkeypatch.setattr(FaceEngine, "embed", lambda self, crops: ColourIdentity()(crops))
    settings = Settings(analyzers=("faces",), faceWeights="none", modelDir=str(tmp_path))
    analyzer = FacesAnalyzer(AnalyzerContext(settings, load_vocabulary(""),
                                             references=StaticReferences(store=store)))
    analyzer.load()
    frames = [Frame("1", 0, 10.0, 5.0, on_canvas(astronaut_crop()), "video"),
              Frame("1", 1, 15.0, 5.0, faceless("plain", (1280, 720)), "video"),
              Frame("2", 0, 3.0, 5.0, on_canvas(astronaut_crop(), at=(100, 300)), "video")]
    signals = analyzer.analyze(frames)
    assert [len(s) for s in signals] == [1, 0, 1]
    sig = signals[0][0]
    assert sig.key == "face" and sig.data["performer"] == "7" and sig.data["name"] == "Eileen"
    assert sig.data["second"] == "8" and sig.score > 0.9 and sig.data["second_score"] < 0.1
    kept = faces.scene_faces("1", model_id)
    assert [(k.time, k.performer_id) for k in kept] == [(10.0, "7")]
    assert faces.scene_faces("2", model_id)[0].embedding.shape == (512,)
