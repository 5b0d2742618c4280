"""The dlt loader of ``bench.rest_process``, a process of its own as a user runs a dlt pipeline.

Run: ``python -m bench.rest_dlt API_URL TARGET_URL PIPELINES_DIR``. dlt's ``rest_api`` source
(page-number paginator, one page at a time, as it does), ``updated_since`` as its incremental
parameter on ``updated_at`` (dlt keeps the cursor in ``PIPELINES_DIR`` and the destination), the
issue's 10-field mapping as an ``add_map`` step, ``write_disposition="merge"`` on ``id`` into its
``postgres`` destination, default settings otherwise.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.rest_api import rest_api_source

from bench.rest_handwritten import NAMES, PAGE, mapped


def customer(item: dict[str, Any]) -> dict[str, Any]:
    """The same mapping as the hand-written loader's, as a dict for dlt."""
    return dict(zip(NAMES, mapped(item), strict=True))


def load(api: str, target: str, pipelines: str) -> None:
    # the cursor is read after the mapping (a datetime), so its first value is one too
    start = datetime(1970, 1, 1, tzinfo=UTC)
    since = {"type": "incremental", "cursor_path": "updated_at", "initial_value": start}
    source = rest_api_source(
        {
            "client": {
                "base_url": api,
                "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": "pages"},
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "customers",
                    "endpoint": {
                        "path": "customers",
                        "params": {"per_page": PAGE, "updated_since": since},
                        "data_selector": "data",
                    },
                    "columns": {
                        "balance": {"data_type": "decimal", "precision": 12, "scale": 2},
                        "updated_at": {"data_type": "timestamp"},
                    },
                }
            ],
        }
    )
    source.resources["customers"].add_map(customer)
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest_process",
        # dlt insists on a password; trust authentication ignores it
        destination=dlt.destinations.postgres(credentials=target.replace("postgres@", "postgres:unused@")),
        dataset_name="bench",
        pipelines_dir=pipelines,
    )
    pipeline.run(source).raise_on_failed_jobs()


if __name__ == "__main__":
    load(*sys.argv[1:4])
