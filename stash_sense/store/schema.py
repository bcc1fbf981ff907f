"""The store's schema as ordered migrations, so an install upgraded from any earlier version keeps
its data. `PRAGMA user_version` holds the number of the last migration applied; each migration runs
once, inside one transaction, and a store written by a newer Stash Sense is refused instead of being
misread.

Version 1 is the schema of the first release (every statement `IF NOT EXISTS`, so a store made
before versions existed is adopted as it is). Later versions only add.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..errors import EnvironmentProblem

V1 = """
CREATE TABLE IF NOT EXISTS signals (
  scene_id TEXT NOT NULL, analyzer TEXT NOT NULL, model_id TEXT NOT NULL,
  frame_time REAL NOT NULL, span REAL NOT NULL, scores TEXT NOT NULL, data TEXT,
  PRIMARY KEY (scene_id, analyzer, model_id, frame_time));
CREATE TABLE IF NOT EXISTS runs (
  scene_id TEXT NOT NULL, analyzer TEXT NOT NULL, model_id TEXT NOT NULL, source TEXT NOT NULL,
  frames INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (scene_id, analyzer));
CREATE TABLE IF NOT EXISTS owned (
  scene_id TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (scene_id, kind, ref));
CREATE TABLE IF NOT EXISTS scene_status (
  scene_id TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT, models TEXT NOT NULL DEFAULT '[]',
  updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS suggestions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, scene_id TEXT NOT NULL, kind TEXT NOT NULL,
  key TEXT NOT NULL, name TEXT NOT NULL, category TEXT NOT NULL, analyzer TEXT NOT NULL,
  confidence REAL NOT NULL, target_id TEXT, segments TEXT NOT NULL DEFAULT '[]',
  markers INTEGER NOT NULL DEFAULT 0, aliases TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL, updated_at REAL NOT NULL, UNIQUE (scene_id, kind, key));
CREATE TABLE IF NOT EXISTS feedback (
  kind TEXT NOT NULL, key TEXT NOT NULL, accepted INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS rejected_spans (
  scene_id TEXT NOT NULL, key TEXT NOT NULL, seconds REAL NOT NULL, end_seconds REAL,
  created_at REAL NOT NULL, PRIMARY KEY (scene_id, key, seconds));
CREATE TABLE IF NOT EXISTS queued (
  scene_id TEXT PRIMARY KEY, job_id TEXT, queued_at REAL NOT NULL);
"""

# Version 2: ownership that survives edits, failed writes, restores, renames (issue #8).
# - owned.owner: the process writing a pending/removing row (another live process's rows are
#   left alone); owned.changed_at: when the row entered its state; owned.identity: what Stash
#   said the scene and the item were when the write was confirmed (their created_at), checked
#   before anything is removed.
# - created_tags: every tag the plugin created, with Stash's created_at: the fingerprint that binds
#   the store to one Stash database.
# - tag_map: the Stash tag that serves a finding (followed by id, so a renamed tag stays that tag);
#   tag_merges: what Stash's Tag.Merge.Post hook reported.
# - rejected_objects: a rejection keyed by the Stash object too (two findings, one user tag).
# - scene_status.scene_created_at: which scene (not only which id) the data belongs to.
V2 = """
ALTER TABLE owned ADD COLUMN owner TEXT;
ALTER TABLE owned ADD COLUMN changed_at REAL NOT NULL DEFAULT 0;
ALTER TABLE owned ADD COLUMN identity TEXT NOT NULL DEFAULT '{}';
ALTER TABLE scene_status ADD COLUMN scene_created_at TEXT;
CREATE TABLE created_tags (
  tag_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE tag_map (key TEXT PRIMARY KEY, tag_id TEXT NOT NULL);
CREATE TABLE tag_merges (
  source_id TEXT PRIMARY KEY, destination_id TEXT NOT NULL, merged_at REAL NOT NULL);
CREATE TABLE rejected_objects (
  scene_id TEXT NOT NULL, kind TEXT NOT NULL, object_id TEXT NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY (scene_id, kind, object_id));
INSERT OR IGNORE INTO tag_map (key, tag_id)
  SELECT lower(json_extract(detail, '$.name')), ref FROM owned
  WHERE kind = 'tag' AND state = 'committed' AND json_extract(detail, '$.name') IS NOT NULL;
"""

Migration = Callable[[sqlite3.Connection], None]

# Version 3: faces (issue #13). The first four tables were created by the faces store itself before
# versions existed, so they are adopted as they are (IF NOT EXISTS); a store that has them gains the
# `crop` column (a small JPEG of each unknown face, for naming groups); groups of unknown faces.
V3_FACES = """
CREATE TABLE IF NOT EXISTS face_sources (
  performer_id TEXT NOT NULL, source TEXT NOT NULL, ref TEXT NOT NULL, model_id TEXT NOT NULL,
  version TEXT NOT NULL, faces INTEGER NOT NULL, note TEXT, updated_at REAL NOT NULL,
  PRIMARY KEY (performer_id, source, ref, model_id));
CREATE TABLE IF NOT EXISTS face_gallery (
  id INTEGER PRIMARY KEY AUTOINCREMENT, performer_id TEXT NOT NULL, source TEXT NOT NULL,
  ref TEXT NOT NULL, model_id TEXT NOT NULL, embedding BLOB NOT NULL, score REAL NOT NULL,
  frame_time REAL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS face_gallery_by_model ON face_gallery (model_id, performer_id);
CREATE TABLE IF NOT EXISTS face_performers (
  performer_id TEXT PRIMARY KEY, name TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scene_faces (
  scene_id TEXT NOT NULL, model_id TEXT NOT NULL, frame_time REAL NOT NULL, idx INTEGER NOT NULL,
  box TEXT NOT NULL, prob REAL NOT NULL, performer_id TEXT, score REAL NOT NULL,
  embedding BLOB NOT NULL, PRIMARY KEY (scene_id, model_id, frame_time, idx));
CREATE TABLE face_groups (
  group_id INTEGER PRIMARY KEY AUTOINCREMENT, model_id TEXT NOT NULL, status TEXT NOT NULL,
  performer_id TEXT, size INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE face_group_members (
  group_id INTEGER NOT NULL, scene_id TEXT NOT NULL, model_id TEXT NOT NULL,
  frame_time REAL NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (group_id, scene_id, frame_time, idx));
CREATE INDEX face_group_members_by_face
  ON face_group_members (scene_id, model_id, frame_time, idx);
"""


def _faces(db: sqlite3.Connection) -> None:
    _script(V3_FACES)(db)
    if "crop" not in {r[1] for r in db.execute("PRAGMA table_info(scene_faces)")}:
        db.execute("ALTER TABLE scene_faces ADD COLUMN crop BLOB")


def statements(sql: str) -> list[str]:
    """The script's statements, split where SQLite says one is complete (so a trigger body's own
    ';' does not split it). Statement by statement, because executescript would COMMIT the
    migration's transaction half-way."""
    out, pending = [], ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


def _script(sql: str) -> Migration:
    def run(db: sqlite3.Connection) -> None:
        for statement in statements(sql):
            db.execute(statement)
    return run


# Version 4: stored CLIP frame embeddings, their models and prompt vectors (issue #11; what the
# columns hold: store/embeddings.py).
V4_EMBEDDINGS = """
CREATE TABLE IF NOT EXISTS scene_embeddings (
  scene_id TEXT NOT NULL, model_id TEXT NOT NULL, n INTEGER NOT NULL, dim INTEGER NOT NULL,
  times BLOB NOT NULL, frames BLOB NOT NULL, pooled BLOB NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY (scene_id, model_id));
CREATE INDEX IF NOT EXISTS scene_embeddings_by_model ON scene_embeddings (model_id, scene_id);
CREATE TABLE IF NOT EXISTS clip_models (
  model_id TEXT PRIMARY KEY, arch TEXT NOT NULL, pretrained TEXT NOT NULL, config TEXT,
  scale REAL NOT NULL, dim INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS prompt_vectors (
  model_id TEXT NOT NULL, prompt TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (model_id, prompt));
"""


# Version 5: the similarity index's change log (issue #12): triggers on scene_embeddings append
# (scene, model) whenever a scene's vectors are written or deleted, so similarity/index.py catches
# up with an append instead of a rebuild.
V5_FIND_CHANGES = """
CREATE TABLE IF NOT EXISTS find_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, scene_id TEXT NOT NULL, model_id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS find_changes_insert AFTER INSERT ON scene_embeddings BEGIN
  INSERT INTO find_changes (scene_id, model_id) VALUES (NEW.scene_id, NEW.model_id); END;
CREATE TRIGGER IF NOT EXISTS find_changes_update AFTER UPDATE ON scene_embeddings BEGIN
  INSERT INTO find_changes (scene_id, model_id) VALUES (NEW.scene_id, NEW.model_id); END;
CREATE TRIGGER IF NOT EXISTS find_changes_delete AFTER DELETE ON scene_embeddings BEGIN
  INSERT INTO find_changes (scene_id, model_id) VALUES (OLD.scene_id, OLD.model_id); END
"""


# Append only: a migration, once released, never changes.
MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _script(V1)),
    (2, _script(V2)),
    (3, _faces),
    (4, _script(V4_EMBEDDINGS)),
    (5, _script(V5_FIND_CHANGES)),
]
LATEST = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection, path: str,
            migrations: list[tuple[int, Migration]] = MIGRATIONS) -> int:
    """Bring the store up to the latest version; returns the version it had. Concurrent processes
    serialise on BEGIN IMMEDIATE and re-read the version inside the transaction."""
    latest = migrations[-1][0]
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > latest:
        raise EnvironmentProblem(
            f"the Stash Sense store {path} was written by a newer Stash Sense (schema "
            f"{current}, this one knows {latest}); update the plugin")
    if current == latest:
        return current
    db.execute("BEGIN IMMEDIATE")
    try:
        current = db.execute("PRAGMA user_version").fetchone()[0]
        for version, step in migrations:
            if version > current:
                step(db)
                db.execute(f"PRAGMA user_version = {int(version)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return current
