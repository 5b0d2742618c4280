"""Connections that break in the middle of an answer (an RST after part of the body, or a close before
any of it), on reads and on writes (SPEC 4, 8).

On a read, the page is read again: every record lands once. On a write, the server acted before the
connection broke: a create may have happened that Brygga never heard of. It must find it with
``match`` rather than create it again, within the run (a passing failure, well within the sync's
patience: no dead letter).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.connectors.rest.server import ApiState, contacts
from tests.faults.conftest import PAGES, PEOPLE, FaultProject, assert_clean_run, each_once
from tests.faults.proxy import CloseBeforeAnswer, Fault, FaultProxy, ResetMidBody

MakeProject = Callable[..., FaultProject]

BREAKS: list[Callable[[], Fault]] = [ResetMidBody, lambda: ResetMidBody(keep=0), CloseBeforeAnswer, ResetMidBody]
"""An RST in the middle of the body, an RST right after the head, a close before any answer, and again."""


def test_pages_cut_off_are_read_again_and_every_record_lands_once(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    api.contacts = contacts(95)
    project = make_project(0)
    # a rule counts the requests the rules before it let through (re-reads too): pages 3, 5, 7 and 9
    cut = [proxy.add(make(), method="GET", path=PAGES, skip=2 + 2 * n) for n, make in enumerate(BREAKS)]

    outcome = project.brygga("run", "in")

    assert all(rule.played for rule in cut), "every break was played"
    assert project.copies() == list(range(1, 96)), outcome
    assert project.runs()[-1].status == "succeeded", outcome
    assert project.dead_letters() == [], outcome
    for rule in cut:
        [broken] = rule.played
        again = [e for e in proxy.exchanges() if e.target == broken.target and e.number > broken.number]
        assert any(e.status == 200 for e in again), (
            f"{broken.target} was not read again"
        )  # under load a re-read may itself be retried


def test_creates_whose_answers_were_cut_off_are_found_by_match_not_created_again(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    project = make_project(120)
    cut = [
        proxy.add(make(), method="POST", path=PEOPLE, skip=skip)
        for make, skip in zip(BREAKS, (0, 30, 0, 60), strict=True)
    ]

    outcome = project.brygga("run", "out")

    assert all(rule.played and rule.played[0].forwarded for rule in cut), "the server created each one"
    problem = each_once(api, 120)
    assert problem is None, f"a create cut off was sent again: {problem}\n{outcome}"
    assert len(api.requests(PEOPLE, "POST")) == 120, "no create reached the server twice"
    assert_clean_run(project, api, 120, outcome)


def test_a_match_look_up_cut_off_is_asked_again(api: ApiState, proxy: FaultProxy, make_project: MakeProject) -> None:
    project = make_project(60)
    cut = [proxy.add(ResetMidBody(), method="GET", path=PEOPLE, skip=skip) for skip in (2, 20)]

    outcome = project.brygga("run", "out")

    assert all(rule.played for rule in cut)
    assert_clean_run(project, api, 60, outcome)
