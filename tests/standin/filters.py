"""Stash's filter semantics, re-implemented over in-memory records.

Stash turns filters into SQLite SQL (``pkg/sqlite/criterion_handlers.go``,
``filter.go``, ``query.go``).  The behaviour a plugin can trip over is what
matters here, so it is copied deliberately:

* string ``EQUALS`` is ``col LIKE ?``: ASCII case-insensitive, and ``%`` /
  ``_`` in the *value* are wildcards (a tag called ``A_B`` matches ``AxB``);
* string ``INCLUDES`` splits the value on whitespace and matches ANY word as
  ``%word%`` (a value wrapped in double quotes is one phrase);
* ``FindFilterType.q`` needs ALL words (``-word`` excludes, ``"a phrase"``,
  ``a OR b``) in any of the searched columns;
* hierarchical criteria expand each value by ``depth`` (0 exact, N levels,
  -1 all descendants); ``EXCLUDES`` means "none of them";
* paging: page < 1 -> 1, per_page default 25, -1 = all, 0 = count only.

Anything the stand-in does not implement raises :class:`Unsupported`, which
the server reports as an error instead of silently ignoring the criterion
(a silently ignored filter would make a plugin test pass for the wrong reason).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class StashError(Exception):
    """An error a real Stash would return as a GraphQL error (message kept verbatim)."""


class Unsupported(StashError):
    """A filter/sort the stand-in does not implement (reported, never ignored)."""


def ascii_lower(s: str) -> str:
    """SQLite NOCASE / LIKE only fold ASCII letters; mimic that exactly."""
    return s.translate(_ASCII_LOWER)


def nocase_equal(a: str | None, b: str | None) -> bool:
    """``a = b COLLATE NOCASE`` (used by Stash's tag/studio name uniqueness checks)."""
    return a is not None and b is not None and ascii_lower(a) == ascii_lower(b)


def like(value: str | None, pattern: str) -> bool:
    """SQLite ``value LIKE pattern`` (no ESCAPE clause): ``%`` any run, ``_`` one char."""
    if value is None:
        return False
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in ascii_lower(pattern))
    return re.fullmatch(rx, ascii_lower(value), re.DOTALL) is not None


def _words(q: str) -> list[str]:
    """Words of ``getStringSearchClause``: a fully quoted value is one phrase."""
    q = q.strip()
    trimmed = q.strip('"')
    if trimmed != q:
        return [trimmed]
    return re.sub(r"\s+", " ", q).split(" ")


def string_criterion(values: Iterable[str | None], crit: dict) -> bool:
    """StringCriterionInput against a column (one value) or a joined list (aliases).

    For a joined list the row matches when ANY joined value matches (that is
    what the SQL join does); the negative modifiers require that NO value matches.
    """
    vals = [v for v in values if v is not None]
    mod, pattern = crit["modifier"], crit["value"]
    if mod == "EQUALS":
        return any(like(v, pattern) for v in vals)
    if mod == "NOT_EQUALS":
        return bool(vals) and not any(like(v, pattern) for v in vals)
    if mod == "INCLUDES":
        return any(like(v, f"%{w}%") for w in _words(pattern) for v in vals)
    if mod == "EXCLUDES":
        return bool(vals) and not any(like(v, f"%{w}%") for w in _words(pattern) for v in vals)
    if mod == "IS_NULL":
        return not any(v.strip() for v in vals)
    if mod == "NOT_NULL":
        return any(v.strip() for v in vals)
    if mod == "MATCHES_REGEX":
        return any(re.search(pattern, v) for v in vals)
    if mod == "NOT_MATCHES_REGEX":
        return bool(vals) and not any(re.search(pattern, v) for v in vals)
    raise Unsupported(f"FakeStash: string modifier {mod} not supported")


def number_criterion(value: float | None, crit: dict) -> bool:
    """IntCriterionInput / FloatCriterionInput."""
    mod, a, b = crit["modifier"], crit.get("value"), crit.get("value2")
    if mod == "IS_NULL":
        return value is None
    if mod == "NOT_NULL":
        return value is not None
    if value is None:
        return False
    if mod == "EQUALS":
        return value == a
    if mod == "NOT_EQUALS":
        return value != a
    if mod == "GREATER_THAN":
        return value > a
    if mod == "LESS_THAN":
        return value < a
    if mod in ("BETWEEN", "NOT_BETWEEN"):
        inside = b is not None and a <= value <= b
        return inside if mod == "BETWEEN" else not inside
    raise Unsupported(f"FakeStash: number modifier {mod} not supported")


def multi_criterion(have: Iterable[str], crit: dict,
                    expand: Callable[[str, int], set[str]] | None = None) -> bool:
    """(Hierarchical)MultiCriterionInput over a set of related ids.

    ``expand(id, depth)`` returns the id plus its descendants to ``depth``;
    plain MultiCriterionInput passes ``expand=None`` (no hierarchy).
    """
    have = set(have)
    mod = crit["modifier"]
    depth = crit.get("depth") or 0
    values = list(crit.get("value") or [])
    excludes = list(crit.get("excludes") or [])
    grow = (lambda i: expand(i, depth)) if expand else (lambda i: {i})
    if mod == "IS_NULL":
        return not have
    if mod == "NOT_NULL":
        return bool(have)
    if mod == "EQUALS":
        return have == set(values)
    if mod == "EXCLUDES":           # Stash rewrites EXCLUDES as "no includes, excludes=value"
        mod, excludes, values = "INCLUDES_ALL", values + excludes, []
    groups = [grow(v) for v in values]
    if mod == "INCLUDES":
        ok = not groups or any(have & g for g in groups)
    elif mod == "INCLUDES_ALL":
        ok = all(have & g for g in groups)
    else:
        raise Unsupported(f"FakeStash: multi criterion modifier {mod} not supported")
    if ok and excludes:
        banned = set().union(*(grow(e) for e in excludes))
        ok = not (have & banned)
    return ok


def parse_search(q: str) -> tuple[list[str], list[str], list[list[str]]]:
    """``models.ParseSearchString``: (must_have, must_not, any_sets)."""
    tokens = re.findall(r'"[^"]*"|\S+', q.strip())
    must, must_not, any_sets = [], [], []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (i + 2 < len(tokens) and tokens[i + 1].upper() == "OR"
                and not tok.startswith("-") and not tokens[i + 2].startswith("-")):
            group = [tok]
            while i + 2 < len(tokens) and tokens[i + 1].upper() == "OR":
                group.append(tokens[i + 2])
                i += 2
            any_sets.append([t.strip('"') for t in group])
        elif len(tok) > 1 and tok.startswith("-"):
            if tok[1:].strip('"'):
                must_not.append(tok[1:].strip('"'))
        elif tok.strip('"'):
            must.append(tok.strip('"'))
        i += 1
    return must, must_not, any_sets


def matches_q(columns: Iterable[str | None], q: str | None) -> bool:
    """The ``filter.q`` full-text search over the searched columns."""
    if not q or not q.strip():
        return True
    cols = [c for c in columns if c is not None]
    hit = lambda term: any(like(c, f"%{term}%") for c in cols)  # noqa: E731
    must, must_not, any_sets = parse_search(q)
    return (all(hit(t) for t in must) and not any(hit(t) for t in must_not)
            and all(any(hit(t) for t in group) for group in any_sets))


def combine(own: bool, sub_results: dict[str, bool | None]) -> bool:
    """Stash's AND / OR / NOT sub-filter combination (only one allowed per level)."""
    present = [k for k, v in sub_results.items() if v is not None]
    if len(present) > 1:
        raise StashError(f"{present[0]} and {present[1]} sub-filters are not supported together")
    if not present:
        return own
    op, sub = present[0], sub_results[present[0]]
    if op == "AND":
        return own and sub
    if op == "OR":
        return own or sub
    return own and not sub


def sort_and_page(records: list[dict], ff: dict | None, default_sort: str,
                  keys: dict[str, Callable[[dict], object]]) -> tuple[int, list[dict]]:
    """Apply FindFilterType sort/direction/page/per_page; returns (count, page)."""
    ff = ff or {}
    sort = ff.get("sort") or default_sort
    desc = ff.get("direction") == "DESC"
    items = sorted(records, key=lambda r: int(r["id"]))       # stable tie-break by id
    if sort == "random" or sort.startswith("random_"):
        seed = sort.partition("_")[2] or "0"
        random.Random(seed).shuffle(items)
    else:
        if sort not in keys:
            raise StashError(f"invalid sort: {sort}")
        key = keys[sort]
        items.sort(key=lambda r: _null_first(key(r)), reverse=desc)
    count = len(items)
    per_page = ff.get("per_page")
    if per_page is None:
        per_page = 25
    if per_page < 0:
        return count, items
    page = ff.get("page") or 1
    page = max(page, 1)
    start = (page - 1) * per_page
    return count, items[start:start + per_page]


def _null_first(v):
    """SQLite orders NULL before everything in ASC order."""
    return (0, "") if v is None else (1, v)
