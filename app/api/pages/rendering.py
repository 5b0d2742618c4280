"""Pages as HTML: the Jinja2 templates of this package, their filters, and the headers every page carries.

Every page names only files of this service (``/ui-assets/...``): no inline
script or style, so the Content-Security-Policy allows neither, and a page
framed by another site is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.api.pages.chart import ACTIONS, runs_chart
from app.api.pages.sessions import set_cookie

ASSETS = "/ui-assets"
"""Where the pages' stylesheet, script and icon are served."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as people say it: ``12 s ago``, ``5 min ago``, ``in 3 min``, ``2 d ago``."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{seconds // 60:.0f} min"
    elif seconds < 86400 * 2:
        text = f"{seconds // 3600:.0f} h"
    else:
        text = f"{seconds // 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _took(started: datetime, finished: datetime | None) -> str:
    if finished is None:
        return "—"
    seconds = (finished - started).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


SHOWN_CHARACTERS = 200
"""A field's value is cut off here: a record's story stays readable when a field holds a document."""


def _shown(value: Any) -> str:
    """A field's value as the record-log pages show it: JSON's spelling (text in quotes, so ``""`` and
    ``"7"`` are told from nothing and ``7``), ``none`` for a value that is absent or null."""
    if value is None:
        return "none"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


_DIRECTION_MARKS = {
    code: f"[U+{code:04X}]" for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
"""Characters that reorder the text around them: a key ``abc\u202etxt.exe`` showed as ``abcexe.txt``. Text
from the systems (keys, values, their errors) shows them spelt out instead."""


def _direction_spelt(value: Any) -> Any:
    """Every ``{{ }}`` of a page: plain text with its direction marks spelt out (markup as it is)."""
    return value.translate(_DIRECTION_MARKS) if value.__class__ is str else value


ENVIRONMENT = Environment(
    loader=PackageLoader("app.api.pages", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_direction_spelt,
)
ENVIRONMENT.filters.update(ago=_ago, iso=_iso, shown=_shown)
ENVIRONMENT.globals.update(assets=ASSETS, actions=ACTIONS, runs_chart=runs_chart, took=_took)


def render(name: str, **context: Any) -> str:
    return ENVIRONMENT.get_template(name).render(**context)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Template ``name`` as a page, with the visit's session (its cookie renewed) and the security headers."""
    visit = context.get("visit")
    if visit is not None:
        context.setdefault("notice", visit.session.take_notice())
    response = HTMLResponse(render(name, request=request, **context), status_code, headers=SECURITY_HEADERS)
    if visit is not None:
        set_cookie(response, request, visit.session)
    return response
