"""The user's own tagging, as labels: which scenes carry which tag *because the user put it there*.

Why the care: the plugin writes tags too. A tag the plugin applied and the user merely left in
place says nothing about the user's judgement; learning from it would teach the plugin its own
guesses. So a (scene, tag) is a positive when the user put the tag there (not in the plugin's
ledger), accepted it in the scene tab, or left our tag on a scene they marked organized; it is a
known negative when the user rejected it there. Markers the user made give times (frame level).
Read page by page with a light query (ids, tags, markers): 10,000 scenes are ~20 requests.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..kinds import Kind
from ..store.ledger import Ledger
from ..store.suggestions import SuggestionStatus

if TYPE_CHECKING:
    from ..settings import Settings
    from ..stash.api import StashAPI
    from ..store import Store


@dataclass
class TagInfo:
    id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass
class LibraryLabels:
    tags: dict[str, TagInfo]                                  # id -> tag (not workflow tags)
    positives: dict[str, set[str]]                            # tag id -> scene ids
    negatives: dict[str, set[str]] = field(default_factory=dict)  # tag id -> rejected on scenes
    organized: set[str] = field(default_factory=set)         # scene ids
    markers: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    duration: dict[str, float] = field(default_factory=dict)
    scenes: set[str] = field(default_factory=set)

    def tag_by_name(self) -> dict[str, TagInfo]:
        """lower-cased name and aliases -> tag."""
        out: dict[str, TagInfo] = {}
        for tag in self.tags.values():
            for n in (tag.name, *tag.aliases):
                out.setdefault(n.strip().lower(), tag)
        return out


def excluded_names(settings) -> set[str]:
    return {n.lower() for n in (*settings.workflow_tags.values(), settings.parentTag)}


def read_labels(api: StashAPI, store: Store, settings: Settings, per_page: int = 500
                ) -> LibraryLabels:
    tags = {str(t["id"]): TagInfo(str(t["id"]), t["name"], tuple(t.get("aliases") or ()))
            for t in api.all_tags() if t["name"].lower() not in excluded_names(settings)}
    by_key: dict[str, list[str]] = defaultdict(list)      # lower-cased name/alias -> tag ids
    for tag in tags.values():
        for n in (tag.name, *tag.aliases):
            by_key[n.strip().lower()].append(tag.id)
    owned = Ledger(store).committed_refs(Kind.TAG)
    decided = store.suggestions.decided_keys(Kind.TAG)
    labels = LibraryLabels(tags=tags, positives=defaultdict(set), negatives=defaultdict(set))
    page = 1
    while True:
        _, scenes = api.library_page(page, per_page)
        for scene in scenes:
            sid = str(scene["id"])
            labels.scenes.add(sid)
            files = scene.get("files") or []
            labels.duration[sid] = float((files[0] if files else {}).get("duration") or 0.0)
            if scene.get("organized"):
                labels.organized.add(sid)
            accepted = decided.get(sid, {}).get(SuggestionStatus.ACCEPTED, set())
            for t in scene.get("tags") or []:
                tid = str(t["id"])
                if tid not in tags:
                    continue
                ours = tid in owned.get(sid, set())
                names = {n.lower() for n in (tags[tid].name, *tags[tid].aliases)}
                if not ours or names & accepted or sid in labels.organized:
                    labels.positives[tid].add(sid)
            for m in scene.get("scene_markers") or []:
                tid = str((m.get("primary_tag") or {}).get("id"))
                if tid in tags and m.get("end_seconds") is not None:
                    labels.markers.setdefault(tid, {}).setdefault(sid, []).append(
                        (float(m["seconds"]), float(m["end_seconds"])))
            for key in decided.get(sid, {}).get(SuggestionStatus.REJECTED, set()):
                for tid in by_key.get(key, []):
                    labels.negatives[tid].add(sid)
        if len(scenes) < per_page:
            break
        page += 1
    for tid, scene_ids in labels.negatives.items():   # a rejection wins over a stale tag
        labels.positives[tid] -= scene_ids
    return labels

