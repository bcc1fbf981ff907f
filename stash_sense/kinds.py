"""The closed sets of values that cross layers — written to the store, sent to the scene tab,
compared by the planner — as `str` enums, so what is stored and sent is the bare value it always
was ("tag", "sprite") while the code names every member.

`StrEnum` is the standard library's (Python 3.11) re-done for 3.10: a member formats and prints
as its value, so an f-string or a `"kind:key"` spelling never turns into "Kind.TAG".
"""
from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A `str` whose values are a closed set; str() and format() give the value."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class Kind(StrEnum):
    """What a finding proposes and what the ledger owns on a scene. Findings are tags, studios or
    performers; a tag finding's segments become markers, which the ledger owns one by one."""
    TAG = "tag"
    MARKER = "marker"
    STUDIO = "studio"
    PERFORMER = "performer"


class FrameKind(StrEnum):
    """Where an analyzer's frames come from: Stash's sprite sheet (81 tiles of 160 px) or
    full-resolution frames decoded from the video."""
    SPRITE = "sprite"
    VIDEO = "video"
