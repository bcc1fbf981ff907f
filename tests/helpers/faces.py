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
import os

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


# -- real photographs (../shared/data/faces, read-only; tests skip when it is absent) -------------
REAL_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                         "data", "faces"))
HAMILTON = os.path.join(REAL_DIR, "more", "short_hamilton_clip.mp4")
HAMILTON_LIN = (3.0, 7.0)      # seconds in which Lin-Manuel Miranda is on screen (data README)

# photo -> who is in it, left to right (the largest faces; smaller background faces are ignored)
GALLERY_PHOTOS = {
    "alex_lacamoire": ["train/alex_lacamoire/img1.jpg"],
    "biden": ["train/biden/biden.jpg", "train/biden/biden2.jpg"],
    "kit_harington": ["train/kit_harington/john1.jpeg", "train/kit_harington/john2.jpeg"],
    "obama": ["train/obama/obama.jpg", "train/obama/obama2.jpg"],
    "rose_leslie": ["train/rose_leslie/img1.jpg", "train/rose_leslie/img2.jpg"],
    "lin_manuel_miranda": ["more/lin-manuel-miranda.png"],
}
PROBE_PHOTOS = {
    "test/alex_lacamoire1.jpg": ["alex_lacamoire"],
    "test/johnsnow_test1.jpg": ["kit_harington"],
    "test/obama1.jpg": ["obama"],
    "test/obama_and_biden.jpg": ["biden", "obama"],
    "test/kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "more/two_people.jpg": ["obama", "biden"],
    "more/alex-lacamoire.png": ["alex_lacamoire"],
    "more/obama-240p.jpg": ["obama"],
    "more/obama-720p.jpg": ["obama"],
    "more/obama3.jpg": ["obama"],
}


def real_available() -> bool:
    return os.path.isdir(REAL_DIR)


def real_photo(relative: str) -> Image.Image:
    with Image.open(os.path.join(REAL_DIR, relative)) as image:
        return image.convert("RGB")


def labelled(engine, photos: dict[str, list[str]]) -> list[tuple[str, str, object, np.ndarray]]:
    """(person, photo, DetectedFace, embedding) for each named face of each photo: the
    len(names) largest faces, sorted left to right, get the names in order."""
    out = []
    for photo, names in photos.items():
        (found,) = engine.faces_with_embeddings([real_photo(photo)])
        largest = sorted(found, key=lambda fe: -fe[0].area)[:len(names)]
        if len(largest) < len(names):
            continue
        for name, (face, emb) in zip(names, sorted(largest, key=lambda fe: fe[0].box[0])):
            out.append((name, photo, face, emb))
    return out


def gallery_faces(engine) -> list[tuple[str, str, object, np.ndarray]]:
    return labelled(engine, {p: [name] for name, ps in GALLERY_PHOTOS.items() for p in ps})
