"""`python -m stash_sense package --out DIR`: the plugin source Stash's package manager installs from.

Stash (pkg/pkg) reads a source's `index.yml`, downloads each entry's zip from `path` (relative to
the index), refuses it unless its sha256 matches, extracts it into `<plugins>/<source>/<id>/` and
offers an upgrade whenever an entry's `date` is newer than the installed one. It then loads every
`*.yml` under the plugins folder as a plugin, strictly — so the zip holds `stash_sense.yml` at its
root and no other `.yml`, and only what a user runs (no tests, tools, benchmarks or screenshots).

Reproducible on purpose: the same tree gives a byte-identical zip and the same sha256 (entries
sorted, one fixed timestamp, fixed permissions, fixed compression), so a rebuild on CI never makes
Stash see a change that isn't one, and anybody can check a published zip against the sources.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import PLUGIN_ID
from ..errors import StashSenseError

MANIFEST = f"{PLUGIN_ID}.yml"
ZIP_NAME = f"{PLUGIN_ID}.zip"
INDEX_NAME = "index.yml"
# What a user needs, as patterns on repository-relative paths ("dir/" = everything below it).
INCLUDE = (MANIFEST, f"{PLUGIN_ID}.py", f"{PLUGIN_ID}/", "ui/", "requirements*.txt", "README.md",
           "LICENSE*", "COPYING*")
EXCLUDE_PARTS = ("__pycache__", ".pytest_cache", "node_modules")
EXCLUDE_SUFFIXES = (".pyc", ".pyo", ".part")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)      # the earliest time a zip can hold: no build time leaks in
FILE_MODE = 0o644
INDEX_KEYS = ("id", "name", "metadata", "version", "date", "path", "sha256", "requires")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"     # what Stash parses, in UTC


class PackageError(StashSenseError):
    """The tree cannot become a package Stash would load (e.g. a second .yml)."""


@dataclass(frozen=True)
class Package:
    zip_path: Path
    index_path: Path
    sha256: str
    files: tuple[str, ...]
    entry: dict


def wanted(rel: str) -> bool:
    parts = rel.split("/")
    if any(p in EXCLUDE_PARTS or p.startswith(".") for p in parts):
        return False
    if rel.endswith(EXCLUDE_SUFFIXES):
        return False
    for pattern in INCLUDE:
        if pattern.endswith("/"):
            if rel.startswith(pattern):
                return True
        elif "/" not in rel and fnmatch.fnmatchcase(rel, pattern):
            return True
    return False


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "surrogateescape") if proc.returncode == 0 else None


def list_files(root: Path) -> list[str]:
    """Files to ship, relative with '/' and sorted. In a git checkout: tracked and new files that
    .gitignore does not exclude (never a local models/, data/ or venv); else a walk of the tree."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is not None:
        candidates = [p for p in listed.split("\0") if p]
    else:
        candidates = [Path(d, f).relative_to(root).as_posix()
                      for d, _, files in os.walk(root) for f in files]
    return sorted({rel for rel in candidates if wanted(rel) and (root / rel).is_file()})


def check_files(files: list[str]) -> None:
    if MANIFEST not in files:
        raise PackageError(f"{MANIFEST} is missing: it must sit at the root of the package")
    other = [f for f in files if f.lower().endswith(".yml") and f != MANIFEST]
    if other:
        raise PackageError("Stash loads every .yml under its plugins folder as a plugin; rename "
                           f"these data files to .yaml or .json: {', '.join(other)}")


def build_zip(root: Path, files: list[str], target: Path) -> None:
    """Sorted entries, one timestamp, one mode, fixed compression: byte-identical for one tree."""
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w") as archive:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=ZIP_TIME)
            info.create_system = 3                      # unix, whatever machine builds it
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / rel).read_bytes(), compresslevel=9)
    os.replace(tmp, target)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(root: Path) -> dict:
    import yaml  # noqa: PLC0415 - packaging runs in a dev or CI environment, never in Stash
    manifest = yaml.safe_load((root / MANIFEST).read_text(encoding="utf-8")) or {}
    for key in ("name", "version", "description"):
        if not manifest.get(key):
            raise PackageError(f"{MANIFEST} has no {key!r}; the package index needs it")
    return manifest


def source_time(root: Path, files: list[str]) -> tuple[int, str]:
    """(UTC seconds, short commit hash or ""): SOURCE_DATE_EPOCH, else the last commit's time,
    else the newest file. Stash offers an upgrade when this date is newer than the installed one."""
    commit = (_git(root, "log", "-1", "--format=%ct %h") or "").split()
    if os.environ.get("SOURCE_DATE_EPOCH", "").strip().isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"]), commit[1] if len(commit) == 2 else ""
    if len(commit) == 2:
        return int(commit[0]), commit[1]
    return int(max((root / f).stat().st_mtime for f in files)), ""


def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)      # a JSON string is a YAML double-quoted one


def render_index(entries: list[dict]) -> str:
    """index.yml in the layout of stashapp/CommunityScripts' build_site.sh."""
    lines = []
    for entry in entries:
        lines.append(f"- id: {entry['id']}")
        lines.append(f"  name: {_yaml_scalar(entry['name'])}")
        lines.append("  metadata:")
        for key, value in entry["metadata"].items():
            lines.append(f"    {key}: {_yaml_scalar(value)}")
        lines.append(f"  version: {_yaml_scalar(entry['version'])}")
        lines.append(f"  date: {_yaml_scalar(entry['date'])}")
        lines.append(f"  path: {entry['path']}")
        lines.append(f"  sha256: {entry['sha256']}")
        if entry["requires"]:
            lines.append("  requires:")
            lines.extend(f"    - {r}" for r in entry["requires"])
        else:
            lines.append("  requires: []")
    return "\n".join(lines) + "\n"


def build(root: str | os.PathLike, out: str | os.PathLike) -> Package:
    root, out = Path(root).resolve(), Path(out).resolve()
    files = list_files(root)
    check_files(files)
    manifest = read_manifest(root)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / ZIP_NAME
    build_zip(root, files, zip_path)
    digest = sha256_of(zip_path)
    seconds, commit = source_time(root, files)
    version = str(manifest["version"]) + (f"-{commit}" if commit else "")
    entry = {"id": PLUGIN_ID, "name": str(manifest["name"]),
             "metadata": {"description": " ".join(str(manifest["description"]).split())},
             "version": version, "date": time.strftime(DATE_FORMAT, time.gmtime(seconds)),
             "path": ZIP_NAME, "sha256": digest, "requires": []}
    index_path = out / INDEX_NAME
    index_path.write_text(render_index([entry]), encoding="utf-8")
    return Package(zip_path, index_path, digest, tuple(files), entry)
