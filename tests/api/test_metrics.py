"""``/metrics``, read with prometheus_client's own parser, moves with runs and dead letters."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import ApiProject, ServeFactory
from tests.api.serve_process import Api, wait_until
from tests.api.test_e2e import dead_letters, run
from tests.engine.conftest import contact

Labels = tuple[tuple[str, str], ...]


def scrape(api: Api) -> tuple[dict[str, str], dict[tuple[str, Labels], float]]:
    """The type of every metric family, and the value of every sample by (name, sorted labels)."""
    answer = api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    types: dict[str, str] = {}
    values: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(answer.text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return types, values


def value(api: Api, name: str, **labels: str) -> float:
    return scrape(api)[1].get((name, tuple(sorted(labels.items()))), 0.0)


def settles(api: Api, name: str, expected: float, **labels: str) -> None:
    """Wait (bounded) for a sample to reach ``expected``: metrics are counted just after a run is marked finished."""
    wait_until(lambda: value(api, name, **labels) == expected, 10, f"{name}{labels} == {expected}")


def test_metrics_count_runs_records_durations_and_dead_letters(serve: ServeFactory, project: ApiProject) -> None:
    served = serve(project)
    api = served.operator

    types, values = scrape(served.anonymous)
    assert types == {
        "brygga_runs": "counter",
        "brygga_records": "counter",
        "brygga_dead_letters": "gauge",
        "brygga_run_duration_seconds": "histogram",
        "brygga_webhook_events": "counter",
        "brygga_conflicts": "counter",  # conflicts two-way runs settled, by sync
    }
    assert values[("brygga_dead_letters", (("sync", "contacts"),))] == 0
    assert not [key for key in values if key[0] == "brygga_runs_total"]

    project.crm.insert("contacts", [contact(1), contact(2), contact(3, email="")])
    assert run(api, "contacts")["status"] == "partial"

    settles(api, "brygga_runs_total", 1, sync="contacts", status="partial")
    settles(api, "brygga_dead_letters", 1, sync="contacts")  # counted after the run, a moment later
    _, values = scrape(api)
    assert values[("brygga_records_total", (("action", "created"), ("sync", "contacts")))] == 2
    assert values[("brygga_records_total", (("action", "failed"), ("sync", "contacts")))] == 1
    assert values[("brygga_records_total", (("action", "read"), ("sync", "contacts")))] == 3
    assert values[("brygga_run_duration_seconds_count", (("sync", "contacts"),))] == 1
    assert values[("brygga_run_duration_seconds_bucket", (("le", "+Inf"), ("sync", "contacts")))] == 1
    assert 0 <= values[("brygga_run_duration_seconds_sum", (("sync", "contacts"),))] < 60
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in values.items()
        if name == "brygga_run_duration_seconds_bucket"
    )
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)  # cumulative
    assert math.isinf(buckets[-1][0])
    assert values[("brygga_dead_letters", (("sync", "contacts"),))] == 1
    assert values[("brygga_dead_letters", (("sync", "companies"),))] == 0

    project.crm.execute("UPDATE contacts SET email = 'late@example.com' WHERE id = 3")
    [letter] = dead_letters(api)
    api.wait_for_run(api.json("POST", f"/api/v1/dead-letters/{letter['id']}/retry", 202)["run_id"])

    settles(api, "brygga_runs_total", 1, sync="contacts", status="succeeded")
    settles(api, "brygga_dead_letters", 0, sync="contacts")
    _, values = scrape(api)
    assert values[("brygga_runs_total", (("status", "partial"), ("sync", "contacts")))] == 1
    assert values[("brygga_records_total", (("action", "created"), ("sync", "contacts")))] == 3
    assert values[("brygga_run_duration_seconds_count", (("sync", "contacts"),))] == 2

    project.crm.insert("contacts", [contact(4, email="", at="2024-03-02 00:00:00")])
    run(api, "contacts")
    settles(api, "brygga_dead_letters", 1, sync="contacts")
    [letter] = dead_letters(api)
    assert api.delete(f"/api/v1/dead-letters/{letter['id']}").status_code == 204
    assert value(api, "brygga_dead_letters", sync="contacts") == 0  # counted before the 204
