"""The frame index: every stored frame vector of one embedding model as one memory-mapped float16
matrix on disk, kept in step with SQLite.

Why a second copy of the vectors: in SQLite each scene's frames are one blob row; scoring a text
query against 810,000 frames means reading 10,000 rows through overflow pages, seconds before any
maths. Here they are one contiguous (rows x dim) file the OS pages in once and numpy reads in
chunks (bench/find.py measures the alternatives; README "Find by look" says why this one).

Files in `<dataDir>/find/<model key>/`:
- `frames-<gen>.f16` rows x dim, `times-<gen>.f32` rows x 2 (time, span), `pooled-<gen>.f16` one
  row per stored scene version — all append-only;
- `manifest.json`: which generation, how many rows are valid, and where each live scene's frames
  and pooled row are. It is written to a temporary file and renamed after the data files are
  fsync'd, so it is the commit point: a SIGKILL mid-append leaves bytes past `rows` that the next
  writer truncates; a missing or unreadable manifest, or one that disagrees with SQLite, means a
  rebuild from SQLite (the source of truth).

Staying in step: triggers on `scene_embeddings` (store schema version 5) append (scene, model) to
`find_changes` whenever a scene's vectors are saved or dropped, by whichever process. `sync()`
applies the changes logged since the manifest's sequence number (a re-analysed scene gets new
rows; the old ones are dead until a compaction copies the live ranges into the next generation),
checks the scene count against SQLite, and prunes the log. So the index follows analysis
incrementally without the analysis code knowing it exists. One writer at a time: `flock` on `lock`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..store.embeddings import DTYPE, EmbeddingStore, SceneVectors

VERSION = 1
COMPACT_DEAD_SHARE = 0.25   # rewrite once a quarter of the rows belong to replaced versions

def model_key(model_id: str) -> str:
    return hashlib.sha1(model_id.encode()).hexdigest()[:16]


@dataclass
class SyncReport:
    added: int = 0        # scene versions appended
    removed: int = 0      # scenes whose vectors are gone from SQLite
    rebuilt: str = ""     # why the index was rebuilt from SQLite ("" = it was not)
    compacted: bool = False


class FrameIndex:
    """Read side: `frames` (rows x dim float16 memmap), `times`, `owner` (row -> position in
    `scene_ids`, -1 for dead rows), `pooled_of(positions)`. Write side: `sync()`."""

    def __init__(self, embeddings: EmbeddingStore, model_id: str, data_dir: str):
        self.embeddings = embeddings
        self.model_id = model_id
        self.folder = os.path.join(data_dir, "find", model_key(model_id))
        self.manifest: dict | None = None
        self.dim = 0
        self.last_sync: SyncReport | None = None

    @classmethod
    def open(cls, embeddings: EmbeddingStore, model_id: str, data_dir: str) -> FrameIndex:
        """The index, brought up to date with SQLite (cheap when nothing changed)."""
        index = cls(embeddings, model_id, data_dir)
        index.last_sync = index.sync()
        return index

    # -- files ----------------------------------------------------------------------------------
    def _loaded(self) -> dict:
        """The manifest of the generation in use (sync() loads one before anything reads it)."""
        if self.manifest is None:
            raise RuntimeError("the similarity index is used before sync() loaded it")
        return self.manifest

    def path_of(self, kind: str, gen: int | None = None) -> str:
        ext = {"frames": "f16", "times": "f32", "pooled": "f16"}[kind]
        return os.path.join(self.folder, f"{kind}-{self._loaded()['gen'] if gen is None else gen}.{ext}")

    def _read_manifest(self) -> dict | None:
        try:
            with open(os.path.join(self.folder, "manifest.json"), encoding="utf-8") as fh:
                manifest = json.load(fh)
        except (OSError, ValueError):
            return None
        if manifest.get("version") != VERSION or manifest.get("model_id") != self.model_id:
            return None
        sizes = {"frames": manifest["rows"] * manifest["dim"] * 2, "times": manifest["rows"] * 8,
                 "pooled": manifest["prows"] * manifest["dim"] * 2}
        for kind, size in sizes.items():
            path = os.path.join(self.folder, f"{kind}-{manifest['gen']}."
                                f"{'f32' if kind == 'times' else 'f16'}")
            if not os.path.isfile(path) or os.path.getsize(path) < size:
                return None
        return manifest

    def _write_manifest(self, manifest: dict) -> None:
        path = os.path.join(self.folder, "manifest.json")
        tmp = path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                  encoding="utf-8") as fh:
            json.dump(manifest, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.folder)
        self.manifest = manifest
        self._load()

    def _load(self) -> None:
        m = self._loaded()
        self.dim = m["dim"]
        self.scene_ids: list[str] = list(m["scenes"])
        self.frames = _memmap(self.path_of("frames"), DTYPE, (m["rows"], m["dim"]))
        self.times = _memmap(self.path_of("times"), np.float32, (m["rows"], 2))
        self._pooled = _memmap(self.path_of("pooled"), DTYPE, (m["prows"], m["dim"]))
        self.owner = np.full(m["rows"], -1, np.int32)
        self.ranges: np.ndarray = np.zeros((len(self.scene_ids), 3), np.int64)   # start, n, pooled row
        for pos, sid in enumerate(self.scene_ids):
            start, n, prow = m["scenes"][sid]
            self.owner[start:start + n] = pos
            self.ranges[pos] = (start, n, prow)

    def pooled_of(self, positions: Iterable[int] | None = None) -> np.ndarray:
        """Pooled vectors (float32) of the live scenes at these positions (default all)."""
        rows = self.ranges[:, 2] if positions is None else self.ranges[np.asarray(list(positions),
                                                                              np.int64), 2]
        return np.asarray(self._pooled[rows], np.float32)

    def position(self, scene_id: str) -> int | None:
        try:
            return self.scene_ids.index(str(scene_id))
        except ValueError:
            return None

    # -- sync ------------------------------------------------------------------------------------
    def sync(self) -> SyncReport:
        os.makedirs(os.path.dirname(self.folder), mode=0o700, exist_ok=True)   # <dataDir>/find
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        lock = os.open(os.path.join(self.folder, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._sync_locked()
        finally:
            os.close(lock)

    def _sync_locked(self) -> SyncReport:
        db = self.embeddings.db
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM find_changes").fetchone()[0]
        self.manifest = self._read_manifest()
        if self.manifest is None:
            return self._rebuild(seq, "no usable index on disk")
        self._load()
        changed = [r[0] for r in db.execute(
            "SELECT DISTINCT scene_id FROM find_changes WHERE model_id=? AND seq>? AND seq<=?",
            (self.model_id, self.manifest["seq"], seq))]
        report = SyncReport()
        m = {**self.manifest, "scenes": dict(self.manifest["scenes"]), "seq": seq}
        if changed:
            writer = _Appender(self, m)
            try:
                for sid in changed:
                    vectors = self.embeddings.scene(sid, self.model_id)
                    if vectors is None:
                        report.removed += m["scenes"].pop(str(sid), None) is not None
                    else:
                        writer.add(vectors)
                        report.added += 1
            finally:
                writer.close()
        expected = self.embeddings.count(self.model_id)
        if len(m["scenes"]) != expected:
            return self._rebuild(seq, f"index holds {len(m['scenes'])} scenes, SQLite {expected}")
        if changed or seq != self.manifest["seq"]:
            self._write_manifest(m)
        dead = m["rows"] - sum(n for _, n, _ in m["scenes"].values())
        if m["rows"] and dead > COMPACT_DEAD_SHARE * m["rows"]:
            self._compact()
            report.compacted = True
        db.execute("DELETE FROM find_changes WHERE model_id=? AND seq<=?", (self.model_id, seq))
        return report

    def _rebuild(self, seq: int, why: str) -> SyncReport:
        """Everything from SQLite into a fresh generation (the change log was read first, so a
        scene saved meanwhile is applied again by the next sync)."""
        old = self.manifest or _read_json(os.path.join(self.folder, "manifest.json")) or {}
        gen = int(old.get("gen", 0)) + 1
        m = {"version": VERSION, "model_id": self.model_id, "dim": 0, "gen": gen, "rows": 0,
             "prows": 0, "seq": seq, "scenes": {}}
        writer = _Appender(self, m, fresh=True)
        report = SyncReport(rebuilt=why)
        try:
            for vectors in self.embeddings.iter_scenes(self.model_id):
                writer.add(vectors)
                report.added += 1
        finally:
            writer.close()
        self._write_manifest(m)
        self._remove_other_generations(gen)
        self.embeddings.db.execute("DELETE FROM find_changes WHERE model_id=? AND seq<=?",
                                   (self.model_id, seq))
        return report

    def _compact(self) -> None:
        """Copy the live ranges into the next generation; readers holding the old mmap keep it."""
        old = self._loaded()
        m = {**old, "gen": old["gen"] + 1, "rows": 0, "prows": 0, "scenes": {}}
        writer = _Appender(self, m, fresh=True)
        try:
            for pos, sid in enumerate(self.scene_ids):
                start, n, prow = (int(x) for x in self.ranges[pos])
                writer.add_arrays(sid, np.asarray(self.times[start:start + n]),
                                  np.asarray(self.frames[start:start + n]),
                                  np.asarray(self._pooled[prow]))
        finally:
            writer.close()
        self._write_manifest(m)
        self._remove_other_generations(m["gen"])

    def _remove_other_generations(self, gen: int) -> None:
        for name in os.listdir(self.folder):
            stem, _, _ = name.partition(".")
            if "-" in stem and stem.rsplit("-", 1)[1].isdigit() and int(stem.rsplit("-", 1)[1]) != gen:
                os.unlink(os.path.join(self.folder, name))


class _Appender:
    """Appends scene versions to a generation's three files, then fsyncs them (close)."""

    def __init__(self, index: FrameIndex, manifest: dict, fresh: bool = False):
        self.index, self.m = index, manifest
        mode = "wb" if fresh else "r+b"
        self.files = {}
        for kind, valid in (("frames", manifest["rows"] * manifest["dim"] * 2),
                            ("times", manifest["rows"] * 8),
                            ("pooled", manifest["prows"] * manifest["dim"] * 2)):
            path = index.path_of(kind, manifest["gen"])
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if fresh else 0), 0o600)
            fh = os.fdopen(fd, mode)
            fh.truncate(valid)            # bytes a killed writer left past the commit point
            fh.seek(valid)
            self.files[kind] = fh

    def add(self, vectors: SceneVectors) -> None:
        self.add_arrays(vectors.scene_id, vectors.times, vectors.frames, vectors.pooled)

    def add_arrays(self, scene_id: str, times, frames, pooled) -> None:
        m = self.m
        if not m["dim"]:
            m["dim"] = int(frames.shape[1])
        if frames.shape[1] != m["dim"]:
            raise ValueError(f"scene {scene_id}: {frames.shape[1]}-d vectors in a {m['dim']}-d index")
        self.files["frames"].write(np.ascontiguousarray(frames, DTYPE).tobytes())
        self.files["times"].write(np.ascontiguousarray(times, np.float32).reshape(-1, 2).tobytes())
        self.files["pooled"].write(np.ascontiguousarray(pooled, DTYPE).reshape(-1).tobytes())
        m["scenes"][str(scene_id)] = [m["rows"], int(len(frames)), m["prows"]]
        m["rows"] += int(len(frames))
        m["prows"] += 1

    def close(self) -> None:
        for fh in self.files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()


def _memmap(path: str, dtype, shape: tuple[int, int]) -> np.ndarray:
    if shape[0] == 0 or shape[1] == 0:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
