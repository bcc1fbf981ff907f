"""Performers by face: MTCNN detection + InceptionResnetV1 embeddings on full-resolution frames,
matched against the face gallery built from the user's own performers (task build_gallery).

Source "video": sprite tiles are 160 px wide, so faces on them are ~15-25 px — too small to
recognise. Each detected face becomes one signal (key "face", score = cosine to the best
performer) whose data keeps the box, the detection probability and the two best performers, so
findings (faces.match.performers_seen: N-frame agreement, margin, confidence) can be recomputed
from the store with other thresholds. Every face's embedding is kept in the store's scene_faces
table (performer or unknown) for later clustering. Nothing leaves the machine.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .. import log
from ..aggregate.timeline import centred_segments
from ..faces.match import (
    FaceMatch,
    FaceVerdict,
    Gallery,
    MatchRule,
    Observation,
    match_faces,
    performers_seen,
    rule_for,
)
from ..findings import Finding, Signal
from ..frames.types import Frame, SceneMedia
from ..kinds import Kind
from ..models.faces import import_facenet
from .base import Analyzer

CATEGORY = "performers"


def rule_from_settings(settings, model_id: str) -> MatchRule:
    """The measured rule of the embedding network, with the user's faceMinFrames."""
    return rule_for(model_id, settings.faceMinFrames)


class FacesAnalyzer(Analyzer):
    name = "faces"
    source = "video"

    def _load(self) -> None:
        import_facenet()                 # DependencyMissing with the --no-deps command
        from ..faces.engine import FaceEngine  # noqa: PLC0415 - imports torch
        settings = self.ctx.settings
        self.engine = FaceEngine.load(settings, self.ctx.device)
        self.rule = rule_from_settings(settings, self.engine.model_id)
        galleries = getattr(self.ctx.references, "gallery", None) or {}
        self.gallery: Gallery = galleries.get(self.engine.model_id) or Gallery.from_rows([])
        if not len(self.gallery):
            other = sorted(m for m, g in galleries.items() if len(g))
            why = (f"the gallery was built with {', '.join(other)}, and faces of one network are "
                   f"never compared with another's" if other else "no gallery was built yet")
            log.warning(f"the face gallery for {self.engine.model_id} is empty ({why}): faces "
                        "will be detected and kept, but no performer can be suggested until the "
                        "task 'Build face gallery' has run")
        else:
            log.info(f"face gallery: {len(self.gallery)} performers, "
                     f"{len(self.gallery.matrix)} faces")

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    def analyze(self, frames: Sequence[Frame]) -> list[list[Signal]]:
        per_frame = self.engine.faces_with_embeddings([f.image for f in frames])
        flat = [emb for faces in per_frame for _, emb in faces]
        import numpy as np  # noqa: PLC0415
        matches = match_faces(np.stack(flat), self.gallery) if flat else []
        signals: list[list[Signal]] = []
        kept: dict[str, list] = defaultdict(list)
        row = 0
        for frame, faces in zip(frames, per_frame):
            out = []
            for idx, (face, emb) in enumerate(faces):
                m = matches[row]
                row += 1
                if face.size < self.rule.min_face:
                    m = FaceMatch(None, 0.0)        # too small to recognise reliably (measured)
                out.append(Signal(frame.time, frame.span, "face", round(m.score, 4), {
                    "box": list(face.box), "prob": round(face.prob, 4),
                    "performer": m.best, "name": self.gallery.names.get(m.best or "", ""),
                    "second": m.second, "second_score": round(m.second_score, 4)}))
                voted = m.best if m.verdict(self.rule) is FaceVerdict.VOTE else None
                kept[frame.scene_id].append((frame.time, idx, face.box, face.prob, voted,
                                             m.score, emb,
                                             None if voted else crop_jpeg(face.crop)))
            signals.append(out)
        self._keep_faces(frames, kept)
        return signals

    def _keep_faces(self, frames: Sequence[Frame], kept: dict[str, list]) -> None:
        store = getattr(self.ctx.references, "store", None)
        if store is None:
            return
        from ..store.faces import FaceStore  # noqa: PLC0415
        faces = FaceStore(store)
        for scene_id in dict.fromkeys(f.scene_id for f in frames):
            faces.save_scene_faces(scene_id, self.model_id, kept.get(scene_id, []))

    def findings(self, scene: SceneMedia, signals: Sequence[Signal]) -> list[Finding]:
        return face_findings(self.rule, signals, scene.duration)


CROP_SIDE = 96        # px of the JPEG kept for an unknown face (the unknown-faces page)


def crop_jpeg(crop) -> bytes | None:
    """The embedder's standardised 160x160 crop back to a small JPEG (store only, data dir)."""
    import io  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415
    try:
        pixels = crop.detach().cpu().numpy().transpose(1, 2, 0) * 128.0 + 127.5
    except AttributeError:
        return None
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).resize(
        (CROP_SIDE, CROP_SIDE), Image.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def observations(signals: Sequence[Signal]) -> list[Observation]:
    out = []
    for s in signals:
        if s.key != "face" or not s.data:
            continue
        d = s.data
        box = d.get("box")
        out.append(Observation(s.time, s.span, FaceMatch(d.get("performer"), float(s.score),
                                                         d.get("second"),
                                                         float(d.get("second_score") or 0.0)),
                               tuple(box) if box and len(box) == 4 else None))
    return out


def face_findings(rule: MatchRule, signals: Sequence[Signal],
                  duration: float | None = None) -> list[Finding]:
    """Pure: stored face signals -> performer findings (ids and names from the signals); each
    segment is centred on its frames' times, inside the scene, with its own mean score."""
    names = {s.data.get("performer"): s.data.get("name") for s in signals
             if s.key == "face" and s.data and s.data.get("performer")}
    found = []
    for d in performers_seen(observations(signals), rule):
        segments = tuple(centred_segments(d.points, duration))
        found.append(Finding(kind=Kind.PERFORMER, name=names.get(d.performer_id) or d.performer_id,
                             analyzer="faces", category=CATEGORY, confidence=d.confidence,
                             segments=segments, target_id=d.performer_id, markers=False,
                             detail={"frames": d.frames, "shots": d.pieces,
                                     "mean_similarity": d.mean_score}))
    return found
