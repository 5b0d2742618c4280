"""The order of ``after:`` chains: a sync runs right after the one it names (SPEC 3).

The service starts a sync's followers when its run gets through (succeeded or partial);
``brygga run --all`` runs every sync in the same order, one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import AnySync


def followers(syncs: Mapping[str, AnySync], name: str) -> list[str]:
    """The syncs that run right after ``name`` (their ``after:`` names it), in declaration order."""
    return [child for child, sync in syncs.items() if sync.after == name]


def in_after_order(syncs: Mapping[str, AnySync]) -> list[str]:
    """Every sync, each after the one its ``after:`` names; otherwise in declaration order.

    A sync without ``after:`` (or naming an unknown sync) starts a chain; each chain is walked depth
    first, so a follower comes right after the sync it follows. Config validation refuses cycles.
    """
    order: list[str] = []
    roots = [name for name, sync in syncs.items() if sync.after is None or sync.after not in syncs]
    pending = list(reversed(roots))
    while pending:
        name = pending.pop()
        if name in order:
            continue
        order.append(name)
        pending.extend(reversed(followers(syncs, name)))
    return order
