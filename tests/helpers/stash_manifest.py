"""The strict check Stash's loader makes on a plugin manifest (pkg/plugin/config.go decodes with
yaml.v2 SetStrict: an unknown key anywhere drops the plugin), shared by the repository's manifest
test and the installed-package test."""
from __future__ import annotations

TOP_KEYS = {"name", "description", "url", "version", "interface", "exec", "errLog", "tasks",
            "hooks", "ui", "settings"}
OPERATION_KEYS = {"name", "description", "execArgs", "defaultArgs"}
UI_KEYS = {"requires", "csp", "javascript", "css", "assets"}
SETTING_KEYS = {"type", "displayName", "description"}


def assert_stash_loads(manifest: dict) -> None:
    assert set(manifest) <= TOP_KEYS, set(manifest) - TOP_KEYS
    assert manifest["interface"] == "raw"
    assert manifest["exec"] == ["python", "{pluginDir}/stash_sense.py"]
    for task in manifest["tasks"]:
        assert set(task) <= OPERATION_KEYS and isinstance(task["defaultArgs"]["mode"], str), task
    for hook in manifest.get("hooks") or []:
        assert set(hook) <= OPERATION_KEYS | {"triggeredBy"}, hook
    assert set(manifest.get("ui") or {}) <= UI_KEYS
    for spec in manifest["settings"].values():
        assert set(spec) <= SETTING_KEYS, spec
