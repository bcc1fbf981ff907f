"""The store: a schema version with ordered migrations (an install from the first release keeps its
data), nested units of work, and the ledger's rows."""
from __future__ import annotations

import json
import sqlite3

import pytest

from stash_sense.errors import EnvironmentProblem
from stash_sense.store import Store
from stash_sense.store.ledger import Kind, Ledger, State, owner_alive, this_process
from stash_sense.store.schema import LATEST, V1

FIRST_RELEASE_ROWS = [
    "INSERT INTO owned VALUES ('7', 'tag', '12', '{\"name\": \"Pool\", \"category\": \"location\"}',"
    " 'committed', 1.0)",
    "INSERT INTO owned VALUES ('7', 'marker', '30', '{\"name\": \"Pool\", \"tag_id\": \"12\","
    " \"seconds\": 10.0, \"end_seconds\": 60.0}', 'committed', 1.0)",
    "INSERT INTO scene_status VALUES ('7', 'analyzed', NULL, '[\"open_clip:ViT-B-32/x\"]', 5.0)",
    "INSERT INTO suggestions (scene_id, kind, key, name, category, analyzer, confidence, status,"
    " updated_at) VALUES ('7', 'tag', 'beach', 'Beach', 'location', 'clip', 0.4, 'rejected', 2.0)",
    "INSERT INTO feedback VALUES ('tag', 'beach', 0, 1)",
    "INSERT INTO rejected_spans VALUES ('7', 'pool', 100.0, 130.0, 3.0)",
]


def first_release_store(path):
    """A store exactly as the first release left it: its tables, no schema version."""
    db = sqlite3.connect(path)
    db.executescript(V1)
    for statement in FIRST_RELEASE_ROWS:
        db.execute(statement)
    db.commit()
    db.close()


def test_a_store_from_the_first_release_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "stash_sense.sqlite"
    first_release_store(path)
    store = Store(str(path))
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == LATEST
    rows = {(r.kind, r.ref): r for r in Ledger(store).rows("7")}
    assert rows[(Kind.TAG, "12")].state == State.COMMITTED
    assert rows[(Kind.TAG, "12")].detail["name"] == "Pool" and rows[(Kind.TAG, "12")].identity == {}
    assert rows[(Kind.MARKER, "30")].detail["seconds"] == 10.0
    assert Ledger(store).tag_for("pool") == "12"          # followed by id from now on
    assert store.scene_status.get("7").models == ("open_clip:ViT-B-32/x",)
    assert store.suggestions.rejected_keys("7") == {("tag", "beach")}
    assert store.feedback.all() == {("tag", "beach"): (0, 1)}
    store.close()
    again = Store(str(path))                                # a second open changes nothing
    assert len(Ledger(again).rows("7")) == 2


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    with pytest.raises(EnvironmentProblem, match="newer Stash Sense"):
        Store(str(path))


def test_nested_units_of_work_commit_with_the_outer_one(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    with pytest.raises(RuntimeError):
        with store.tx():
            store.feedback.count("tag", "a", accepted=1)        # its own unit, nested
            raise RuntimeError("the outer unit fails")
    assert store.feedback.all() == {}
    with store.tx():
        store.feedback.count("tag", "a", accepted=1)
        with pytest.raises(RuntimeError):
            with store.tx():
                store.feedback.count("tag", "b", accepted=1)
                raise RuntimeError("only the inner unit fails")
    assert store.feedback.all() == {("tag", "a"): (1, 0)}


def test_ledger_rows_are_whole_and_owned_by_their_writer(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    ledger = Ledger(store)
    ledger.put("1", Kind.TAG, ["5"], State.PENDING, {"name": "Red"})
    ledger.drop("1", Kind.TAG, ["5"])                     # another process settled it meanwhile
    ledger.put("1", Kind.TAG, ["5"], State.COMMITTED, {"name": "Red"}, {"target": "t"})
    [row] = ledger.rows("1")
    assert row.detail == {"name": "Red"} and row.state == State.COMMITTED and row.owner is None
    ledger.put("1", Kind.TAG, ["5"], State.REMOVING)
    [row] = ledger.rows("1")
    assert row.owner == this_process() and row.detail == {"name": "Red"}
    assert not owner_alive(row.owner, row.changed_at)     # our own rows are never "another's"
    assert not owner_alive("999999999:1", row.changed_at)  # a process that is gone
    assert json.loads(store.db.execute("SELECT identity FROM owned").fetchone()[0]) == {"target": "t"}


# The faces tables as the first release's faces store created them on first use (no `crop`).
FIRST_RELEASE_FACES = """
CREATE TABLE face_performers (
  performer_id TEXT PRIMARY KEY, name TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE scene_faces (
  scene_id TEXT NOT NULL, model_id TEXT NOT NULL, frame_time REAL NOT NULL, idx INTEGER NOT NULL,
  box TEXT NOT NULL, prob REAL NOT NULL, performer_id TEXT, score REAL NOT NULL,
  embedding BLOB NOT NULL, PRIMARY KEY (scene_id, model_id, frame_time, idx));
INSERT INTO face_performers VALUES ('3', 'Eileen', 1.0);
INSERT INTO scene_faces VALUES ('7', 'facenet:x', 12.5, 0, '[1,2,3,4]', 0.99, '3', 0.8, x'0000');
"""


def test_first_release_faces_survive_the_faces_and_embeddings_migrations(tmp_path):
    """Versions 3-5 adopt the faces tables the first release made, add the crop column, and
    make the embeddings tables and the similarity change log (whose triggers then work)."""
    from stash_sense.store.faces import FaceStore
    path = tmp_path / "stash_sense.sqlite"
    first_release_store(path)
    db = sqlite3.connect(path)
    db.executescript(FIRST_RELEASE_FACES)
    db.close()
    store = Store(str(path))
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == LATEST
    face = store.db.execute("SELECT performer_id, crop FROM scene_faces").fetchone()
    assert tuple(face) == ("3", None)
    assert FaceStore(store).db.execute("SELECT name FROM face_performers").fetchone()[0] == "Eileen"
    store.db.execute("INSERT INTO scene_embeddings VALUES ('7', 'm', 0, 512, x'', x'', x'', 1.0)")
    assert [tuple(r) for r in store.db.execute("SELECT scene_id, model_id FROM find_changes")] == [
        ("7", "m")]
