"""Answers slower than the system's ``timeout``: held back whole (a stall), or sent a byte at a time,
each byte well within any per-read timeout (a trickle) (SPEC 4: ``timeout``; SPEC 8).

``timeout`` bounds the whole request: Brygga gives up on it in about ``timeout`` (asserted with room for
a loaded machine: under ``timeout`` + 5 s, measured at the proxy from the request's arrival to the
client hanging up), then tries again; the run ends, every record once. A trickle is cut by the proxy
after :data:`CUT_AFTER` seconds, so a Brygga that never gives up still ends this test, failing it.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.connectors.rest.server import ApiState, contacts
from tests.faults.conftest import PAGES, PEOPLE, FaultProject, assert_clean_run
from tests.faults.proxy import Exchange, Fault, FaultProxy, Rule, Stall, Trickle

MakeProject = Callable[..., FaultProject]

TIMEOUT = 1.0
ROOM = 5.0
"""Seconds beyond ``timeout`` that a loaded machine may take to give up."""
CUT_AFTER = TIMEOUT + ROOM + 6
"""The proxy resets a trickle after this long: well past the bound the test asserts."""


def slow_faults() -> list[Fault]:
    """A stall, and a trickle whose every byte comes well within any per-read timeout."""
    return [Stall(seconds=60), Trickle(interval=0.25, most=CUT_AFTER)]


def given_up_in_time(rule: Rule, outcome: object) -> Exchange:
    """The slow request, checked to have been given up by Brygga within ``timeout`` + :data:`ROOM`."""
    [slow] = rule.played
    assert slow.answered_at is not None, f"the proxy still holds the slow request\n{outcome}"
    assert slow.abandoned_at is not None, (
        f"Brygga never gave up on {slow.method} {slow.target} ({rule.fault.name}) with timeout {TIMEOUT:g}s: "
        f"the proxy cut it after {slow.answered_at - slow.at:.1f}s\n{outcome}"
    )
    took = slow.abandoned_at - slow.at
    assert took < TIMEOUT + ROOM, f"Brygga gave up after {took:.1f}s with timeout {TIMEOUT:g}s"
    return slow


def test_pages_slower_than_timeout_are_given_up_in_time_and_read_again(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    api.contacts = contacts(45)
    project = make_project(0)
    project.write(timeout=f"{TIMEOUT:g}s")
    # a rule counts the requests the rules before it let through (re-reads too): pages 2 and 4
    rules = [
        proxy.add(fault, method="GET", path=PAGES, skip=skip) for fault, skip in zip(slow_faults(), (1, 3), strict=True)
    ]

    outcome = project.brygga("run", "in", timeout=120)

    for rule in rules:
        slow = given_up_in_time(rule, outcome)
        again = [e for e in proxy.exchanges() if e.target == slow.target and e.number > slow.number]
        assert again and again[0].status == 200, f"{slow.target} was not read again\n{outcome}"
    assert project.copies() == list(range(1, 46)), outcome
    assert project.runs()[-1].status == "succeeded", outcome
    assert project.dead_letters() == [], outcome


def test_creates_slower_than_timeout_are_given_up_in_time_and_not_created_twice(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    project = make_project(40)
    project.write(timeout=f"{TIMEOUT:g}s")
    rules = [
        proxy.add(fault, method="POST", path=PEOPLE, skip=skip)
        for fault, skip in zip(slow_faults(), (10, 20), strict=True)
    ]

    outcome = project.brygga("run", "out", timeout=120)

    for rule in rules:
        slow = given_up_in_time(rule, outcome)
        assert slow.forwarded, "the server created the record before its answer was slow"
    assert len(api.requests(PEOPLE, "POST")) == 40, "no create reached the server twice"
    assert_clean_run(project, api, 40, outcome)
