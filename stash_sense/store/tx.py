"""The store's unit of work, and what every table module needs from the store: the connection and
a way to open a unit of work on it.

A unit of work is one transaction. Units nest: an inner unit is a savepoint of the outer one, so a
method that is its own transaction (count feedback) can also be a step of a larger one (decide a
suggestion) and commits or rolls back with it.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Connected(Protocol):
    """The store as its table modules see it (Store is one; tests may pass their own)."""

    @property
    def db(self) -> sqlite3.Connection: ...

    def tx(self) -> AbstractContextManager[sqlite3.Connection]: ...


class Transactions:
    """Units of work on one connection (opened with isolation_level=None: this class alone
    begins, commits and rolls back)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.depth = 0

    @contextmanager
    def unit(self) -> Iterator[sqlite3.Connection]:
        if self.depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        else:
            self.db.execute(f"SAVEPOINT tx{self.depth}")
        self.depth += 1
        try:
            yield self.db
        except BaseException:
            self.depth -= 1
            if self.depth == 0:
                self.db.execute("ROLLBACK")
            else:
                self.db.execute(f"ROLLBACK TO tx{self.depth}")
                self.db.execute(f"RELEASE tx{self.depth}")
            raise
        self.depth -= 1
        self.db.execute("COMMIT" if self.depth == 0 else f"RELEASE tx{self.depth}")
