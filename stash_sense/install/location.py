"""Where the dependency environment lives, and how the entry finds it without asking Stash.

The environment is never inside Stash's plugins folder: Stash loads every `.yml` below that folder
as a plugin, and site-packages is full of them (and a package update must not touch it). Default:
`stash_sense_env` beside the plugins folder — with Stash's default layout `~/.stash/stash_sense_env`,
next to Stash's own data (config, database, generated files); the setting `envDir` moves it.

The entry `stash_sense.py` must decide whether to re-run itself in the environment before it reads
anything (a hook has to stay fast; asking Stash for the setting would cost a request), so the
install task leaves a small pointer file in the plugin folder, `python_env.json`. Stash's package
manager deletes only the files it installed on update or uninstall, so the pointer survives both.
Its name and keys are repeated in stash_sense.py, which imports nothing of ours before it decides.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

POINTER_NAME = "python_env.json"
DEFAULT_ENV_NAME = "stash_sense_env"
REEXEC_FLAG = "STASH_SENSE_IN_ENV"     # set by the entry before it re-runs itself: never twice


def env_python(env_dir: str, system: str | None = None) -> str:
    windows = (system or ("Windows" if os.name == "nt" else "")) == "Windows"
    return os.path.join(env_dir, "Scripts", "python.exe") if windows else \
        os.path.join(env_dir, "bin", "python")


def default_env_dir(plugins_path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(plugins_path.rstrip("/\\"))),
                        DEFAULT_ENV_NAME)


def is_inside(path: str, folder: str) -> bool:
    path, folder = (os.path.normcase(os.path.realpath(p)) for p in (path, folder))
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def resolve_env_dir(setting: str, plugins_path: str, plugin_dir: str) -> str:
    """The env folder from the `envDir` setting (or the default). Raises ValueError when it would
    sit inside the plugins folder or the plugin folder."""
    env_dir = os.path.abspath(os.path.expanduser(setting)) if setting else \
        default_env_dir(plugins_path or os.path.dirname(plugin_dir))
    for folder, what in ((plugins_path, "Stash's plugins folder"), (plugin_dir, "the plugin folder")):
        if folder and is_inside(env_dir, folder):
            raise ValueError(f"the dependency environment {env_dir} would be inside {what} "
                             f"({folder}): Stash would load the .yml files of its packages as "
                             "plugins. Set envDir to a folder outside it")
    return env_dir


@dataclass(frozen=True)
class Pointer:
    env: str
    python: str
    torch: str = ""
    created: str = ""


def pointer_path(plugin_dir: str) -> str:
    return os.path.join(plugin_dir, POINTER_NAME)


def read_pointer(plugin_dir: str) -> Pointer | None:
    try:
        with open(pointer_path(plugin_dir), encoding="utf-8") as handle:
            data = json.load(handle)
        return Pointer(env=str(data["env"]), python=str(data["python"]),
                       torch=str(data.get("torch", "")), created=str(data.get("created", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pointer(plugin_dir: str, env_dir: str, python: str, torch: str) -> str:
    """Owner-only, written atomically: a half-written pointer would send the entry nowhere."""
    path = pointer_path(plugin_dir)
    tmp = path + ".part"
    data = {"env": env_dir, "python": python, "torch": torch,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)
    return path


def running_in(env_dir: str) -> bool:
    """Is this interpreter the environment's? (sys.prefix, not the executable: a venv's python is
    often a symlink to the very same binary as the base Python.)"""
    return os.path.normcase(os.path.realpath(sys.prefix)) == \
        os.path.normcase(os.path.realpath(env_dir))


def folder_size(path: str) -> int:
    """Bytes of the files below `path` (links not followed; unreadable files skipped)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total
