"""The plugin source: `python -m stash_sense package` builds what Stash's package manager installs,
and installing it the way Stash does (pkg/pkg: read index.yml, download the zip from its path,
refuse a sha256 mismatch, extract to <plugins>/<source>/<id>/, write a manifest) gives a plugin
folder Stash loads: one strict-valid .yml and nothing else Stash would parse."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

from stash_sense.install.package import INDEX_KEYS, PackageError, build
from tests.helpers.stash_manifest import assert_stash_loads

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "community"                      # Stash installs into <plugins>/<source local path>/<id>/


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(ROOT, tmp_path_factory.mktemp("source"))


def test_same_tree_gives_the_same_zip_and_index(built, tmp_path):
    again = build(ROOT, tmp_path)
    assert again.zip_path.read_bytes() == built.zip_path.read_bytes()
    assert again.index_path.read_text() == built.index_path.read_text()
    assert again.sha256 == built.sha256 == hashlib.sha256(built.zip_path.read_bytes()).hexdigest()


def test_the_zip_holds_only_what_a_user_needs(built):
    with zipfile.ZipFile(built.zip_path) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    for needed in ("stash_sense.yml", "stash_sense.py", "stash_sense/app.py", "ui/stash_sense.js",
                   "stash_sense/data/vocabulary.yaml", "requirements-plugin.txt", "README.md",
                   "stash_sense/install/verify.py"):
        assert needed in names, needed
    assert not [n for n in names if n.split("/")[0] in ("tests", "tools", "bench", "docs", "docker")
                or n.startswith(".") or "__pycache__" in n or n.endswith(".pyc")]
    assert [n for n in names if n.endswith(".yml")] == ["stash_sense.yml"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_the_index_has_exactly_the_fields_stash_reads(built):
    entries = yaml.safe_load(built.index_path.read_text())
    assert isinstance(entries, list) and len(entries) == 1
    entry = entries[0]
    assert list(entry) == list(INDEX_KEYS)
    assert entry["id"] == "stash_sense"              # the manifest's basename
    assert entry["name"] == "Stash Sense"
    assert isinstance(entry["metadata"]["description"], str) and entry["metadata"]["description"]
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9a-f]+)?", entry["version"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["date"])
    assert entry["path"] == "stash_sense.zip"
    assert entry["sha256"] == built.sha256
    assert entry["requires"] == []


def _tree(tmp_path: Path, extra: dict[str, str]) -> Path:
    """A minimal plugin tree outside git (the packager then walks the folder)."""
    root = tmp_path / "tree"
    for rel in ("stash_sense.yml", "stash_sense.py", "stash_sense/__init__.py",
                "requirements-plugin.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    for rel, text in extra.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_second_yml_is_refused_naming_it(tmp_path):
    root = _tree(tmp_path, {"stash_sense/data/labels.yml": "a: 1\n"})
    with pytest.raises(PackageError, match="stash_sense/data/labels.yml"):
        build(root, tmp_path / "out")


def test_outside_git_the_date_comes_from_source_date_epoch(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"tests/test_x.py": "", "stash_sense/__pycache__/x.pyc": ""})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    package = build(root, tmp_path / "out")
    assert package.entry["date"] == "2026-01-01 00:00:00"
    assert package.files == ("requirements-plugin.txt", "stash_sense.py", "stash_sense.yml",
                             "stash_sense/__init__.py")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def install_like_stash(index_url: str, plugins: Path) -> Path:
    """pkg/pkg's install: index -> zip URL relative to the index -> sha256 -> extract -> manifest."""
    with urllib.request.urlopen(index_url, timeout=30) as response:
        entries = yaml.safe_load(response.read())
    entry = next(e for e in entries if e["id"] == "stash_sense")
    with urllib.request.urlopen(urllib.parse.urljoin(index_url, entry["path"]), timeout=30) as r:
        data = r.read()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise AssertionError("sha256 mismatch: Stash refuses the package")
    target = plugins / SOURCE / entry["id"]
    target.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(target)
        files = archive.namelist()
    (target / "manifest").write_text(yaml.safe_dump(
        {"id": entry["id"], "name": entry["name"], "version": entry["version"],
         "date": entry["date"], "files": files}))
    return target


@pytest.fixture()
def served(built):
    handler = lambda *a, **k: _Quiet(*a, directory=str(built.index_path.parent), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.yml"
    finally:
        server.shutdown()
        server.server_close()


def test_installed_the_way_stash_does_it_loads_and_runs(served, tmp_path):
    plugins = tmp_path / "plugins"
    folder = install_like_stash(served, plugins)
    ymls = sorted(p.relative_to(plugins).as_posix() for p in plugins.rglob("*.yml"))
    assert ymls == [f"{SOURCE}/stash_sense/stash_sense.yml"]     # Stash parses every .yml
    assert_stash_loads(yaml.safe_load((folder / "stash_sense.yml").read_text()))
    # Stash's way of running it: cwd is not the plugin folder, PYTHONPATH gets the folder's parent
    env = dict(os.environ, PYTHONPATH=str(folder.parent))
    proc = subprocess.run([sys.executable, str(folder / "stash_sense.py")], cwd=str(tmp_path),
                          input=json.dumps({"server_connection": {}, "args": {"mode": "dance"}}),
                          capture_output=True, text=True, timeout=60, env=env)
    error = json.loads(proc.stdout)["error"]
    assert "unknown mode 'dance'" in error and "install_deps" in error and "doctor" in error


def test_a_tampered_zip_is_refused(served, built, tmp_path):
    original = built.zip_path.read_bytes()
    try:
        built.zip_path.write_bytes(original + b"x")
        with pytest.raises(AssertionError, match="sha256 mismatch"):
            install_like_stash(served, tmp_path / "plugins")
    finally:
        built.zip_path.write_bytes(original)
