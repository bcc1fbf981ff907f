"""Find the user's tag by name or alias (Stash compares case-insensitively), or create ours.

Tags we create sit under the parent tag (`StashSense` by default) with ignore_auto_tag set, so
Stash's Auto Tag never matches them against file names. An existing tag — found by its name or any
of its aliases, or by one of our vocabulary's aliases — is always preferred: no `X_AI` duplicates.
"""
from __future__ import annotations

from typing import Iterable

from ..stash.api import StashAPI


class TagResolver:
    def __init__(self, api: StashAPI, parent_name: str):
        self.api = api
        self.parent_name = parent_name
        self._ids: dict[str, str | None] = {}   # lower-cased name -> id (None: looked, absent)
        self.created: list[str] = []

    def _lookup(self, name: str) -> str | None:
        key = name.strip().lower()
        if key not in self._ids:
            match = None
            for tag in self.api.tags_named(name.strip()):
                names = [tag["name"], *(tag.get("aliases") or [])]
                if any(n.strip().lower() == key for n in names):
                    match = str(tag["id"])
                    break
            self._ids[key] = match
        return self._ids[key]

    def find(self, name: str, aliases: Iterable[str] = ()) -> str | None:
        for candidate in (name, *aliases):
            found = self._lookup(candidate)
            if found is not None:
                return found
        return None

    def known(self, names: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, str]:
        """lower-cased name/alias -> id for every (name, aliases) pair that already exists."""
        result: dict[str, str] = {}
        for name, aliases in names:
            for candidate in (name, *aliases):
                tid = self._lookup(candidate)
                if tid is not None:
                    result[candidate.lower()] = tid
        return result

    def ensure(self, name: str, aliases: Iterable[str] = (), *, under_parent: bool = True) -> str:
        found = self.find(name, aliases)
        if found is not None:
            return found
        parents = [self.ensure(self.parent_name, under_parent=False)] if under_parent else []
        tag = self.api.create_tag(name, parent_ids=parents, ignore_auto_tag=True,
                                  description="Created by Stash Sense" if under_parent else
                                  "Stash Sense workflow tag")
        self._ids[name.strip().lower()] = str(tag["id"])
        self.created.append(name)
        return str(tag["id"])
