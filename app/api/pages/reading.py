"""The dashboard's pages: overview, a sync, a run, a record's story, webhook events.

Each reads through the same engine calls as the matching API route
(``Service.views``, ``runs``, ``run_log``, ``story``, ``dead_letters``,
``webhooks.events``): what a page shows is what the API answers. Each takes its
:data:`~app.api.pages.access.Visitor` first: who asks is judged before the
page's path and query are read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import MAX_TEXT, Id, SyncName, storable
from app.api.pages.access import Visit, Visitor, service_of
from app.api.pages.chart import ACTIONS
from app.api.pages.rendering import SECURITY_HEADERS, page, render
from app.api.pages.sessions import set_cookie
from app.api.pagination import MAX_ID
from app.engine import Service, SyncView
from app.errors import NotFoundError

router = APIRouter(include_in_schema=False)

ATTENTION = ("failing", "stalled", "paused")
"""Statuses the overview puts above the table, in this order."""
RUNS_SHOWN = 50
LOG_SHOWN = 200
LETTERS_SHOWN = 100
EVENTS_SHOWN = 100

Text = Annotated[str | None, Query(max_length=MAX_TEXT)]


def attention(views: list[SyncView]) -> list[tuple[str, list[str]]]:
    """The syncs that need a look, by status: ``[("failing", ["contacts"]), ...]``."""
    found = [(status, [view.name for view in views if view.status == status]) for status in ATTENTION]
    return [(status, names) for status, names in found if names]


async def _overview(request: Request) -> dict[str, Any]:
    views = sorted(await service_of(request).views(), key=lambda view: view.name)
    return {"views": views, "attention": attention(views)}


@router.get("/")
async def overview(request: Request, visit: Visitor) -> Response:
    return page(request, "overview.html", visit=visit, **await _overview(request))


@router.get("/ui/overview")
async def overview_rows(request: Request, visit: Visitor) -> Response:
    """What the overview refreshes itself with: its table's rows and its attention summary, as HTML."""
    context = await _overview(request)
    body = {"rows": render("overview_rows.html", **context), "summary": render("attention.html", **context)}
    response = JSONResponse(body, headers=SECURITY_HEADERS)
    set_cookie(response, request, visit.session)  # a session started here (no tokens, after a restart) is kept
    return response


@router.get("/syncs/{name}")
async def sync_page(
    request: Request, visit: Visitor, name: SyncName, before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Response:
    service = service_of(request)
    try:
        view = await service.view(name)
    except NotFoundError as exc:
        return _missing(request, visit, str(exc))
    runs = await service.runs(view.name, None, before, RUNS_SHOWN + 1)
    letters = await service.dead_letters(view.name, None, LETTERS_SHOWN + 1)
    return page(
        request,
        "sync.html",
        visit=visit,
        view=view,
        runs=runs[:RUNS_SHOWN],
        older=runs[RUNS_SHOWN - 1].id if len(runs) > RUNS_SHOWN else None,
        letters=letters[:LETTERS_SHOWN],
        more_letters=len(letters) > LETTERS_SHOWN,
        sides=_sides(service, view.name),
    )


@router.get("/runs/{run_id}")
async def run_page(
    request: Request,
    visit: Visitor,
    run_id: Id,
    action: Text = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    service = service_of(request)
    chosen = action if action in (*ACTIONS, "conflict") else None
    try:
        run = await service.run(run_id)
    except NotFoundError as exc:
        return _missing(request, visit, str(exc))
    entries = await service.run_log(run_id, after, LOG_SHOWN + 1, chosen)
    later = entries[LOG_SHOWN - 1].id if len(entries) > LOG_SHOWN else None
    context: dict[str, Any] = {"run": run, "entries": entries[:LOG_SHOWN], "action": chosen, "later": later}
    return page(request, "run.html", visit=visit, sides=_sides(service, run.sync), **context)


@router.get("/records")
async def record_page(request: Request, visit: Visitor, sync: Text = None, key: Text = None) -> Response:
    """A record's story: the search form, and once a sync and key are given, the story."""
    service = service_of(request)
    names = sorted(service.project.syncs)
    sync, key = _text(sync), _text(key)
    story, problem = None, None
    if sync and key:
        try:
            story = await service.story(sync, key)
        except NotFoundError as exc:
            problem = str(exc)
    status = 404 if problem else 200
    context: dict[str, Any] = {"names": names, "sync": sync, "key": key, "story": story, "problem": problem}
    return page(request, "record.html", status, visit=visit, sides=_sides(service, sync), **context)


@router.get("/webhook-events")
async def events_page(request: Request, visit: Visitor, system: Text = None) -> Response:
    system = _text(system) or None
    events = await service_of(request).webhooks.events(system, None, EVENTS_SHOWN)
    return page(request, "events.html", visit=visit, events=events, system=system)


def _sides(service: Service, name: str | None) -> dict[str, str] | None:
    """A two-way sync's sides (``{"a": "crm.contacts", "b": "erp.customers"}``); ``None`` for a one-way
    sync, or one no longer in the config (its runs and story are still shown)."""
    sync = service.project.syncs.get(name or "")
    if sync is None or sync.mode != "two_way":
        return None
    return {"a": sync.source, "b": sync.target}


def _missing(request: Request, visit: Visit, detail: str) -> Response:
    return page(request, "problem.html", 404, visit=visit, title="Not found", detail=detail)


def _text(value: str | None) -> str | None:
    """A name or key from the address, ``None`` where the state database could hold no such text."""
    try:
        return storable(value)
    except ValueError:
        return None
