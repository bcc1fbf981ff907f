"""The package's layers: every import, lazy ones and TYPE_CHECKING ones included, points down.

Why a test and not a convention: the reasons a layer exists (hooks that import no torch, a store
any task can open, models that load without the analyzers that use them) hold only while nothing
lower reaches up. A module may import from its own layer or any layer below it; a new top-level
module must be placed in LAYERS, so its place is a decision, not an accident.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stash_sense"

# Lowest first. Names are top-level modules or subpackages of stash_sense.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"__init__", "errors", "log", "settings", "vocabulary", "findings", "feedback", "kinds"}),
    ("the outside world", {"stash", "store", "models", "aggregate", "faces", "frames"}),
    ("analysis", {"context", "analyzers", "studios", "references", "similarity", "learn",
                  "tagging"}),
    ("one scene end to end", {"pipeline"}),
    ("commands", {"tasks", "cli", "install"}),
    ("entry", {"app", "__main__"}),
]


def layer_of(name: str) -> int:
    for rank, (_, members) in enumerate(LAYERS):
        if name in members:
            return rank
    raise AssertionError(f"stash_sense.{name} has no layer: add it to LAYERS in {__file__}")


def top_level(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_top_levels(path: Path) -> set[tuple[str, int]]:
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts   # ("stash_sense", "x", "y")
    return imports_in(path.read_text(encoding="utf-8"), rel)


def imports_in(source: str, rel: tuple[str, ...]) -> set[tuple[str, int]]:
    """(top-level stash_sense module imported, line) for every import in a module's source."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[:-1])                     # the module's package
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                targets = ([f"{module}.{a.name}" for a in node.names] if not node.module
                           else [module])
            else:
                targets = [node.module or ""]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for target in targets:
            parts = target.split(".")
            if parts[0] != "stash_sense":
                continue
            name = parts[1] if len(parts) > 1 else "__init__"
            if not ((PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()):
                name = "__init__"             # `from .. import PLUGIN_ID`: the package itself
            found.add((name, node.lineno))
    return found


def test_every_module_has_a_layer():
    names = {top_level(p) for p in PACKAGE.rglob("*.py")}
    for name in names:
        layer_of(name)


def test_no_import_points_up():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = top_level(path)
        for target, line in imported_top_levels(path):
            if layer_of(target) > layer_of(here):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({LAYERS[layer_of(here)][0]})"
                              f" imports stash_sense.{target} ({LAYERS[layer_of(target)][0]})")
    assert not upward, "imports from a lower layer up to a higher one:\n" + "\n".join(upward)


def test_the_check_sees_relative_lazy_and_absolute_imports():
    """The walker must not be blind: imports inside functions and TYPE_CHECKING blocks count."""
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..tasks import tag\n"
              "def f():\n    from ..analyzers.clip import ClipAnalyzer\n"
              "    from . import download\n    import stash_sense.pipeline\n")
    found = imports_in(source, ("stash_sense", "models", "catalog"))
    assert found == {("tasks", 3), ("analyzers", 5), ("models", 6), ("pipeline", 7)}
