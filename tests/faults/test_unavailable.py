"""A target that is unavailable for a while: bursts of 503, an outage shorter than the sync's patience
and one longer, and 429 or 503 answers that say ``Retry-After`` (SPEC 4, 8).

SPEC 8: "A sync's ``retry`` policy governs every passing failure within a run, a single record's write
included: a target down for less than the policy's patience costs no dead letter. Retry layers do not
multiply." Each test runs ``brygga run out`` (SQLite contacts → the API's ``/w/contacts`` through the
fault proxy) and then checks the API: every contact in it exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tests.connectors.rest.server import ApiState
from tests.faults.conftest import PATIENT, PEOPLE, FaultProject, assert_clean_run, tries_per_record
from tests.faults.proxy import Answer, FaultProxy

RECORDS = 200
OUTAGE = 1.5
"""Seconds the whole API answers 503: well within :data:`PATIENT`."""

MakeProject = Callable[..., FaultProject]


BODIES = {
    "json": b'{"error": "service unavailable"}',
    "empty": b"",
    "bad-utf8-nul-surrogate": b'{"error": "\xff\xfe\x00 down \xed\xa0\x80 \x00"}',
    "huge": b"<" * (2 * 1024 * 1024),
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
}


def test_bursts_of_503s_with_hostile_bodies_cost_no_dead_letter_and_no_duplicate(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    """One burst of 15 answers, three of each body; Brygga keeps none of them whole in its output."""
    project = make_project(RECORDS)
    bursts = [proxy.add(Answer(503, body=body), path=PEOPLE, skip=150, times=3) for body in BODIES.values()]

    outcome = project.brygga("run", "out")

    assert all(len(burst.played) == 3 for burst in bursts), "every burst happened"
    assert_clean_run(project, api, RECORDS, outcome)
    assert outcome.code == 0, outcome
    assert len(outcome.output) < 20_000, "an answer's body is not copied into the output whole"
    assert "\x00" not in outcome.output


def test_an_outage_shorter_than_the_syncs_patience_costs_no_dead_letter_and_no_duplicate(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    project = make_project(RECORDS)
    outage = proxy.add(Answer(503), skip=150, seconds=OUTAGE)  # mid-batch: after the look-ups and 50 creates

    outcome = project.brygga("run", "out")

    assert outage.started_at is not None and outage.ended_at is not None, "the outage happened"
    assert_clean_run(project, api, RECORDS, outcome)
    assert outcome.code == 0, outcome
    during = [e for e in proxy.exchanges() if outage.started_at <= e.at < outage.ended_at]
    [(most_asked, tries)] = tries_per_record(during).most_common(1)
    assert tries <= PATIENT["attempts"], (
        f"{most_asked} was asked {tries} times during a {OUTAGE}s outage with retry.attempts "
        f"{PATIENT['attempts']}: retry layers multiply"
    )


def test_a_target_down_longer_than_the_patience_is_asked_at_most_attempts_times_and_recovers(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    """While the API is down for the whole run, no record is asked for more often than ``retry.attempts``
    says (a connector's own retries inside the engine's would multiply them); when it is back, the next
    run lands everything once."""
    project = make_project(20)
    project.write(retry={"attempts": 3, "backoff": "100ms", "max_backoff": "200ms"}, batch_size=20)
    down = proxy.add(Answer(503), seconds=3600)

    first = project.brygga("run", "out")

    tries = tries_per_record(proxy.exchanges())
    assert tries, "Brygga asked the API"
    [(most_asked, most)] = tries.most_common(1)
    assert most <= 3, f"{most_asked} was asked {most} times with retry.attempts 3: retry layers multiply"
    assert api.store == {}
    assert first.code == 1, first
    assert project.runs()[-1].status in ("failed", "partial"), first

    down.end()
    again = project.brygga("run", "out")

    assert_clean_run(project, api, 20, again)


def _seconds(value: int) -> dict[str, str]:
    return {"Retry-After": str(value)}


def _date(value: int) -> dict[str, str]:
    """A ``Retry-After`` date ``value`` seconds after the answer's own ``Date`` (an hour off this machine's
    clock: only the difference counts)."""
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return {
        "Date": format_datetime(sent, usegmt=True),
        "Retry-After": format_datetime(sent + timedelta(seconds=value), usegmt=True),
    }


def test_a_retry_after_is_waited_for_before_the_next_request_and_costs_nothing(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    """Measured at the proxy: from a refusal's last byte to the next request's arrival. One request at
    a time (``concurrency: 1``), so that "the next request" is one Brygga sent after it read the answer."""
    asked = 1
    project = make_project(30)
    project.write(concurrency=1, batch_size=30)
    refusals = {
        "429 in seconds": proxy.add(Answer(429, _seconds(asked), reason="Slow Down"), method="POST", skip=4),
        "503 in seconds": proxy.add(Answer(503, _seconds(asked)), method="POST", skip=8),
        "429 as a date": proxy.add(Answer(429, _date(asked), reason="Slow Down"), method="POST", skip=12),
    }

    outcome = project.brygga("run", "out")

    for name, rule in refusals.items():
        [refused] = rule.played
        assert refused.answered_at is not None
        following = [e for e in proxy.exchanges() if e.number > refused.number]
        assert following, f"nothing was asked after the {name}\n{outcome}"
        gap = following[0].at - refused.answered_at
        assert gap >= asked, f"the next request came {gap:.3f}s after a {name} that asked for {asked}s"
    assert_clean_run(project, api, 30, outcome)


GARBAGE_RETRY_AFTER = ["", "soon", "-5", "1.5e400", "NaN", "0x10", "1 1", "\u00b2", "Wed, 32 Foo 2099 99:99:99 GMT"]
"""``Retry-After`` values that say nothing usable; ``\u00b2`` (superscript two, byte B2 in latin-1) is
a digit to ``str.isdigit`` and not to ``float``."""


def test_a_retry_after_that_says_nothing_usable_is_retried_with_backoff(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    project = make_project(100)
    project.write(batch_size=100)
    refusals = [
        proxy.add(Answer(429, {"Retry-After": value}), method="POST", path=PEOPLE, skip=5 + 8 * number)
        for number, value in enumerate(GARBAGE_RETRY_AFTER)
    ]

    outcome = project.brygga("run", "out")

    assert all(len(refusal.played) == 1 for refusal in refusals), "every refusal was played"
    assert "Traceback" not in outcome.output, outcome
    assert_clean_run(project, api, 100, outcome)


def test_a_retry_after_beyond_any_patience_ends_the_wait_not_the_process_and_duplicates_nothing(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    """Integers beyond 64 bits and beyond a float: Brygga neither sleeps that long nor breaks; what it
    could not write this run, the next run writes, once."""
    project = make_project(40)
    project.write(batch_size=40)
    for number, value in enumerate(["18446744073709551617", "9" * 400]):
        proxy.add(Answer(429, {"Retry-After": value}), method="POST", path=PEOPLE, skip=5 + 10 * number)

    first = project.brygga("run", "out", timeout=60)

    assert "Traceback" not in first.output, first
    assert first.code in (0, 1), first
    assert project.runs()[-1].status != "running"
    again = project.brygga("run", "out")
    assert_clean_run(project, api, 40, again)
