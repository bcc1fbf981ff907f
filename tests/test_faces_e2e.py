"""Faces end to end through the Stash stand-in: gallery from performer images, a scene whose real
video (ffmpeg) shows a performer's face, the faces analyzer on full-resolution frames, the
performer suggested for review or — with applyPerformers — added, never removed, and undone.

Recognition is the one part stood in for: `ColourIdentity` (tests/helpers/faces.py) replaces
FaceEngine.embed in-process, because the VGGFace2 weights cannot be downloaded here and random
weights give every face the same vector. Everything else is real: MTCNN on the decoded frames,
the crops, the store, matching, planning and the GraphQL writes.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e import configure
from tests.helpers.faces import ColourIdentity, astronaut_crop, cameraman, faceless, jpeg, on_canvas

pytest.importorskip("facenet_pytorch")


def _video_available() -> bool:
    try:
        import stash_sense.frames.video  # noqa: F401
    except ImportError:
        return False
    from tests.standin.media import ffmpeg_available
    return ffmpeg_available()


pytestmark = pytest.mark.skipif(not _video_available(),
                                reason="needs ffmpeg and stash_sense/frames/video.py")


def face_video(path, seconds_with_face: int, total: int, second_face: bool = False) -> str:
    """A 640x360 clip (small: MTCNN's cost grows with the frame): the astronaut's face for the
    first `seconds_with_face` seconds (with the cameraman beside her when `second_face`), an
    empty grey room after. Two stills, encoded by ffmpeg like any video."""
    folder = os.path.dirname(path)
    face = on_canvas(astronaut_crop(), size=(640, 360), at=(60, 40), scale=0.9)
    if second_face:
        face.paste(cameraman().crop((150, 60, 310, 260)), (420, 80))
    face.save(os.path.join(folder, "face.png"))
    on_canvas(faceless("plain", (4, 4)), size=(640, 360)).save(os.path.join(folder, "room.png"))
    subprocess.run(["ffmpeg", "-v", "error", "-y",
                    "-loop", "1", "-framerate", "5", "-t", str(seconds_with_face),
                    "-i", os.path.join(folder, "face.png"),
                    "-loop", "1", "-framerate", "5", "-t", str(total - seconds_with_face),
                    "-i", os.path.join(folder, "room.png"),
                    "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
                    "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p", path],
                   check=True, capture_output=True)
    return path


def run(stash, args):
    from stash_sense.app import run as app_run
    return app_run({"server_connection": stash.server_connection(), "args": args})


def performer_names(stash, scene_id):
    return sorted(stash.performer(p)["name"] for p in stash.scene(scene_id)["performer_ids"])


def library(stash, tmp_path):
    ids = {"Eileen": stash.add_performer("Eileen", image=jpeg(astronaut_crop())),
           "Cam": stash.add_performer("Cam", image=jpeg(cameraman().crop((120, 40, 360, 330)))),
           "Gradient": stash.add_performer("Gradient", image=jpeg(faceless("gradient")))}
    (tmp_path / "v").mkdir()
    video = face_video(str(tmp_path / "v" / "scene.mp4"), 30, 40)
    ids["scene"] = stash.add_scene("Eileen in orbit", duration=40, width=640, height=360,
                                   video_path=video, performer_ids=[ids["Cam"]])
    ids["other"] = stash.add_scene("same clip", duration=40, width=640, height=360,
                                   video_path=video)
    ids["hers"] = stash.add_scene("already hers", duration=40, width=640, height=360,
                                  video_path=video, performer_ids=[ids["Eileen"]])
    return ids


def test_a_performer_seen_in_the_video_is_suggested_then_added_never_removed(stash, colour_faces,
                                                                            tmp_path):
    from stash_sense.store import Store
    from stash_sense.store.ledger import Kind, Ledger
    ids = library(stash, tmp_path)
    configure(stash, tmp_path, faceWeights="none", analyzers="faces", videoFrames=4)

    gallery = run(stash, {"mode": "build_gallery"})
    assert gallery.get("error") is None, gallery
    assert gallery["output"]["with_face"] == 2 and gallery["output"]["without_face"] == ["Gradient"]

    # applyPerformers off (the default): a suggestion for review, nothing written
    out = run(stash, {"mode": "tag_scene", "scene_id": ids["other"]})
    assert out.get("error") is None, out
    assert performer_names(stash, ids["other"]) == []
    store = Store.in_dir(str(tmp_path / "data"))
    (s,) = [r for r in store.suggestions.of_scene(ids["other"], "open") if r.kind == "performer"]
    assert (s.name, s.target_id, s.analyzer) == ("Eileen", ids["Eileen"], "faces")
    assert 0.9 < s.confidence <= 1.0

    # the user already tagged her: nothing to suggest, nothing to write
    assert run(stash, {"mode": "tag_scene", "scene_id": ids["hers"]}).get("error") is None
    assert performer_names(stash, ids["hers"]) == ["Eileen"]
    assert [r.name for r in store.suggestions.of_scene(ids["hers"]) if r.kind == "performer"] == []
    assert Ledger(store).rows(ids["hers"], Kind.PERFORMER) == []

    # applyPerformers on: added to the scene; the user's own performer stays
    out = run(stash, {"mode": "tag_scene", "scene_id": ids["scene"], "applyPerformers": "true"})
    assert out.get("error") is None, out
    assert performer_names(stash, ids["scene"]) == ["Cam", "Eileen"]
    owned = [(r.kind.value, r.ref) for r in Ledger(store).rows(ids["scene"], Kind.PERFORMER)]
    assert owned == [("performer", ids["Eileen"])]
    added = [r for r in stash.calls("bulkSceneUpdate") if "performer_ids" in r["variables"]["input"]]
    assert [r["variables"]["input"]["performer_ids"] for r in added] == [
        {"ids": [ids["Eileen"]], "mode": "ADD"}]
    assert colour_faces.crops >= 3            # real crops from real frames went through

    # a rerun changes nothing; unknown faces are none here: every face was Eileen's
    run(stash, {"mode": "tag_scene", "scene_id": ids["scene"], "applyPerformers": "true"})
    assert performer_names(stash, ids["scene"]) == ["Cam", "Eileen"]
    assert not [r for r in stash.calls("bulkSceneUpdate")
                if r["variables"]["input"].get("performer_ids", {}).get("mode") == "REMOVE"]

    # undo takes back only what the plugin added
    out = run(stash, {"mode": "undo", "scene_id": ids["scene"]})
    assert out.get("error") is None, out
    assert performer_names(stash, ids["scene"]) == ["Cam"]


def test_unknown_faces_are_kept_for_clustering(stash, colour_faces, tmp_path):
    from stash_sense.models import faces as models
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    (tmp_path / "v").mkdir()
    video = face_video(str(tmp_path / "v" / "two.mp4"), 30, 40, second_face=True)
    eileen = stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    sid = stash.add_scene("two faces", duration=40, width=640, height=360, video_path=video)
    configure(stash, tmp_path, faceWeights="none", analyzers="faces", applyPerformers=True,
              videoFrames=4)
    assert run(stash, {"mode": "build_gallery"})["output"]["with_face"] == 1
    assert run(stash, {"mode": "tag_scene", "scene_id": sid}).get("error") is None
    assert performer_names(stash, sid) == ["Eileen"]
    faces = FaceStore(Store.in_dir(str(tmp_path / "data")))
    seen = faces.scene_faces(sid, models.embedder_id(models.RANDOM))
    unknown = [f for f in seen if f.performer_id is None]
    assert {f.performer_id for f in seen} == {eileen, None}
    assert unknown and all(f.box[0] > 400 for f in unknown)     # the cameraman, on the right
    assert all(f.embedding.shape == (512,) for f in unknown)


def test_gallery_from_scenes_adds_only_the_tagged_performers_own_faces(stash, colour_faces,
                                                                       tmp_path):
    (tmp_path / "v").mkdir()
    video = face_video(str(tmp_path / "v" / "two.mp4"), 30, 40, second_face=True)
    eileen = stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    cam = stash.add_performer("Cam", image=jpeg(cameraman().crop((120, 40, 360, 330))))
    stash.add_scene("Eileen with a guest", duration=40, width=640, height=360,
                    video_path=video, performer_ids=[eileen])
    configure(stash, tmp_path, faceWeights="none", galleryFromScenes=True, videoFrames=4)

    out = run(stash, {"mode": "build_gallery"})["output"]
    assert out["scenes_checked"] == 1 and 1 <= out["from_scenes"] <= 4
    from stash_sense.models import faces as models
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    faces = FaceStore(Store.in_dir(str(tmp_path / "data")))
    model = models.embedder_id(models.RANDOM)
    learned = faces.embeddings(eileen, model, "scene")
    assert len(learned) == out["from_scenes"]
    assert (learned @ ColourIdentity.COLOUR).min() > 0.9          # Eileen's face, not the guest's
    assert len(faces.embeddings(cam, model, "scene")) == 0

    again = run(stash, {"mode": "build_gallery"})["output"]
    assert again["scenes_checked"] == 0 and again["from_scenes"] == 0
    assert again["skipped_unchanged"] == 2
