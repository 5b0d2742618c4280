"""Where the service listens, and the rule that follows: an address others can reach needs ``api.tokens``.

Start-up (``brygga serve``) and every reload (SIGHUP, ``POST /api/v1/config/reload``) ask the same
question here, so a reload can never leave a reachable service open (SPEC 6, 8).
"""

from __future__ import annotations

import ipaddress

from app.config import ConfigIssue, Project

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is only reachable from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_to_others(project: Project, host: str) -> ConfigIssue | None:
    """The problem with serving ``project`` on ``host``: anyone who can reach a non-loopback address
    could run and change syncs when no ``api.tokens`` are configured; ``None`` when it is fine."""
    if is_loopback(host) or project.settings.api.tokens:
        return None
    return project.origin.issue(
        ("api",),
        f"api.tokens: the service listens on {host}, which other machines can reach; a config without "
        "api.tokens would let anyone run and change syncs. Add api.tokens, or serve on 127.0.0.1",
    )
