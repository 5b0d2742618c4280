"""``brygga run`` and ``brygga serve`` killed with SIGKILL at 20 seeded random moments of one
2,000-record sync into an API that assigns the keys, restarted after each kill (SPEC 8: "A crash
(kill -9) at any point, then a restart, ends with every record in the target once").

The moments are creates: a seeded ``random.Random`` picks 20 counts of creates that reached the proxy,
and for each the stage at which the process dies (:class:`~tests.faults.proxy.Moment`): the create has
arrived but the API has not seen it; the API made the record but its answer (the new key) is held
back; or the answer went out and Brygga carries on for a moment. The proxy tells the test when the
moment comes (no sleeps), the test kills, and the next process starts. Then one last process finishes
the sync: every contact is in the API exactly once, and a further run changes nothing.

Set ``FAULTS_SEED`` to replay other moments; the seed is in every failure's message.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.serve_process import Api, ServeProcess
from tests.connectors.rest.server import ApiState
from tests.faults.conftest import COUNT_NAMES, PEOPLE, FaultProject, Run, each_once, wait_for_moment
from tests.faults.proxy import FaultProxy, Moment, Rule, Stage

MakeProject = Callable[..., FaultProject]

SEED = int(os.environ.get("FAULTS_SEED", "20170"))
RECORDS = 2000
KILLS = 20
STAGES: tuple[Stage, ...] = ("arrived", "done", "answered")
MOMENT_DEADLINE = 60.0
NOTHING_CHANGED = {**dict.fromkeys(COUNT_NAMES, 0), "read": RECORDS, "unchanged": RECORDS}


def kill_moments(seed: int) -> list[tuple[int, Stage]]:
    """20 distinct counts of creates (1…1999) in order, each with the stage of its create to die at."""
    chosen = random.Random(seed)
    counts = sorted(chosen.sample(range(1, RECORDS), KILLS))
    return [(count, chosen.choice(STAGES)) for count in counts]


def next_moment(proxy: FaultProxy, count: int, stage: Stage) -> Rule:
    """A moment at the ``count``-th create to reach the proxy (or the next one, if that has passed)."""
    arrived = len(proxy.exchanges("POST", PEOPLE))
    return proxy.add(Moment(stage), method="POST", path=PEOPLE, skip=max(0, count - arrived - 1))


def release(moment: Rule) -> None:
    assert isinstance(moment.fault, Moment)
    moment.fault.release()
    moment.end()


def check_every_record_once(api: ApiState, proxy: FaultProxy, seed: int, story: list[str]) -> None:
    problem = each_once(api, RECORDS)
    told = f"seed {seed} (FAULTS_SEED={seed} replays it); {'; '.join(story)}"
    assert problem is None, f"after {len(story)} kills: {problem}; {told}"
    creates = len([e for e in proxy.exchanges("POST", PEOPLE) if e.forwarded])
    assert len(api.store) == RECORDS, f"{creates} creates reached the API for {RECORDS} records; {told}"


def check_runs(runs: list[Run], seed: int) -> None:
    """Every killed run is marked failed (abandoned) by the one after it; the last one succeeded."""
    assert runs[-1].status == "succeeded", f"seed {seed}: {runs[-1]}"
    left = [run for run in runs[:-1] if run.status != "failed"]
    assert left == [], f"seed {seed}: runs of killed processes not marked failed: {left}"


@pytest.mark.timeout(300)  # twenty kills and restarts: 40-55 s on an idle machine, more on a busy one
def test_brygga_run_killed_at_20_random_moments_ends_with_every_record_once(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    project = make_project(RECORDS)
    story: list[str] = []

    for count, stage in kill_moments(SEED):
        moment = next_moment(proxy, count, stage)
        started = project.start("run", "out")
        try:
            started.wait_for(moment, MOMENT_DEADLINE, f"create {count} ({stage}), seed {SEED}")
            started.kill()
        finally:
            release(moment)
            started.close()
        story.append(f"create {count} {stage}")
    final = project.brygga("run", "out", timeout=120)

    assert final.code == 0, f"seed {SEED}: {final}"
    check_every_record_once(api, proxy, SEED, story)
    assert project.dead_letters() == [], f"seed {SEED}: {project.dead_letters()[:3]}"
    check_runs(project.runs(), SEED)
    before = len(proxy.exchanges())
    again = project.brygga("run", "out")
    assert project.runs()[-1].counts == NOTHING_CHANGED, f"seed {SEED}: {again}"
    writes = [e for e in proxy.exchanges()[before:] if e.method != "GET"]
    assert writes == [], f"seed {SEED}: a run after the last wrote {len(writes)} times"


def trigger(server: ServeProcess) -> int:
    answer = httpx.post(f"{server.url}/api/v1/syncs/out/runs", timeout=15)
    assert answer.status_code == 202, f"{answer.status_code} {answer.text}\n{server.log()[-3000:]}"
    run_id: int = answer.json()["run_id"]
    return run_id


@pytest.mark.timeout(300)  # twenty kills and restarts: 40-55 s on an idle machine, more on a busy one
def test_brygga_serve_killed_at_20_random_moments_ends_with_every_record_once(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject, tmp_path: Path
) -> None:
    seed = SEED + 1  # other moments than the run test's
    project = make_project(RECORDS)
    logs = tmp_path / "logs"
    story: list[str] = []

    for count, stage in kill_moments(seed):
        server = project.serve(logs)
        assert server.process is not None
        moment = next_moment(proxy, count, stage)
        try:
            trigger(server)
            wait_for_moment(
                moment, server.process, MOMENT_DEADLINE, server.log, f"create {count} ({stage}), seed {seed}"
            )
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
        finally:
            release(moment)
            server.stop()
        story.append(f"create {count} {stage}")

    server = project.serve(logs)
    api_client = Api(server.url, [])
    try:
        final = api_client.wait_for_run(trigger(server), deadline=120)
        check_every_record_once(api, proxy, seed, story)
        assert final["status"] == "succeeded", f"seed {seed}: {final}"
        assert api_client.json("GET", "/api/v1/dead-letters")["items"] == [], f"seed {seed}"
        check_runs(project.runs(), seed)
        before = len(proxy.exchanges())
        again = api_client.wait_for_run(trigger(server), deadline=60)
        assert again["counts"] == NOTHING_CHANGED, f"seed {seed}: {again}"
        writes = [e for e in proxy.exchanges()[before:] if e.method != "GET"]
        assert writes == [], f"seed {seed}: a run after the last wrote {len(writes)} times"
    finally:
        api_client.close()
        server.stop()
