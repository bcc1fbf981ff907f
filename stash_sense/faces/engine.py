"""Detect faces (MTCNN) and embed them (InceptionResnetV1): the only code that runs face models.

Detection runs on the frame scaled so its longer side is at most DETECT_SIDE px: MTCNN's pyramid
starts at 12/min_face_size of the input, so a 4K frame would cost ~9x a 720p one for the same
faces. Boxes are mapped back and the 160x160 crop is taken from the full-resolution image, aligned
as MTCNN gives it (box crop, no landmark warp), standardised like facenet-pytorch does, with the
network's crop margin (models/faces.py crop_margin).
Frames of equal size are detected as one batch; crops are embedded in batches of `batch_size`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..models.device import batch_size_for
from ..models.faces import FACES, MIN_FACE_PX, crop_margin
from ..settings import Settings

DETECT_SIDE = 1280       # longer side of the image MTCNN sees (MIN_FACE_PX: the smallest face)
MIN_PROB = 0.95          # MTCNN's final-stage probability a face must reach
CROP = 160               # InceptionResnetV1's input size


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2 in the original image
    prob: float
    crop: object = field(repr=False, compare=False)   # torch tensor 3x160x160, standardised

    @property
    def size(self) -> float:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class FaceEngine:
    def __init__(self, detector, embedder, model_id: str, device: str = "cpu",
                 batch_size: int = 16, min_prob: float = MIN_PROB):
        import torch  # noqa: PLC0415
        from facenet_pytorch import extract_face, fixed_image_standardization  # noqa: PLC0415
        self.torch = torch
        self._extract = extract_face
        self._standardise = fixed_image_standardization
        self.detector, self.embedder = detector, embedder
        self.model_id = model_id
        self.device = device
        self.batch_size = max(1, batch_size)
        self.min_prob = min_prob
        self.crop_margin = crop_margin(model_id)   # part of the network's recipe

    @classmethod
    def load(cls, settings: Settings, device: str) -> FaceEngine:
        """The face family's networks per the faceWeights setting (converted or downloaded on
        first use), batched as every model is (models/device.py); raises EnvironmentProblem."""
        networks = FACES.load(settings, device)
        return cls(networks.detector, networks.embedder, networks.model_id, device,
                   batch_size_for(settings, device))

    # -- detection --------------------------------------------------------------------------------
    def detect(self, images: Sequence[Image.Image]) -> list[list[DetectedFace]]:
        """Faces per image (largest first), each at least MIN_FACE_PX and MIN_PROB."""
        scaled: list[tuple[Image.Image, float]] = []
        for image in images:
            image = image.convert("RGB") if image.mode != "RGB" else image
            factor = min(1.0, DETECT_SIDE / max(image.size))
            small = image if factor == 1.0 else image.resize(
                (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                Image.BILINEAR)
            scaled.append((small, factor))
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, (small, _) in enumerate(scaled):
            by_size[small.size].append(index)
        results: list[list[DetectedFace]] = [[] for _ in images]
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                boxes, probs = self.detector.detect([scaled[i][0] for i in chunk])
                for i, image_boxes, image_probs in zip(chunk, boxes, probs):
                    results[i] = self._faces(images[i], scaled[i][1], image_boxes, image_probs)
        return results

    def _faces(self, image: Image.Image, factor: float, boxes, probs) -> list[DetectedFace]:
        if boxes is None:
            return []
        image = image.convert("RGB") if image.mode != "RGB" else image
        faces = []
        for box, prob in zip(boxes, probs):
            if prob is None or float(prob) < self.min_prob:
                continue
            small = np.asarray(box, dtype=np.float64)
            if min(small[2] - small[0], small[3] - small[1]) < MIN_FACE_PX * 0.8:
                continue   # MTCNN's pyramid lets a little smaller through; keep the promise
            full = small / factor
            crop = self._standardise(self._extract(image, full, CROP, self.crop_margin))
            x0, y0, x1, y1 = (round(float(v), 1) for v in full)
            faces.append(DetectedFace((x0, y0, x1, y1), float(prob), crop))
        return faces

    # -- embedding --------------------------------------------------------------------------------
    def embed(self, crops: Sequence[object]) -> np.ndarray:
        """Unit-length 512-d embeddings, one row per crop (float32)."""
        torch = self.torch
        if not crops:
            return np.zeros((0, 512), np.float32)
        out = []
        with torch.no_grad():
            for start in range(0, len(crops), self.batch_size):
                batch = torch.stack(list(crops[start:start + self.batch_size])).to(self.device)
                out.append(self.embedder(batch).float().cpu().numpy())
        emb = np.concatenate(out).astype(np.float32)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def faces_with_embeddings(self, images: Sequence[Image.Image]
                              ) -> list[list[tuple[DetectedFace, np.ndarray]]]:
        """detect + embed in one go: per image, (face, embedding) pairs."""
        detected = self.detect(images)
        flat = [f for faces in detected for f in faces]
        emb = self.embed([f.crop for f in flat])
        result, row = [], 0
        for faces in detected:
            result.append([(f, emb[row + k]) for k, f in enumerate(faces)])
            row += len(faces)
        return result
