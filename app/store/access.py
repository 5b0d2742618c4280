"""What the store's parts (history, leases, sync states, the webhook inbox) use of the store.

Each part is handed the :class:`~app.store.store.Store` that owns it, and the store imports every part:
typed with the store itself, each part and ``store.py`` would import each other. The parts are typed
with this protocol instead, so imports point one way (``store.py`` → parts → ``access.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class StoreAccess(Protocol):
    """The state database as a part of the store sees it: its engine and its transactions."""

    engine: AsyncEngine
    scrub: Callable[[str], str]
    """Applied to an error message before it is stored (the project's secrets)."""
    _postgres: bool
    _insert: Callable[..., Any]
    """The dialect's ``insert``, with ``on_conflict_do_update``."""

    def _begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """One transaction, taken in turn with the process's others on SQLite."""
        ...

    def _key_in(self, column: Any, keys: Sequence[str]) -> Iterable[ColumnElement[bool]]:
        """``column`` among ``keys``, in as few conditions as the database takes (one on PostgreSQL)."""
        ...
