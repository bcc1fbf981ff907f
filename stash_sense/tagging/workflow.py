"""Workflow tags: TagMe -> Tagged (or Errored with the reason in the log), Reprocess, Review.

They are written through the one writer like everything else; they are not owned (they say where a
scene is in the workflow, not what is in it). A workflow tag deleted while a batch runs is made
again and the write asked once more.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import Settings
from .apply import Writer
from .tags import TagResolver


@dataclass
class WorkflowTags:
    resolver: TagResolver
    settings: Settings
    ids: dict[str, str] = field(default_factory=dict)  # role -> tag id

    @classmethod
    def ensure(cls, resolver: TagResolver, settings: Settings) -> WorkflowTags:
        tags = cls(resolver, settings)
        tags.refresh()
        return tags

    def refresh(self) -> None:
        self.ids = {role: self.resolver.ensure(name, under_parent=False)
                    for role, name in self.settings.workflow_tags.items()}

    def _write(self, writer: Writer, scene_id: str, add: list[str], remove: list[str]) -> None:
        def again() -> tuple[list[str], list[str]]:
            self.refresh()
            return [self.ids[r] for r in add], [self.ids[r] for r in remove]
        writer.workflow(scene_id, [self.ids[r] for r in add], [self.ids[r] for r in remove],
                        refresh=again)

    def succeeded(self, writer: Writer, scene_id: str, review: bool = False) -> None:
        add = ["tagged"] + (["review"] if review else [])
        remove = ["tagme", "reprocess", "errored"] + ([] if review else ["review"])
        self._write(writer, scene_id, add, remove)

    def failed(self, writer: Writer, scene_id: str) -> None:
        self._write(writer, scene_id, ["errored"], ["tagme"])

    def undo(self, writer: Writer, scene_id: str, roles: list[str]) -> None:
        self._write(writer, scene_id, [], roles)
