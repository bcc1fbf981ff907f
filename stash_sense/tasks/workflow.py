"""Workflow tags: TagMe -> Tagged (or Errored with the reason in the log), Reprocess, Review."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from ..stash.api import StashAPI
from ..tagging.tags import TagResolver


@dataclass(frozen=True)
class WorkflowTags:
    ids: dict[str, str]   # role (tagme, tagged, errored, reprocess, review, incorrect) -> tag id

    @classmethod
    def ensure(cls, resolver: TagResolver, settings: Settings) -> "WorkflowTags":
        return cls({role: resolver.ensure(name, under_parent=False)
                    for role, name in settings.workflow_tags.items()})

    def succeeded(self, api: StashAPI, scene_id: str, review: bool = False) -> None:
        add = [self.ids["tagged"]] + ([self.ids["review"]] if review else [])
        api.update_scene_tags([scene_id], add, "ADD")
        remove = [self.ids[r] for r in ("tagme", "reprocess", "errored")]
        if not review:
            remove.append(self.ids["review"])
        api.update_scene_tags([scene_id], remove, "REMOVE")

    def failed(self, api: StashAPI, scene_id: str) -> None:
        api.update_scene_tags([scene_id], [self.ids["errored"]], "ADD")
        api.update_scene_tags([scene_id], [self.ids["tagme"]], "REMOVE")
