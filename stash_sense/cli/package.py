"""`python -m stash_sense package --out DIR`: build DIR/index.yml and DIR/stash_sense.zip, the
plugin source to publish (see stash_sense/install/package.py and README "Install into Stash")."""
from __future__ import annotations

import argparse

from .. import PLUGIN_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder for index.yml and stash_sense.zip")
    parser.add_argument("--root", default=PLUGIN_DIR, help="the source tree (default: this checkout)")


def run(args: argparse.Namespace, out) -> int:
    from ..install.package import build  # noqa: PLC0415
    package = build(args.root, args.out)
    out.write(f"{package.index_path}\n{package.zip_path}  {len(package.files)} files  "
              f"sha256 {package.sha256}\n")
    return 0
