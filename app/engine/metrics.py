"""Prometheus metrics of runs, records, dead letters and durations (SPEC 7 ``/metrics``).

Each service has a registry of its own, so two services in one process (as
in tests) never count into each other.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from app.store import RunInfo

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created only repeats the start time

RUN_SECONDS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    """The service's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.runs = Counter("brygga_runs", "Finished runs, by sync and status.", ["sync", "status"], registry=registry)
        self.records = Counter(
            "brygga_records", "Records by sync and what a run did to them.", ["sync", "action"], registry=registry
        )
        self.dead_letters = Gauge("brygga_dead_letters", "Dead letters waiting, by sync.", ["sync"], registry=registry)
        self.run_seconds = Histogram(
            "brygga_run_duration_seconds", "How long runs took.", ["sync"], buckets=RUN_SECONDS, registry=registry
        )
        self.conflicts = Counter(
            "brygga_conflicts", "Conflicts two-way runs settled, by sync.", ["sync"], registry=registry
        )
        self.webhook_events = Counter(
            "brygga_webhook_events",
            "Webhook deliveries, by system and outcome.",
            ["system", "outcome"],
            registry=registry,
        )

    def count_run(self, run: RunInfo) -> None:
        self.runs.labels(run.sync, run.status).inc()
        for action, count in run.counts.as_dict().items():
            if count:
                self.records.labels(run.sync, action).inc(count)
        if run.conflicts:
            self.conflicts.labels(run.sync).inc(run.conflicts)
        if run.finished_at is not None:
            self.run_seconds.labels(run.sync).observe((run.finished_at - run.started_at).total_seconds())

    def set_dead_letters(self, counts: dict[str, int], syncs: list[str]) -> None:
        for sync in syncs:
            self.dead_letters.labels(sync).set(counts.get(sync, 0))

    def text(self) -> bytes:
        return generate_latest(self.registry)
