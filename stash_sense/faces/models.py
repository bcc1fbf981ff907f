"""Load facenet-pytorch's MTCNN (detector) and InceptionResnetV1 (embedder) from places we control.

Why not `InceptionResnetV1(pretrained='vggface2')`: it downloads into torch's hub directory with no
timeout and no way to point it at a file, so an offline install can only fail obscurely. Instead
the VGGFace2 checkpoint goes into `<modelDir>/facenet/` (downloaded on first use, with a timeout,
atomically), or the `faceWeights` setting names a local file, or `faceWeights=none` gives random
weights through this same code (tests, benchmarks). MTCNN's weights ship inside the wheel.

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


def resolve_weights(setting: str, model_dir: str, url: str = WEIGHTS_URL) -> str:
    """faceWeights setting -> RANDOM or an existing checkpoint file (downloaded when needed)."""
    setting = (setting or "").strip()
    if setting.lower() == RANDOM:
        return RANDOM
    if setting:
        if not os.path.isfile(setting):
            raise ModelUnavailable(f"faceWeights file {setting!r} does not exist; download "
                                   f"{url} and set faceWeights to its full path")
        return setting
    target = default_weights_path(model_dir)
    if not os.path.isfile(target):
        download(url, target)
    return target


def download(url: str, target: str) -> None:
    """Fetch `url` into `target` atomically (a .part file renamed at the end)."""
    import requests  # noqa: PLC0415

    from .. import log  # noqa: PLC0415
    hint = (f"download {url} and put it at {target} (or set faceWeights to the file's full path)")
    part = target + ".part"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        log.info(f"downloading face recognition weights from {url} to {target}")
        with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status_code != 200:
                raise ModelUnavailable(f"face recognition weights: HTTP {response.status_code} "
                                       f"from {url}; {hint}")
            with open(part, "wb") as out:
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
                                   f"({type(exc).__name__}); delete it and download "
                                   f"{WEIGHTS_URL} again") from None
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
