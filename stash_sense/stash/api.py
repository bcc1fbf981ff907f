"""Every GraphQL document Stash Sense sends, behind small typed methods.

Documents are plain strings named `StashSense*` so Stash's logs and the test stand-in's records show
who asked. The stand-in validates each against Stash's schema.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import CLIENT_MUTATION_ID  # noqa: F401 - every scene update carries it (see hooks)

if TYPE_CHECKING:
    from .client import StashClient

SCENE_FIELDS = """
  id title organized created_at updated_at
  tags { id name created_at }
  studio { id name created_at }
  performers { id name created_at }
  files { path duration width height frame_rate }
  paths { sprite vtt stream screenshot }
  scene_markers { id title seconds end_seconds created_at primary_tag { id name } tags { id name } }
"""
TAG_FIELDS = "id name aliases created_at parents { id }"
# What a scene mutation answers: Stash's confirmation of what the scene now holds, with the
# created_at the ledger records as each item's identity.
CONFIRM_FIELDS = ("id updated_at tags { id created_at } studio { id created_at }"
                  " performers { id created_at }")


class StashAPI:
    def __init__(self, client: StashClient):
        self.client = client

    def clone(self) -> StashAPI:
        """The same Stash for another thread (the batch fetches scenes ahead in one)."""
        return StashAPI(self.client.clone())

    # -- configuration ---------------------------------------------------------------------------
    def plugin_settings(self, plugin_id: str) -> dict[str, Any]:
        data = self.client.execute(
            "query StashSensePluginConfig($ids: [ID!]) { configuration { plugins(include: $ids) } }",
            {"ids": [plugin_id]})
        plugins = data["configuration"].get("plugins") or {}
        return dict(plugins.get(plugin_id) or {})

    def general_config(self) -> dict[str, Any]:
        data = self.client.execute(
            "query StashSenseGeneralConfig { configuration { general {"
            " ffmpegPath ffprobePath generatedPath configFilePath } } }")
        return data["configuration"]["general"]

    # -- scenes ----------------------------------------------------------------------------------
    def find_scene(self, scene_id: str) -> dict[str, Any] | None:
        data = self.client.execute(
            f"query StashSenseScene($id: ID!) {{ findScene(id: $id) {{ {SCENE_FIELDS} }} }}",
            {"id": str(scene_id)})
        return data["findScene"]

    def scene_ids_with_tags(self, tag_ids: list[str], per_page: int = 250) -> list[str]:
        """Ids of every scene carrying any of `tag_ids`, collected page by page before any work.

        A snapshot first, because finished scenes leave the filter (their TagMe is removed) and
        paging while the set shrinks would skip scenes. Ids only: cheap even for 100k scenes.
        """
        ids: list[str] = []
        page = 1
        while True:
            data = self.client.execute(
                "query StashSenseSceneIds($f: SceneFilterType, $p: FindFilterType) {"
                " findScenes(scene_filter: $f, filter: $p) { count scenes { id } } }",
                {"f": {"tags": {"value": tag_ids, "modifier": "INCLUDES"}},
                 "p": {"page": page, "per_page": per_page, "sort": "id", "direction": "ASC"}})
            scenes = data["findScenes"]["scenes"]
            ids.extend(s["id"] for s in scenes)
            if len(scenes) < per_page:
                return list(dict.fromkeys(ids))
            page += 1

    def find_scenes(self, scene_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Several scenes by id in one request (re-tagging 10,000 scenes: 100 requests, not
        10,000); ids that no longer exist are simply absent from the result."""
        data = self.client.execute(
            "query StashSenseScenesById($ids: [ID!], $p: FindFilterType) {"
            f" findScenes(ids: $ids, filter: $p) {{ scenes {{ {SCENE_FIELDS} }} }} }}",
            {"ids": [str(i) for i in scene_ids], "p": {"per_page": -1}})
        return {str(s["id"]): s for s in data["findScenes"]["scenes"]}

    def library_page(self, page: int, per_page: int = 500) -> tuple[int, list[dict[str, Any]]]:
        """The user's own labelling, light: per scene its tags, organized flag and markers
        (learn and evaluate read the whole library this way; no files, no paths)."""
        data = self.client.execute(
            "query StashSenseLibrary($p: FindFilterType) { findScenes(filter: $p) { count scenes {"
            " id organized tags { id } files { duration }"
            " scene_markers { seconds end_seconds primary_tag { id } } } } }",
            {"p": {"page": page, "per_page": per_page, "sort": "id", "direction": "ASC"}})
        result = data["findScenes"]
        return result["count"], result["scenes"]

    def all_tags(self) -> list[dict[str, Any]]:
        data = self.client.execute(
            "query StashSenseAllTags { findTags(filter: {per_page: -1}) {"
            f" tags {{ {TAG_FIELDS} }} }} }}")
        return data["findTags"]["tags"]

    def update_scene_tags(self, scene_ids: list[str], tag_ids: list[str],
                          mode: str) -> list[dict[str, Any]]:
        """ADD or REMOVE tags; returns Stash's confirmation of each scene (CONFIRM_FIELDS)."""
        if not tag_ids:
            return []
        data = self.client.execute(
            "mutation StashSenseSceneTags($input: BulkSceneUpdateInput!) {"
            f" bulkSceneUpdate(input: $input) {{ {CONFIRM_FIELDS} }} }}",
            {"input": {"clientMutationId": CLIENT_MUTATION_ID, "ids": scene_ids,
                       "tag_ids": {"ids": tag_ids, "mode": mode}}})
        return data["bulkSceneUpdate"] or []

    def update_scene_performers(self, scene_id: str, performer_ids: list[str],
                                mode: str) -> list[dict[str, Any]]:
        if not performer_ids:
            return []
        data = self.client.execute(
            "mutation StashSenseScenePerformers($input: BulkSceneUpdateInput!) {"
            f" bulkSceneUpdate(input: $input) {{ {CONFIRM_FIELDS} }} }}",
            {"input": {"clientMutationId": CLIENT_MUTATION_ID, "ids": [scene_id],
                       "performer_ids": {"ids": performer_ids, "mode": mode}}})
        return data["bulkSceneUpdate"] or []

    def set_scene_studio(self, scene_id: str, studio_id: str | None) -> list[dict[str, Any]]:
        data = self.client.execute(
            "mutation StashSenseSceneStudio($input: BulkSceneUpdateInput!) {"
            f" bulkSceneUpdate(input: $input) {{ {CONFIRM_FIELDS} }} }}",
            {"input": {"clientMutationId": CLIENT_MUTATION_ID, "ids": [scene_id],
                       "studio_id": studio_id}})
        return data["bulkSceneUpdate"] or []

    def scene_studio_id(self, scene_id: str) -> str | None:
        """The scene's studio right now (re-read just before the plugin sets one)."""
        data = self.client.execute(
            "query StashSenseSceneStudioNow($id: ID!) { findScene(id: $id) { studio { id } } }",
            {"id": str(scene_id)})
        scene = data["findScene"] or {}
        return str(scene["studio"]["id"]) if scene.get("studio") else None

    def scene_created_at(self, scene_ids: list[str]) -> dict[str, str]:
        """id -> created_at of those scenes that exist (the others are absent)."""
        if not scene_ids:
            return {}
        data = self.client.execute(
            "query StashSenseSceneIdentity($ids: [ID!], $p: FindFilterType) {"
            " findScenes(ids: $ids, filter: $p) { scenes { id created_at } } }",
            {"ids": [str(i) for i in scene_ids], "p": {"per_page": -1}})
        return {str(s["id"]): str(s["created_at"]) for s in data["findScenes"]["scenes"]}

    def tags_by_ids(self, tag_ids: list[str]) -> dict[str, dict[str, Any]]:
        """id -> tag for those tags that exist."""
        if not tag_ids:
            return {}
        data = self.client.execute(
            "query StashSenseTagsById($ids: [ID!], $p: FindFilterType) {"
            f" findTags(ids: $ids, filter: $p) {{ tags {{ {TAG_FIELDS} }} }} }}",
            {"ids": [str(i) for i in tag_ids], "p": {"per_page": -1}})
        return {str(t["id"]): t for t in data["findTags"]["tags"]}

    def performer_ids_existing(self, performer_ids: list[str]) -> set[str]:
        if not performer_ids:
            return set()
        data = self.client.execute(
            "query StashSensePerformersById($ids: [ID!], $p: FindFilterType) {"
            " findPerformers(ids: $ids, filter: $p) { performers { id } } }",
            {"ids": [str(i) for i in performer_ids], "p": {"per_page": -1}})
        return {str(p["id"]) for p in data["findPerformers"]["performers"]}

    # -- markers ---------------------------------------------------------------------------------
    def create_marker(self, scene_id: str, title: str, seconds: float, end_seconds: float | None,
                      primary_tag_id: str, tag_ids: list[str]) -> dict[str, Any]:
        """Returns the marker as Stash made it: {id, created_at}."""
        data = self.client.execute(
            "mutation StashSenseMarkerCreate($input: SceneMarkerCreateInput!) {"
            " sceneMarkerCreate(input: $input) { id created_at } }",
            {"input": {"scene_id": scene_id, "title": title, "seconds": seconds,
                       "end_seconds": end_seconds, "primary_tag_id": primary_tag_id,
                       "tag_ids": tag_ids}})
        return data["sceneMarkerCreate"]

    def destroy_markers(self, marker_ids: list[str]) -> None:
        if marker_ids:
            self.client.execute(
                "mutation StashSenseMarkersDestroy($ids: [ID!]!) { sceneMarkersDestroy(ids: $ids) }",
                {"ids": marker_ids})

    # -- tags ------------------------------------------------------------------------------------
    def tags_named(self, name: str) -> list[dict[str, Any]]:
        """Tags whose name or alias matches `name` the way Stash compares (LIKE: case-insensitive)."""
        data = self.client.execute(
            "query StashSenseTagsNamed($f: TagFilterType) {"
            f" findTags(tag_filter: $f, filter: {{per_page: -1}}) {{ tags {{ {TAG_FIELDS} }} }} }}",
            {"f": {"name": {"value": name, "modifier": "EQUALS"},
                   "OR": {"aliases": {"value": name, "modifier": "EQUALS"}}}})
        return data["findTags"]["tags"]

    def create_tag(self, name: str, parent_ids: list[str], ignore_auto_tag: bool = True,
                   description: str = "") -> dict[str, Any]:
        data = self.client.execute(
            "mutation StashSenseTagCreate($input: TagCreateInput!) {"
            f" tagCreate(input: $input) {{ {TAG_FIELDS} }} }}",
            {"input": {"name": name, "parent_ids": parent_ids, "ignore_auto_tag": ignore_auto_tag,
                       "description": description}})
        return data["tagCreate"]

    # -- studios and performers ------------------------------------------------------------------
    def all_studios(self) -> list[dict[str, Any]]:
        data = self.client.execute(
            "query StashSenseStudios { findStudios(filter: {per_page: -1}) {"
            " studios { id name aliases } } }")
        return data["findStudios"]["studios"]

    def performers_page(self, page: int, per_page: int) -> tuple[int, list[dict[str, Any]]]:
        data = self.client.execute(
            "query StashSensePerformers($p: FindFilterType) { findPerformers(filter: $p) {"
            " count performers { id name alias_list image_path updated_at } } }",
            {"p": {"page": page, "per_page": per_page, "sort": "id", "direction": "ASC"}})
        result = data["findPerformers"]
        return result["count"], result["performers"]

    def find_performer(self, performer_id: str) -> dict[str, Any] | None:
        data = self.client.execute("query StashSensePerformer($id: ID!) {"
                                   " findPerformer(id: $id) { id name } }", {"id": performer_id})
        return data["findPerformer"]

    def create_performer(self, name: str) -> dict[str, Any]:
        """A new performer (only ever on the user's explicit request: naming a face group)."""
        data = self.client.execute(
            "mutation StashSensePerformerCreate($input: PerformerCreateInput!) {"
            " performerCreate(input: $input) { id name } }", {"input": {"name": name}})
        return data["performerCreate"]

    def scenes_of_performer(self, performer_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` scenes the performer is tagged in, fewest performers first (a scene with
        only this performer says most about their face)."""
        data = self.client.execute(
            "query StashSensePerformerScenes($f: SceneFilterType, $p: FindFilterType) {"
            f" findScenes(scene_filter: $f, filter: $p) {{ scenes {{ {SCENE_FIELDS} }} }} }}",
            {"f": {"performers": {"value": [str(performer_id)], "modifier": "INCLUDES"}},
             "p": {"page": 1, "per_page": int(limit), "sort": "performer_count",
                   "direction": "ASC"}})
        return data["findScenes"]["scenes"]

    def find_job(self, job_id: str) -> dict[str, Any] | None:
        data = self.client.execute(
            "query StashSenseJob($id: ID!) { findJob(input: {id: $id}) { id status } }",
            {"id": str(job_id)})
        return data["findJob"]

    def run_plugin_task(self, plugin_id: str, task_name: str, args: dict[str, Any]) -> str:
        data = self.client.execute(
            "mutation StashSenseRunTask($p: ID!, $t: String, $a: Map) {"
            " runPluginTask(plugin_id: $p, task_name: $t, args_map: $a) }",
            {"p": plugin_id, "t": task_name, "a": args})
        return str(data["runPluginTask"])
