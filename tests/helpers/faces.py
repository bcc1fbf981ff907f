"""Face test material: a real photograph that ships inside scikit-image (NASA's portrait of
astronaut Eileen Collins, skimage.data.astronaut()) and the cameraman (skimage.data.camera()),
faceless images, and a stand-in embedder for tests that need *recognition* results.

Why a stand-in embedder: the VGGFace2 weights cannot be downloaded here, and InceptionResnetV1
with random weights maps every face to (nearly) the same vector, so it cannot tell two people
apart. `ColourIdentity` replaces only `FaceEngine.embed`: detection, cropping, batching, the
store, matching and the writes all run for real. It reads the identity off the crop MTCNN made —
the astronaut's face is in colour, the cameraman's is grey — so a crop of the wrong region (or of
no face) gets the wrong identity and the test fails.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

ASTRONAUT_FACE = (180, 60, 268, 172)      # MTCNN's box on the 512x512 astronaut, +-8 px


def astronaut() -> Image.Image:
    from skimage import data
    return Image.fromarray(data.astronaut())


def cameraman() -> Image.Image:
    from skimage import data
    return Image.fromarray(data.camera()).convert("RGB")


def astronaut_crop() -> Image.Image:
    """Head and shoulders, like a performer's profile picture."""
    return astronaut().crop((110, 0, 350, 300))


def faceless(kind: str, size=(300, 400)) -> Image.Image:
    w, h = size
    if kind == "gradient":
        x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
        y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
        arr = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
        return Image.fromarray(arr.astype(np.uint8))
    if kind == "noise":
        rng = np.random.default_rng(7)
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return Image.new("RGB", size, (90, 120, 150))


def jpeg(image: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def on_canvas(face_image: Image.Image, size=(1280, 720), at=(700, 150), scale=1.0,
              background=(64, 64, 64)) -> Image.Image:
    canvas = Image.new("RGB", size, background)
    img = face_image.resize((round(face_image.width * scale), round(face_image.height * scale)))
    canvas.paste(img, at)
    return canvas


class ColourIdentity:
    """embed(crops) -> identity vectors: colourful crop -> COLOUR, grey crop -> GREY (+ a small
    deterministic perturbation from the crop's content, so no two crops are identical)."""
    DIM = 512
    COLOUR = np.eye(DIM, dtype=np.float32)[0]
    GREY = np.eye(DIM, dtype=np.float32)[1]

    def __init__(self):
        self.calls = 0
        self.crops = 0

    def saturation(self, crop) -> float:
        pixels = crop.detach().cpu().numpy() * 128.0 + 127.5          # undo the standardisation
        return float((pixels.max(axis=0) - pixels.min(axis=0)).mean() / 255.0)

    def __call__(self, crops) -> np.ndarray:
        self.calls += 1
        self.crops += len(crops)
        out = np.zeros((len(crops), self.DIM), np.float32)
        for i, crop in enumerate(crops):
            base = self.COLOUR if self.saturation(crop) > 0.06 else self.GREY
            noise = np.resize(crop.detach().cpu().numpy().ravel()[::97], self.DIM) * 0.02
            v = base + noise.astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out
