"""Which Stash tag serves a finding: the one the plugin used before (followed by id), else the
user's tag by name or alias (Stash compares case-insensitively), else a tag the plugin creates.

- Followed by id: once a finding has been written as a tag, the ledger's tag map remembers that
  tag's id. A user who renames "Pool" to "Swimming Pool" keeps that tag on their scenes: the plugin
  neither strips it nor makes a new "Pool". A tag merged into another (Stash's Tag.Merge.Post hook
  tells the ledger) is followed to its merge target.
- Tags the plugin creates sit under the parent tag (`StashSense` by default) with ignore_auto_tag
  set, so Stash's Auto Tag never matches them against file names; each is recorded with Stash's
  created_at — the fingerprint that binds the store to this Stash database.
- The cache lives for one batch. A tag deleted in Stash meanwhile makes a write fail: `refresh`
  forgets what was cached and the writer asks again (tagging/apply.py).
"""
from __future__ import annotations

from collections.abc import Iterable

from ..stash.api import StashAPI
from ..store.ledger import Ledger


class TagResolver:
    def __init__(self, api: StashAPI, parent_name: str, ledger: Ledger | None = None):
        self.api = api
        self.parent_name = parent_name
        self.ledger = ledger
        self._ids: dict[str, str | None] = {}   # lower-cased name -> id (None: looked, absent)
        self._tags: dict[str, dict | None] = {}  # id -> tag as Stash has it (None: gone)
        self.created: list[str] = []

    def refresh(self) -> None:
        """Forget every cached answer (a tag was deleted or renamed while the batch ran)."""
        self._ids.clear()
        self._tags.clear()

    # -- by id ----------------------------------------------------------------------------------
    def tag(self, tag_id: str) -> dict | None:
        """The tag as Stash has it now, or None when it no longer exists (cached per batch)."""
        tag_id = str(tag_id)
        if tag_id not in self._tags:
            self._tags.update({tag_id: None, **self.api.tags_by_ids([tag_id])})
        return self._tags[tag_id]

    def load(self, tag_ids: Iterable[str]) -> None:
        """Ask Stash for many tags at once (one request instead of one per tag)."""
        wanted = [str(t) for t in tag_ids if str(t) not in self._tags]
        if wanted:
            found = self.api.tags_by_ids(wanted)
            self._tags.update({t: found.get(t) for t in wanted})

    def created_at(self, tag_id: str) -> str:
        tag = self.tag(tag_id)
        return str(tag.get("created_at") or "") if tag else ""

    def followed(self, tag_id: str) -> str | None:
        """The tag that stands for `tag_id` now: itself, or what it was merged into."""
        seen = set()
        current: str | None = str(tag_id)
        while current is not None and current not in seen:
            seen.add(current)
            if self.tag(current) is not None:
                return current
            current = self.ledger.merged_into(current) if self.ledger else None
        return None

    # -- by name --------------------------------------------------------------------------------
    def _lookup(self, name: str) -> str | None:
        key = name.strip().lower()
        if key not in self._ids:
            match = None
            for tag in self.api.tags_named(name.strip()):
                names = [tag["name"], *(tag.get("aliases") or [])]
                if any(n.strip().lower() == key for n in names):
                    match = str(tag["id"])
                    self._tags[match] = tag
                    break
            self._ids[key] = match
        return self._ids[key]

    def find(self, name: str, aliases: Iterable[str] = ()) -> str | None:
        """The tag serving this name: the one the plugin used for it before (by id, followed
        through renames and merges), else the first tag named or aliased like it."""
        if self.ledger is not None:
            mapped = self.ledger.tag_for(name)
            if mapped is not None:
                followed = self.followed(mapped)
                if followed is not None:
                    return followed
        for candidate in (name, *aliases):
            found = self._lookup(candidate)
            if found is not None:
                return found
        return None

    def known(self, names: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, str]:
        """lower-cased name/alias -> id for every (name, aliases) pair that already exists. The
        finding's own name maps to the tag `find` chooses (the followed one first)."""
        result: dict[str, str] = {}
        for name, aliases in names:
            chosen = self.find(name, aliases)
            if chosen is not None:
                result[name.lower()] = chosen
            for candidate in aliases:
                tid = self._lookup(candidate)
                if tid is not None:
                    result.setdefault(candidate.lower(), tid)
        return result

    def ensure(self, name: str, aliases: Iterable[str] = (), *, under_parent: bool = True) -> str:
        found = self.find(name, aliases)
        if found is not None:
            return found
        parents = [self.ensure(self.parent_name, under_parent=False)] if under_parent else []
        tag = self.api.create_tag(name, parent_ids=parents, ignore_auto_tag=True,
                                  description="Created by Stash Sense" if under_parent else
                                  "Stash Sense workflow tag")
        tid = str(tag["id"])
        self._ids[name.strip().lower()] = tid
        self._tags[tid] = tag
        self.created.append(name)
        if self.ledger is not None and tag.get("created_at"):
            self.ledger.record_created_tag(tid, name, str(tag["created_at"]))
        return tid
