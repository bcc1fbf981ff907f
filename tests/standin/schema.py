"""Load Stash's real GraphQL SDL into a graphql-core schema.

The stand-in executes every request against the very SDL Stash ships
(copied into ``shared/stash-schema``), so a query the plugin sends that would
be rejected by a real Stash is rejected here too.  Resolvers are attached
later by :mod:`resolvers`; this module only finds and parses the SDL.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphql import GraphQLSchema

REPO_ROOT = Path(__file__).resolve().parents[2]

# Stash's custom scalars.  gqlgen serialises them as plain JSON, so identity
# (de)serialisation is what a client observes.  Literals are converted with
# value_from_ast_untyped so an inline `{a: 1, b: [2]}` object arrives as a dict.
CUSTOM_SCALARS = (
    "Map", "Any", "Time", "Timestamp", "Int64", "BoolMap",
    "PluginConfigMap", "Upload",
)


def schema_dir() -> Path:
    """``$STASH_SCHEMA_DIR`` or ``<repo>/../shared/stash-schema``."""
    env = os.environ.get("STASH_SCHEMA_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "stash-schema"


def schema_available() -> bool:
    """True when the SDL can be loaded (tests skip otherwise)."""
    d = schema_dir()
    return (d / "schema.graphql").is_file() and (d / "types").is_dir()


def read_sdl(directory: Path | None = None) -> str:
    d = Path(directory) if directory else schema_dir()
    parts = [(d / "schema.graphql").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted((d / "types").glob("*.graphql"))]
    return "\n".join(parts)


def _identity(value):
    return value


def _literal(node, variables=None):
    from graphql.utilities import value_from_ast_untyped
    return value_from_ast_untyped(node, variables)


def _install_scalars(schema: GraphQLSchema) -> None:
    from graphql import GraphQLScalarType
    for name in CUSTOM_SCALARS:
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            scalar.serialize = _identity
            scalar.parse_value = _identity
            scalar.parse_literal = _literal


def load_schema(directory: Path | None = None) -> GraphQLSchema:
    """A fresh schema object with Stash's scalars installed (no resolvers yet)."""
    from graphql import build_schema  # lazy: schema_available() must work without graphql-core
    schema = build_schema(read_sdl(directory))
    _install_scalars(schema)
    return schema
