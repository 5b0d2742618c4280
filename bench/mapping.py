"""How fast a compiled mapping runs, against hand-written Python doing the same.

Run: ``.venv/bin/python -m bench.mapping [--records N] [--write]``. Both sides
run in this one process, interleaved, so the ratio holds on a noisy machine;
``--write`` puts the figures in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.engine.workspace import open_workspace
from bench.results import write_section

PROJECT = """\
version: 1
systems:
  crm: {connector: sql, url: "sqlite:///crm.db", streams: {contacts: {table: contacts, key: id}}}
  erp: {connector: sql, url: "sqlite:///erp.db", streams: {customers: {table: customers, key: customer_no}}}
"""

FIELDS = """\
fields:
  customer_no: id
  first_name: first_name
  last_name: last_name
  email: {from: email, transform: [strip, lower]}
  phone: phone
  city: address.city
  zip: address.zip
  country: {from: country, map: {Sverige: SE, Sweden: SE, Norge: "NO", Norway: "NO", Danmark: DK}}
  credit_limit: {from: credit_limit, type: decimal}
  status: {from: status, default: active}
"""

EXPRESSION_FIELD = '  name: "{{ record.first_name }} {{ record.last_name }}"\n'

COUNTRIES = {"Sverige": "SE", "Sweden": "SE", "Norge": "NO", "Norway": "NO", "Danmark": "DK"}


def hand_written(record: dict[str, Any]) -> dict[str, Any]:
    """What a developer would write by hand for FIELDS, null-safe like the mapping."""
    email = record.get("email")
    address = record.get("address")
    country = record.get("country")
    credit = record.get("credit_limit")
    status = record.get("status")
    return {
        "customer_no": record.get("id"),
        "first_name": record.get("first_name"),
        "last_name": record.get("last_name"),
        "email": email.strip().lower() if email is not None else None,
        "phone": record.get("phone"),
        "city": address.get("city") if address is not None else None,
        "zip": address.get("zip") if address is not None else None,
        "country": COUNTRIES.get(country, country) if country is not None else None,
        "credit_limit": Decimal(credit) if credit is not None else None,
        "status": status if status is not None else "active",
    }


def hand_written_with_expression(record: dict[str, Any]) -> dict[str, Any]:
    mapped = hand_written(record)
    mapped["name"] = f"{record.get('first_name') or ''} {record.get('last_name') or ''}"
    return mapped


def make_records(count: int) -> list[dict[str, Any]]:
    countries = ["Sverige", "Norge", "Danmark", "Finland", None]
    return [
        {
            "id": index,
            "first_name": f"First{index % 977}",
            "last_name": f"Last{index % 613}",
            "email": f"  Person.{index}@Example.COM ",
            "phone": f"+46 70 {index:07d}",
            "address": {"city": f"City{index % 101}", "zip": f"{10000 + index % 89999}"},
            "country": countries[index % len(countries)],
            "credit_limit": f"{index % 50000}.{index % 100:02d}",
            "status": None if index % 3 == 0 else "active",
        }
        for index in range(count)
    ]


def compiled(extra_fields: str) -> Callable[[dict[str, Any]], Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "brygga.yaml").write_text(PROJECT)
        (root / "mappings").mkdir()
        sync = "source: crm.contacts\ntarget: erp.customers\n" + FIELDS + extra_fields
        (root / "mappings" / "bench.yaml").write_text(sync)
        mapping = open_workspace(root / "brygga.yaml", environ={}).mappings["bench"]
    return mapping.apply


def records_per_second(function: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for record in records:
            function(record)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return len(records) / elapsed


def measure(
    pairs: dict[str, Callable[[dict[str, Any]], Any]], records: list[dict[str, Any]], rounds: int
) -> dict[str, float]:
    """Median records per second of each function, rounds interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, function in pairs.items():
            samples[name].append(records_per_second(function, records))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the figures to bench/RESULTS.md")
    options = parser.parse_args()
    records = make_records(options.records)
    plain, with_expression = compiled(""), compiled(EXPRESSION_FIELD)
    assert plain(records[1]) == hand_written(records[1]), (plain(records[1]), hand_written(records[1]))
    assert with_expression(records[1]) == hand_written_with_expression(records[1])
    speeds = measure(
        {
            "hand-written": hand_written,
            "compiled": plain,
            "hand-written + expression": hand_written_with_expression,
            "compiled + expression": with_expression,
        },
        records,
        options.rounds,
    )
    ratio = speeds["compiled"] / speeds["hand-written"]
    ratio_expression = speeds["compiled + expression"] / speeds["hand-written + expression"]
    table = "\n".join(f"| {name} | {speed:,.0f} |" for name, speed in speeds.items())
    report = (
        textwrap.dedent(
            f"""\
        {options.records:,} records, 10 fields (paths, nested paths, two transforms, a map, a default,
        a decimal type), median of {options.rounds} interleaved rounds, Python {platform.python_version()}.

        | mapping | records per second |
        | --- | ---: |
        """
        )
        + table
        + textwrap.dedent(
            f"""

        - compiled / hand-written: **{ratio:.2f}** (goal at least 0.8)
        - with one expression field, compiled / hand-written: **{ratio_expression:.2f}** (goal at least 0.3)
        """
        )
    )
    print(report)
    if options.write:
        write_section("Mapping speed (`python -m bench.mapping`)", report)


if __name__ == "__main__":
    main()
