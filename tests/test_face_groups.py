"""Unknown faces the user can name: DBSCAN groups of faces that matched nobody, listed by a light
operation with their crops and scenes, named after a new performer (created only because the
request asks) through the Writer — undoable — or ignored. Through the Stash stand-in with real
MTCNN on real ffmpeg frames; recognition stood in by ColourIdentity (see tests/helpers/faces.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.e2e import configure
from tests.helpers.faces import astronaut_crop, jpeg
from tests.standin.media import ffmpeg_available

pytest.importorskip("facenet_pytorch")
pytest.importorskip("sklearn")
needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is absent")


def test_dbscan_groups_need_min_size_and_leave_outliers_out():
    from stash_sense.faces.groups import groups_of
    rng = np.random.default_rng(1)

    def around(axis, n):
        base = np.eye(16, dtype=np.float32)[axis]
        out = base + rng.normal(0, 0.15, (n, 16)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    @dataclass(frozen=True)
    class Face:
        scene_id: str
        embedding: np.ndarray = field(compare=False)
    faces = ([Face(f"s{i % 3}", e) for i, e in enumerate(around(0, 6))]
             + [Face("s9", e) for e in around(1, 3)]      # too few
             + [Face("s5", e) for e in around(2, 5)])
    groups = groups_of(faces, threshold=0.5, min_size=4)
    assert [len(g) for g in groups] == [6, 5]
    assert {f.scene_id for f in groups[0]} == {"s0", "s1", "s2"}
    assert groups_of(faces[:2], threshold=0.5, min_size=4) == []


def test_the_operations_import_no_numpy_torch_or_sklearn():
    code = ("import sys, json; import stash_sense.tasks.unknown_faces, stash_sense.tagging.apply;"
            "print(json.dumps(sorted(m for m in ('numpy', 'torch', 'sklearn', 'PIL', 'requests')"
            " if m in sys.modules)))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": root}, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def run(stash, args):
    from stash_sense.app import run as app_run
    return app_run({"server_connection": stash.server_connection(), "args": args})


@needs_ffmpeg
def test_a_group_of_unknown_faces_is_named_after_a_new_performer_and_undone(stash, colour_faces,
                                                                           tmp_path):
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    from tests.test_faces_e2e import face_video
    (tmp_path / "v").mkdir()
    video = face_video(str(tmp_path / "v" / "two.mp4"), 30, 40, second_face=True)
    eileen = stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    scenes = [stash.add_scene(f"two faces {i}", duration=40, width=640, height=360,
                              video_path=video) for i in range(2)]
    configure(stash, tmp_path, faceWeights="none", analyzers="faces", videoFrames=4)
    assert run(stash, {"mode": "build_gallery"})["output"]["with_face"] == 1
    for sid in scenes:
        assert run(stash, {"mode": "tag_scene", "scene_id": sid}).get("error") is None
    performers_before = len(stash.performers)

    out = run(stash, {"mode": "cluster_faces"})
    assert out.get("error") is None, out
    assert out["output"]["groups"] == 1 and out["output"]["grouped_faces"] >= 4
    listed = run(stash, {"mode": "face_groups"})["output"]["groups"]
    (group,) = listed
    assert group["scene_ids"] == sorted(scenes, key=int)
    assert group["faces"] and all(f["crop"].startswith("data:image/jpeg;base64,")
                                  for f in group["faces"])
    assert [g["group_id"] for g in run(stash, {"mode": "face_groups",
                                               "scene_id": scenes[0]})["output"]["groups"]] == [
        group["group_id"]]
    assert len(stash.performers) == performers_before       # listing and grouping create nothing
    assert not [r for r in stash.requests if "performerCreate" in r["query"]]

    named = run(stash, {"mode": "name_face_group", "group_id": group["group_id"],
                        "new_performer": "Cam"})
    assert named.get("error") is None, named
    cam = named["output"]["performer_id"]
    assert stash.performer(cam)["name"] == "Cam" and named["output"]["created"] is True
    for sid in scenes:
        assert stash.scene(sid)["performer_ids"] == [cam]
    store = Store.in_dir(str(tmp_path / "data"))
    from stash_sense.store.ledger import Kind, Ledger, State
    assert [r.ref for r in Ledger(store).rows(scenes[0])
            if r.kind is Kind.PERFORMER and r.state is State.COMMITTED] == [cam]
    faces = FaceStore(store)
    from stash_sense.models import faces as models
    model = models.embedder_id(models.RANDOM)
    assert len(faces.embeddings(cam, model, "group")) == named["output"]["gallery_faces"] >= 4
    assert run(stash, {"mode": "face_groups"})["output"]["groups"] == []
    again = run(stash, {"mode": "name_face_group", "group_id": group["group_id"],
                        "performer_id": eileen})
    assert "already named" in again["error"]

    # undo takes the performer back off the scene (it was the plugin's doing)
    assert run(stash, {"mode": "undo", "scene_id": scenes[0]}).get("error") is None
    assert stash.scene(scenes[0])["performer_ids"] == []
    assert stash.scene(scenes[1])["performer_ids"] == [cam]

    # re-grouping: the named faces are no longer unknown
    assert run(stash, {"mode": "cluster_faces"})["output"]["groups"] == 0


@needs_ffmpeg
def test_an_ignored_group_is_never_offered_again(stash, colour_faces, tmp_path):
    from tests.test_faces_e2e import face_video
    (tmp_path / "v").mkdir()
    video = face_video(str(tmp_path / "v" / "two.mp4"), 30, 40, second_face=True)
    stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    scenes = [stash.add_scene(f"s{i}", duration=40, width=640, height=360, video_path=video)
              for i in range(2)]
    configure(stash, tmp_path, faceWeights="none", analyzers="faces", videoFrames=4)
    run(stash, {"mode": "build_gallery"})
    for sid in scenes:
        run(stash, {"mode": "tag_scene", "scene_id": sid})
    run(stash, {"mode": "cluster_faces"})
    (group,) = run(stash, {"mode": "face_groups"})["output"]["groups"]
    out = run(stash, {"mode": "ignore_face_group", "group_id": group["group_id"]})
    assert out["output"]["status"] == "ignored"
    assert run(stash, {"mode": "cluster_faces"})["output"]["groups"] == 0
    assert run(stash, {"mode": "face_groups"})["output"]["groups"] == []
    assert all(stash.scene(s)["performer_ids"] == [] for s in scenes)
    assert "does not exist" in run(stash, {"mode": "ignore_face_group", "group_id": 999})["error"]


def test_faces_named_from_a_group_survive_a_new_profile_image(tmp_path):
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore, GroupStatus
    faces = FaceStore(Store(str(tmp_path / "s.sqlite")))
    emb = np.eye(512, dtype=np.float32)
    faces.save_scene_faces("5", "m", [(float(k), 0, [1, 2, 3, 4], 0.99, None, 0.1, emb[k], b"j")
                                      for k in range(4)])
    (gid,) = faces.replace_open_groups("m", [faces.unknown_faces("m")])
    assert faces.group_to_gallery(gid, "7") == 4
    faces.set_group_status(gid, GroupStatus.NAMED, "7")
    assert faces.unknown_faces("m") == []
    faces.replace_profile("7", "m", "v2", [emb[9]], [0.99])
    assert len(faces.embeddings("7", "m", "group")) == 4
    assert len(faces.embeddings("7", "m", "profile")) == 1
    faces.drop_gallery(["7"])
    assert len(faces.embeddings("7", "m")) == 4
