"""Which connectors can look records up by key, where a sync cannot work without: an ``insert`` or
``update`` sync into a target keyed by the record's own fields (it asks which keys the target holds), and
both sides of a two-way sync (each pair's records are fetched fresh by key).

``brygga validate`` says so at the sync's place. A kind that registers no options model of its own has its
class loaded to validate anyway, and the class tells. A kind that does register one (so that validate
imports none of its client libraries) may say it from its stream options' ``target_problems`` and
``fetch_problem``; where its stream options answer neither (they say nothing of what the kind cannot do),
its class is loaded to tell, for the syncs that need a look-up only. A run into such a connector fails
with the same words.
"""

from __future__ import annotations

from app.config import ConfigIssue, Project, SyncConfig, TwoWaySyncConfig, load_kind, options_alone
from app.errors import KindError
from connectors.base import Connector, StreamOptions, SystemOptions


def lacks_get(kind: type) -> bool:
    """Whether connector class ``kind`` keeps the SDK's :meth:`Connector.get`, which cannot look records up."""
    return issubclass(kind, Connector) and kind.get is Connector.get


def cannot_tell_which_exist(kind: type) -> bool:
    """Whether an ``insert`` or ``update`` sync into connector class ``kind`` cannot tell which records it
    holds: it does not assign keys itself, and has neither :meth:`Connector.get` nor its own
    :meth:`Connector.existing_keys`."""
    if not lacks_get(kind) or not issubclass(kind, Connector):
        return False
    return not kind.assigns_keys and kind.existing_keys is Connector.existing_keys


def one_way_message(sync: str, mode: str, kind: str, system: str, target: str) -> str:
    """Why a sync in ``insert`` or ``update`` mode cannot run into a target that cannot look records up."""
    never = "updates" if mode == "insert" else "creates"
    return (
        f"sync {sync}: the {kind} connector of system '{system}' cannot look records up by key (it has no `get`), "
        f"so a sync in {mode} mode, which never {never}, cannot tell which records {target} holds: use mode "
        "upsert, or a connector that can look records up"
    )


def two_way_message(sync: str, kind: str, system: str) -> str:
    """Why a two-way sync cannot run with a side that cannot look records up."""
    return (
        f"sync {sync}: the {kind} connector of system '{system}' cannot look records up by key (it has no `get`), "
        "which a two-way sync needs of both sides (each pair's records are fetched fresh, and gone ones looked "
        "for): use a connector that can look records up, or one-way syncs"
    )


def look_up_issues(project: Project) -> list[ConfigIssue]:
    """Syncs that need to look records up by key in a system whose connector cannot (see the module)."""
    issues: list[ConfigIssue] = []
    for sync in project.syncs.values():
        if isinstance(sync, SyncConfig) and sync.mode in ("insert", "update"):
            kind = _loaded_kind(project, sync.target_system)
            if kind is not None and cannot_tell_which_exist(kind):
                connector = project.systems[sync.target_system].connector
                message = one_way_message(sync.name, sync.mode, connector, sync.target_system, sync.target)
                issues.append(sync.origin.issue(("mode",), f"mode: {sync.mode}: {message}"))
        elif isinstance(sync, TwoWaySyncConfig):
            for side, system in (("a", sync.source_system), ("b", sync.target_system)):
                kind = _loaded_kind(project, system)
                if kind is not None and lacks_get(kind):
                    message = two_way_message(sync.name, project.systems[system].connector, system)
                    issues.append(sync.origin.issue(("two_way", side), f"two_way.{side}: {message}"))
    return issues


def _loaded_kind(project: Project, system: str) -> type | None:
    """The connector class of ``system``, unless its options say what it cannot do themselves (then ``None``:
    validating them asked them already)."""
    config = project.systems.get(system)
    if config is None or (options_alone(config.connector) and _options_speak(config.options)):
        return None
    try:
        return load_kind(config.connector)
    except KindError:  # reported where the system is
        return None


def _options_speak(options: SystemOptions) -> bool:
    """Whether a kind's options say from the config what its streams cannot do (they answer ``target_problems``
    or ``fetch_problem``, of the system or of its streams): else only its connector class can tell."""
    system = type(options)
    if system.target_problems is not SystemOptions.target_problems:
        return True
    kinds = {type(stream) for stream in options.streams.values()}
    return any(
        kind.target_problems is not StreamOptions.target_problems
        or kind.fetch_problem is not StreamOptions.fetch_problem
        for kind in kinds
    )
