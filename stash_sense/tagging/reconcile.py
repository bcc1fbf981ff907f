"""Is the ledger still true of Stash? Checked before anything is planned or removed.

`check_database`: the store belongs to one Stash database. Its fingerprint is the tags the plugin
created, with the created_at Stash gave them. When none of them is in the database the plugin talks
to, the store came from another one (a backup restored from before those tags existed, a new
database with the plugin folder kept): ids in the store now name other things, so the task stops
before any change and says what to do.

`reconcile`: settles what a killed or failed write left half-done, from evidence, never from
"it is there now, so it is mine":
- pending addition (tag, studio, performer): ours only when Stash shows it AND the scene has not
  been updated since shortly after the write (`updated_at` within WINDOW of the pending record).
  A scene the user saved since — perhaps adding that very tag by hand — keeps it as theirs;
- pending marker: ours only when a marker with exactly what was asked (tag, times, title) was
  created within WINDOW of the pending record and no other row claims it;
- removing: still there (and still the same item) -> ours again, the plan decides anew; gone ->
  forgotten, never counted as the user's rejection;
- committed: if the id now names another item (its created_at differs: a restored database handed
  the id out again) the row is forgotten and the item left alone; if the item is gone but the scene
  was not updated since the plugin wrote it, Stash's data is older than the write (a restore): the
  row is forgotten without a rejection.
A row another live process is writing right now (a batch, while the scene tab decides) is left to it.
"""
from __future__ import annotations

from datetime import datetime

from .. import log
from ..errors import EnvironmentProblem
from ..stash.api import StashAPI
from ..store.ledger import Kind, Ledger, OwnedRow, State, owner_alive
from .state import SceneState

WINDOW = 30.0   # seconds: the client's request timeout; a write lands within it or not at all
SLACK = 2.0     # Stash keeps whole seconds


class DatabaseMismatch(EnvironmentProblem):
    """The store was written against another Stash database."""


def epoch(stash_time: str) -> float | None:
    try:
        return datetime.fromisoformat(stash_time.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def check_database(api: StashAPI, ledger: Ledger, path: str = "") -> None:
    sample = ledger.created_tags(limit=50)
    if not sample:
        return
    found = api.tags_by_ids([tid for tid, _, _ in sample])
    if any((found.get(tid) or {}).get("created_at") == created for tid, _, created in sample):
        return
    raise DatabaseMismatch(
        f"This Stash Sense store{f' ({path})' if path else ''} belongs to another Stash database: "
        f"none of the {len(sample)} tags Stash Sense created there is in this one (was a backup "
        "restored, or a new database started with the plugin folder kept?). Nothing was changed. "
        "Run the task 'Clean up Stash Sense data': it checks every record against this database, "
        "forgets what no longer matches and removes nothing from Stash.")


def _landed(row: OwnedRow, scene: SceneState) -> bool:
    """A pending addition that Stash shows, on a scene nobody updated since the write."""
    updated = epoch(scene.updated_at)
    return scene.has(row.kind, row.ref) and updated is not None and \
        row.changed_at - SLACK <= updated <= row.changed_at + WINDOW


def _claim_marker(row: OwnedRow, scene: SceneState, claimed: set[str]) -> str | None:
    d = row.detail
    for m in scene.markers:
        made = epoch(m.created_at)
        if m.id in claimed or made is None or not (
                row.changed_at - SLACK <= made <= row.changed_at + WINDOW):
            continue
        if d.get("tag_id") and m.same_span(str(d["tag_id"]), float(d["seconds"]),
                                           d.get("end_seconds"), tol=0.01) and \
                m.title == str(d.get("title", m.title)):
            return m.id
    return None


def reconcile(ledger: Ledger, scene: SceneState) -> list[str]:
    """Settle the scene's rows against Stash's view of it. Returns notes for the log."""
    notes: list[str] = []
    rows = ledger.rows(scene.id)
    claimed = {r.ref for r in rows if r.kind == Kind.MARKER and r.state != State.PENDING}
    for row in rows:
        kind, ref = row.kind, row.ref
        if row.state == State.RELEASED:
            continue
        if row.state == State.COMMITTED:
            present = scene.has(kind, ref)
            if present and not scene.same_identity(kind, ref, row.identity):
                ledger.drop(scene.id, kind, [ref])
                notes.append(f"{kind.value} {ref} is not the one Stash Sense wrote (the database "
                             "was restored?): left alone and forgotten")
            elif present and not row.identity.get("target"):
                ledger.put(scene.id, kind, [ref], State.COMMITTED,
                           identity=scene.identity_of(kind, ref), mine=False)
            elif not present and kind != Kind.MARKER and _older_than_write(scene, row):
                ledger.drop(scene.id, kind, [ref])
                notes.append(f"{kind.value} {ref}: Stash's data is older than the plugin's write "
                             "(a restored database?): forgotten, not counted as a rejection")
            continue
        if owner_alive(row.owner, row.changed_at):
            continue                                  # another process is writing it right now
        if row.state == State.PENDING:
            if kind == Kind.MARKER:
                ledger.drop(scene.id, kind, [ref])
                match = _claim_marker(row, scene, claimed)
                if match is not None:
                    claimed.add(match)
                    ledger.put(scene.id, kind, [match], State.COMMITTED, row.detail,
                               scene.identity_of(Kind.MARKER, match), mine=False)
            elif _landed(row, scene):
                ledger.put(scene.id, kind, [ref], State.COMMITTED,
                           identity=scene.identity_of(kind, ref), mine=False)
            else:
                ledger.drop(scene.id, kind, [ref])
        elif row.state == State.REMOVING:
            if scene.has(kind, ref) and scene.same_identity(kind, ref, row.identity):
                ledger.put(scene.id, kind, [ref], State.COMMITTED, mine=False)
            else:
                ledger.drop(scene.id, kind, [ref])
    for note in notes:
        log.info(f"scene {scene.id}: {note}")
    return notes


def _older_than_write(scene: SceneState, row: OwnedRow) -> bool:
    updated = epoch(scene.updated_at)
    return updated is not None and row.changed_at > 0 and updated < row.changed_at - SLACK


def gone_tags(resolver, owned_tag_ids, scene: SceneState) -> dict[str, str | None]:
    """Owned tags missing from the scene that no longer exist in Stash: tag id -> the tag it was
    merged into (when that tag is on the scene), or None (deleted). Neither is a rejection."""
    missing = [t for t in owned_tag_ids if t not in scene.tag_ids]
    if not missing:
        return {}
    resolver.load(missing)
    out: dict[str, str | None] = {}
    for tid in missing:
        if resolver.tag(tid) is not None:
            continue                                   # exists: the user took it off the scene
        target = resolver.followed(tid)
        out[tid] = target if target in scene.tag_ids else None
    return out
