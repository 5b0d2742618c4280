"""The engine: opens a workspace, runs its syncs (one-way, two-way, webhook runs), and serves them.

This is the engine's public surface for the faces (``app.cli``, ``app.api``): they import from here,
never from the engine's modules (``tests/test_layering.py``). Names are imported from their modules on
first use (PEP 562), so ``from app.engine import ServiceSettings`` does not import the engine's runs,
the store or the connectors: ``brygga --help`` stays fast. A new public name goes into ``_MODULES`` and
the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_names import lazy_names

__all__ = [
    "DELIVERY_ID_HEADERS",
    "FIELDS",
    "PROOF_HEADERS",
    "Engine",
    "Hold",
    "NoTableToDescribe",
    "PreviewRow",
    "RunOptions",
    "RunResult",
    "Service",
    "ServiceSettings",
    "SyncBusyError",
    "SyncView",
    "SystemCheck",
    "UnknownWebhookSystem",
    "WebhookBadBody",
    "WebhookBusy",
    "WebhookFromWebPage",
    "WebhookIdReused",
    "WebhookNotProven",
    "WebhookRejected",
    "WebhookTooLarge",
    "Workspace",
    "check_state",
    "check_systems",
    "create_table_statement",
    "in_after_order",
    "is_loopback",
    "keep_large_blocks_apart",
    "open_engine",
    "open_to_others",
    "open_workspace",
    "preview_sync",
    "read_status",
    "streams_used",
    "tune_garbage_collection",
    "webhook_of",
]

if TYPE_CHECKING:
    from app.engine.allocator import keep_large_blocks_apart
    from app.engine.ddl import NoTableToDescribe, create_table_statement
    from app.engine.garbage_collection import tune_garbage_collection
    from app.engine.listening import is_loopback, open_to_others
    from app.engine.order import in_after_order
    from app.engine.preview import preview_sync
    from app.engine.preview_rows import PreviewRow
    from app.engine.run_log import FIELDS
    from app.engine.runner import Engine, RunOptions, RunResult, SyncBusyError, open_engine
    from app.engine.service import Service
    from app.engine.settings import ServiceSettings
    from app.engine.status import read_status
    from app.engine.system_check import SystemCheck, check_state, check_systems, streams_used
    from app.engine.views import SyncView
    from app.engine.webhook_admission import Hold, WebhookBusy
    from app.engine.webhook_checks import (
        DELIVERY_ID_HEADERS,
        PROOF_HEADERS,
        UnknownWebhookSystem,
        WebhookBadBody,
        WebhookFromWebPage,
        WebhookIdReused,
        WebhookNotProven,
        WebhookRejected,
        WebhookTooLarge,
        webhook_of,
    )
    from app.engine.workspace import Workspace, open_workspace

_MODULES = {
    "app.engine.ddl": (
        "NoTableToDescribe",
        "create_table_statement",
    ),
    "app.engine.allocator": ("keep_large_blocks_apart",),
    "app.engine.garbage_collection": ("tune_garbage_collection",),
    "app.engine.listening": (
        "is_loopback",
        "open_to_others",
    ),
    "app.engine.order": ("in_after_order",),
    "app.engine.preview": ("preview_sync",),
    "app.engine.preview_rows": ("PreviewRow",),
    "app.engine.run_log": ("FIELDS",),
    "app.engine.runner": (
        "Engine",
        "RunOptions",
        "RunResult",
        "SyncBusyError",
        "open_engine",
    ),
    "app.engine.service": ("Service",),
    "app.engine.settings": ("ServiceSettings",),
    "app.engine.status": ("read_status",),
    "app.engine.system_check": (
        "SystemCheck",
        "check_state",
        "check_systems",
        "streams_used",
    ),
    "app.engine.views": ("SyncView",),
    "app.engine.webhook_admission": (
        "Hold",
        "WebhookBusy",
    ),
    "app.engine.webhook_checks": (
        "DELIVERY_ID_HEADERS",
        "PROOF_HEADERS",
        "UnknownWebhookSystem",
        "WebhookBadBody",
        "WebhookFromWebPage",
        "WebhookIdReused",
        "WebhookNotProven",
        "WebhookRejected",
        "WebhookTooLarge",
        "webhook_of",
    ),
    "app.engine.workspace": (
        "Workspace",
        "open_workspace",
    ),
}
__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())
