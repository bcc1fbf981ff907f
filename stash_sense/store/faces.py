"""Face tables in the plugin's SQLite store: the gallery and every face seen in analysed scenes.

- `face_sources`: one row per (performer, source, ref, embedding model) that was processed —
  source 'profile' (ref 'image', version = the `t=` stamp of Performer.image_path) or 'scene'
  (ref = scene id). A rerun skips rows whose version is unchanged, so only new performers, new
  profile images and new scenes cost model time. `faces` = 0 records "no usable face".
- `face_gallery`: the embeddings (fp16 blobs, 1 KiB each) per performer and model.
- `face_performers`: performer names for findings, refreshed by the gallery task.
- `scene_faces`: every face the analyzer saw (frame time, box, embedding, the performer it voted
  for or NULL = unknown) for later clustering of unknown faces.
Embeddings of different models are never mixed: everything is keyed by the embedder's id (every
row has carried its model id since the first version, so no migration is needed: rows of an
earlier network stay, tagged with its id, and are simply not used by another).
Privacy: embeddings and boxes live only in the store, in the data directory; the store makes its
files owner-only (0600, its directory 0700: store/db.py), and `forget_faces` removes everything
about deleted scenes and performers.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..kinds import StrEnum

if TYPE_CHECKING:      # numpy only where embeddings are decoded: the unknown-faces operations
    import numpy as np  # (light path) list, name and ignore groups without it

    from ..faces.match import Gallery


class GroupStatus(StrEnum):
    """A group of unknown faces: waiting for the user, named after a performer, or ignored."""
    OPEN = "open"
    NAMED = "named"
    IGNORED = "ignored"


@dataclass(frozen=True)
class FaceSource:
    """What the gallery build processed for a performer: a profile image (ref "image", `version`
    its fingerprint), a scene, or a named group; `faces` found there."""
    performer_id: str
    source: str
    ref: str
    model_id: str
    version: str
    faces: int
    note: str | None
    updated_at: float


@dataclass(frozen=True)
class SceneFace:
    """A face seen in a scene's frame, matched (`performer_id`) or not."""
    scene_id: str
    time: float
    idx: int
    box: tuple[float, ...]
    prob: float
    performer_id: str | None
    score: float
    embedding: Any                       # numpy vector (None when not asked for)
    crop: bytes | None = None            # a small JPEG of an unknown face


@dataclass(frozen=True)
class FaceGroup:
    """Unknown faces grouped by likeness, to be named (a performer) or ignored once."""
    group_id: int
    model_id: str
    status: GroupStatus
    performer_id: str | None
    size: int
    scene_ids: tuple[str, ...]


def to_blob(embedding: np.ndarray) -> bytes:
    import numpy as np  # noqa: PLC0415
    return np.asarray(embedding, np.float16).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    import numpy as np  # noqa: PLC0415
    v = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


class FaceStore:
    def __init__(self, store):
        self.store = store
        self.db = store.db          # tables: store/schema.py (version 3)

    # -- what was processed -----------------------------------------------------------------------
    def source(self, performer_id: str, source: str, ref: str, model_id: str) -> FaceSource | None:
        row = self.db.execute("SELECT * FROM face_sources WHERE performer_id=? AND source=? AND "
                              "ref=? AND model_id=?", (performer_id, source, ref, model_id)).fetchone()
        if row is None:
            return None
        return FaceSource(performer_id=row["performer_id"], source=row["source"], ref=row["ref"],
                          model_id=row["model_id"], version=row["version"],
                          faces=int(row["faces"]), note=row["note"],
                          updated_at=float(row["updated_at"]))

    def set_names(self, names: Iterable[tuple[str, str]]) -> None:
        """(performer_id, name) pairs, in one transaction."""
        now = time.time()
        with self.store.tx():
            self.db.executemany(
                "INSERT INTO face_performers VALUES (?,?,?) ON CONFLICT(performer_id) "
                "DO UPDATE SET name=excluded.name, updated_at=excluded.updated_at",
                [(str(pid), name, now) for pid, name in names])

    def performers_with_faces(self) -> set[str]:
        """Performers with any processed source (any model)."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT performer_id FROM face_sources")}

    def replace_profile(self, performer_id: str, model_id: str, version: str,
                        embeddings: Sequence[np.ndarray], scores: Sequence[float],
                        note: str | None = None) -> None:
        """A new profile image: its faces replace the old profile *and* the scene faces that
        were checked against the old profile (faces named by the user from a group stay)."""
        now = time.time()
        with self.store.tx():
            # faces the user named from a group of unknown faces ('group') stay
            self.db.execute("DELETE FROM face_gallery WHERE performer_id=? AND model_id=? AND "
                            "source IN ('profile', 'scene')", (performer_id, model_id))
            self.db.execute("DELETE FROM face_sources WHERE performer_id=? AND model_id=? AND "
                            "source IN ('profile', 'scene')", (performer_id, model_id))
            self._insert(performer_id, "profile", "image", model_id, embeddings, scores,
                         [None] * len(embeddings), now)
            self.db.execute("INSERT INTO face_sources VALUES (?,?,?,?,?,?,?,?)",
                            (performer_id, "profile", "image", model_id, version,
                             len(embeddings), note, now))

    def add_scene_faces(self, performer_id: str, scene_id: str, model_id: str,
                        embeddings: Sequence[np.ndarray], scores: Sequence[float],
                        times: Sequence[float], note: str | None = None) -> None:
        now = time.time()
        with self.store.tx():
            self.db.execute("DELETE FROM face_gallery WHERE performer_id=? AND source='scene' AND "
                            "ref=? AND model_id=?", (performer_id, scene_id, model_id))
            self._insert(performer_id, "scene", scene_id, model_id, embeddings, scores, times, now)
            self.db.execute("INSERT OR REPLACE INTO face_sources VALUES (?,?,?,?,?,?,?,?)",
                            (performer_id, "scene", scene_id, model_id, "", len(embeddings),
                             note, now))

    def _insert(self, performer_id, source, ref, model_id, embeddings, scores, times, now) -> None:
        self.db.executemany(
            "INSERT INTO face_gallery (performer_id, source, ref, model_id, embedding, score, "
            "frame_time, created_at) VALUES (?,?,?,?,?,?,?,?)",
            [(performer_id, source, ref, model_id, to_blob(e), float(s), t, now)
             for e, s, t in zip(embeddings, scores, times)])

    def forget_performers(self, keep_ids: Iterable[str]) -> int:
        """Drop everything about performers not in `keep_ids` (deleted in Stash). Returns count."""
        keep = {str(k) for k in keep_ids}
        known = {r[0] for r in self.db.execute("SELECT DISTINCT performer_id FROM face_sources")}
        known |= {r[0] for r in self.db.execute("SELECT performer_id FROM face_performers")}
        gone = sorted(known - keep)
        self.drop_performers(gone)
        return len(gone)

    def drop_gallery(self, performer_ids: Sequence[str]) -> None:
        """Forget the faces learned from the profile (every model) but keep the names and the
        faces the user named from groups: the profile image was removed."""
        with self.store.tx():
            for table in ("face_gallery", "face_sources"):
                self.db.executemany(f"DELETE FROM {table} WHERE performer_id=? AND "
                                    "source IN ('profile', 'scene')",
                                    [(p,) for p in performer_ids])

    def drop_performers(self, performer_ids: Sequence[str]) -> None:
        with self.store.tx():
            for table in ("face_gallery", "face_sources", "face_performers"):
                self.db.executemany(f"DELETE FROM {table} WHERE performer_id=?",
                                    [(p,) for p in performer_ids])

    def forget_faces(self, scene_ids: Iterable[str] = (), performer_ids: Iterable[str] = ()
                     ) -> dict[str, int]:
        """Forget deleted scenes and performers (the Clean up task): every face seen in those
        scenes, the gallery faces learned from them, and everything about those performers
        (gallery, sources, name); faces that had matched a deleted performer become unknown
        faces again. Returns the rows removed per kind."""
        scenes = [(str(s),) for s in scene_ids]
        performers = [str(p) for p in performer_ids]
        removed = {"scene_faces": 0, "gallery_faces": 0, "performers": len(performers)}
        with self.store.tx():
            for (sid,) in scenes:
                removed["scene_faces"] += self.db.execute(
                    "DELETE FROM scene_faces WHERE scene_id=?", (sid,)).rowcount
                self.db.execute("DELETE FROM face_group_members WHERE scene_id=?", (sid,))
                removed["gallery_faces"] += self.db.execute(
                    "DELETE FROM face_gallery WHERE source='scene' AND ref=?", (sid,)).rowcount
                self.db.execute("DELETE FROM face_sources WHERE source='scene' AND ref=?", (sid,))
            for pid in performers:
                removed["gallery_faces"] += self.db.execute(
                    "DELETE FROM face_gallery WHERE performer_id=?", (pid,)).rowcount
                for table in ("face_sources", "face_performers"):
                    self.db.execute(f"DELETE FROM {table} WHERE performer_id=?", (pid,))
                self.db.execute("UPDATE scene_faces SET performer_id=NULL WHERE performer_id=?",
                                (pid,))
        return removed

    # -- reading the gallery ----------------------------------------------------------------------
    def gallery(self, model_id: str) -> Gallery:
        from ..faces.match import Gallery  # noqa: PLC0415
        rows = self.db.execute(
            "SELECT g.performer_id, COALESCE(p.name, g.performer_id), g.embedding FROM face_gallery g "
            "LEFT JOIN face_performers p ON p.performer_id = g.performer_id "
            "WHERE g.model_id=? ORDER BY CAST(g.performer_id AS INTEGER), g.performer_id, g.id",
            (model_id,))
        return Gallery.from_rows((pid, name, from_blob(blob)) for pid, name, blob in rows)

    def embeddings(self, performer_id: str, model_id: str, source: str | None = None
                   ) -> np.ndarray:
        import numpy as np  # noqa: PLC0415
        query = "SELECT embedding FROM face_gallery WHERE performer_id=? AND model_id=?"
        args = [performer_id, model_id]
        if source:
            query += " AND source=?"
            args.append(source)
        rows = [from_blob(r[0]) for r in self.db.execute(query + " ORDER BY id", args)]
        return np.stack(rows) if rows else np.zeros((0, 512), np.float32)

    def galleries(self) -> dict[str, Gallery]:
        models = [r[0] for r in self.db.execute("SELECT DISTINCT model_id FROM face_gallery")]
        return {m: self.gallery(m) for m in models}

    def counts(self, model_id: str) -> dict[str, int]:
        row = self.db.execute(
            "SELECT COUNT(DISTINCT performer_id), SUM(source='profile'), SUM(source='scene') "
            "FROM face_gallery WHERE model_id=?", (model_id,)).fetchone()
        return {"performers": row[0] or 0, "profile_faces": row[1] or 0, "scene_faces": row[2] or 0}

    # -- faces seen in analysed scenes ------------------------------------------------------------
    def save_scene_faces(self, scene_id: str, model_id: str,
                         faces: Sequence[tuple]) -> None:
        """Replace the scene's faces: (frame_time, idx, box, prob, performer_id|None, score, emb
        [, crop JPEG bytes|None]). Group memberships of the scene's old faces go with them."""
        with self.store.tx():
            self.db.execute("DELETE FROM scene_faces WHERE scene_id=? AND model_id=?",
                            (scene_id, model_id))
            self.db.execute("DELETE FROM face_group_members WHERE scene_id=? AND model_id=? AND "
                            "group_id IN (SELECT group_id FROM face_groups WHERE status='open')",
                            (scene_id, model_id))
            self.db.executemany(
                "INSERT OR REPLACE INTO scene_faces (scene_id, model_id, frame_time, idx, box, "
                "prob, performer_id, score, embedding, crop) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(scene_id, model_id, round(f[0], 3), f[1], json.dumps([round(b, 1) for b in f[2]]),
                  float(f[3]), f[4], float(f[5]), to_blob(f[6]), f[7] if len(f) > 7 else None)
                 for f in faces])

    def scene_faces(self, scene_id: str, model_id: str, unknown_only: bool = False
                    ) -> list[SceneFace]:
        query = "SELECT * FROM scene_faces WHERE scene_id=? AND model_id=?"
        if unknown_only:
            query += " AND performer_id IS NULL"
        return [SceneFace(scene_id=r["scene_id"], time=r["frame_time"], idx=r["idx"],
                          box=tuple(json.loads(r["box"])), prob=r["prob"],
                          performer_id=r["performer_id"], score=r["score"],
                          embedding=from_blob(r["embedding"]), crop=r["crop"])
                for r in self.db.execute(query + " ORDER BY frame_time, idx", (scene_id, model_id))]

    # -- unknown faces and their groups -----------------------------------------------------------
    def unknown_faces(self, model_id: str) -> list[SceneFace]:
        """Faces that matched nobody and are in no named or ignored group (clustering input)."""
        rows = self.db.execute(
            "SELECT f.* FROM scene_faces f "
            "WHERE f.model_id=? AND f.performer_id IS NULL AND NOT EXISTS ("
            " SELECT 1 FROM face_group_members m JOIN face_groups g ON g.group_id=m.group_id"
            " WHERE g.status != 'open' AND m.scene_id=f.scene_id AND m.model_id=f.model_id"
            " AND m.frame_time=f.frame_time AND m.idx=f.idx) "
            "ORDER BY f.scene_id, f.frame_time, f.idx", (model_id,))
        return [SceneFace(scene_id=r["scene_id"], time=r["frame_time"], idx=r["idx"],
                          box=tuple(json.loads(r["box"])), prob=r["prob"], performer_id=None,
                          score=r["score"], embedding=from_blob(r["embedding"]))
                for r in rows]

    def replace_open_groups(self, model_id: str, groups: Sequence[Sequence[SceneFace]]
                            ) -> list[int]:
        """The open groups of `model_id` become `groups` (lists of faces as unknown_faces gives
        them); named and ignored groups are kept. Returns the new group ids."""
        now = time.time()
        ids = []
        with self.store.tx():
            old = [r[0] for r in self.db.execute(
                "SELECT group_id FROM face_groups WHERE model_id=? AND status='open'", (model_id,))]
            self.db.executemany("DELETE FROM face_group_members WHERE group_id=?",
                                [(g,) for g in old])
            self.db.executemany("DELETE FROM face_groups WHERE group_id=?", [(g,) for g in old])
            for members in groups:
                gid = self.db.execute(
                    "INSERT INTO face_groups (model_id, status, performer_id, size, created_at, "
                    "updated_at) VALUES (?,?,NULL,?,?,?)",
                    (model_id, GroupStatus.OPEN.value, len(members), now, now)).lastrowid
                self.db.executemany(
                    "INSERT OR IGNORE INTO face_group_members VALUES (?,?,?,?,?)",
                    [(gid, m.scene_id, model_id, m.time, m.idx) for m in members])
                ids.append(int(gid))
        return ids

    def group(self, group_id: int) -> FaceGroup | None:
        row = self.db.execute("SELECT * FROM face_groups WHERE group_id=?",
                              (int(group_id),)).fetchone()
        return self._group(row) if row else None

    def _group(self, row: Any) -> FaceGroup:
        scenes = tuple(r[0] for r in self.db.execute(
            "SELECT DISTINCT scene_id FROM face_group_members WHERE group_id=? "
            "ORDER BY CAST(scene_id AS INTEGER), scene_id", (row["group_id"],)))
        return FaceGroup(group_id=int(row["group_id"]), model_id=row["model_id"],
                         status=GroupStatus(row["status"]), performer_id=row["performer_id"],
                         size=int(row["size"]), scene_ids=scenes)

    def group_faces(self, group_id: int, limit: int | None = None,
                    embeddings: bool = True) -> list[SceneFace]:
        """A group's faces with their crops (JPEG bytes or None) and (decoded with numpy, unless
        embeddings=False) their embeddings."""
        query = ("SELECT f.* FROM face_group_members m JOIN scene_faces f ON f.scene_id=m.scene_id AND "
                 "f.model_id=m.model_id AND f.frame_time=m.frame_time AND f.idx=m.idx "
                 "WHERE m.group_id=? ORDER BY f.scene_id, f.frame_time, f.idx")
        args: list = [int(group_id)]
        if limit:
            query += " LIMIT ?"
            args.append(int(limit))
        return [SceneFace(scene_id=r["scene_id"], time=r["frame_time"], idx=r["idx"],
                          box=tuple(json.loads(r["box"])), prob=r["prob"],
                          performer_id=r["performer_id"], score=r["score"],
                          embedding=from_blob(r["embedding"]) if embeddings else None,
                          crop=r["crop"])
                for r in self.db.execute(query, args)]

    def group_to_gallery(self, group_id: int, performer_id: str) -> int:
        """Copy a named group's faces into the performer's gallery (source 'group', ref = the
        group id); the stored fp16 embeddings are copied as they are (no numpy). Returns count."""
        ref = f"group:{int(group_id)}"
        now = time.time()
        with self.store.tx():
            self.db.execute("DELETE FROM face_gallery WHERE performer_id=? AND source='group' "
                            "AND ref=?", (performer_id, ref))
            count = self.db.execute(
                "INSERT INTO face_gallery (performer_id, source, ref, model_id, embedding, score, "
                "frame_time, created_at) SELECT ?, 'group', ?, f.model_id, f.embedding, 1.0, "
                "f.frame_time, ? FROM face_group_members m JOIN scene_faces f ON "
                "f.scene_id=m.scene_id AND f.model_id=m.model_id AND f.frame_time=m.frame_time "
                "AND f.idx=m.idx WHERE m.group_id=?",
                (performer_id, ref, now, int(group_id))).rowcount
            model = self.db.execute("SELECT model_id FROM face_groups WHERE group_id=?",
                                    (int(group_id),)).fetchone()
            self.db.execute("INSERT OR REPLACE INTO face_sources VALUES (?,?,?,?,?,?,?,?)",
                            (performer_id, "group", ref, model[0] if model else "", "", count,
                             None, now))
        return count

    def groups(self, model_id: str | None = None, status: str | None = GroupStatus.OPEN.value,
               scene_id: str | None = None) -> list[FaceGroup]:
        """Groups (largest first) with the scenes they appear in."""
        query = "SELECT g.* FROM face_groups g WHERE 1=1"
        args: list = []
        if model_id:
            query += " AND g.model_id=?"
            args.append(model_id)
        if status:
            query += " AND g.status=?"
            args.append(status)
        if scene_id is not None:
            query += (" AND EXISTS (SELECT 1 FROM face_group_members m WHERE "
                      "m.group_id=g.group_id AND m.scene_id=?)")
            args.append(str(scene_id))
        return [self._group(row)
                for row in self.db.execute(query + " ORDER BY g.size DESC, g.group_id", args)]

    def set_group_status(self, group_id: int, status: GroupStatus,
                         performer_id: str | None = None) -> None:
        """Named: the group's faces now belong to the performer (they leave the unknown faces);
        ignored: they stay unknown but are never grouped again."""
        with self.store.tx():
            self.db.execute("UPDATE face_groups SET status=?, performer_id=?, updated_at=? "
                            "WHERE group_id=?", (status.value, performer_id, time.time(),
                                                 int(group_id)))
            if status is GroupStatus.NAMED and performer_id:
                self.db.execute(
                    "UPDATE scene_faces SET performer_id=? WHERE EXISTS (SELECT 1 FROM "
                    "face_group_members m WHERE m.group_id=? AND m.scene_id=scene_faces.scene_id "
                    "AND m.model_id=scene_faces.model_id AND m.frame_time=scene_faces.frame_time "
                    "AND m.idx=scene_faces.idx)", (performer_id, int(group_id)))
