"""``brygga demo``: the sample systems the quickstart project syncs, created beside its brygga.yaml.

A small CRM in SQLite (companies and contacts, with Nordic letters, an
archived contact, and a contact waiting for nothing), an empty ERP import
folder, and an empty helpdesk in SQLite (the two-way sync's other side).
Existing files are left alone unless ``--reset`` is given, so the
quickstart command can be run again and report everything unchanged.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from app.cli.app import ConfigOption, cli, project_file, usage_error
from app.cli.output import output

COMPANIES = [
    (1, "Berg & Son AB", "556677-8899", "Sverige", "ja"),
    (2, "Fjord Fisk AS", "987 654 321", "Norge", "ja"),
    (3, "Ålands Åkeri Ab", "2345678-9", "Finland", "nej"),
    (4, "Köpenhamns Kaffe ApS", "DK12345678", "Danmark", "ja"),
    (5, "Umeå   Hantverk", "559900-1122", "sverige", "nej"),
]

CONTACTS = [
    # id, company, first, last, email, phone, credit limit, created, status
    (1, 1, "Ann", "Berg", " Ann@Berg.SE ", "+46 70-123 45 67", "12 500,50", "2023-01-12T09:30:00Z", "active"),
    (2, 1, "Örjan", "Åkesson", "orjan@berg.se", "070 765 43 21", "5000", "2023-02-01T10:00:00Z", "active"),
    (3, 2, "Kari", "Nordmann", "KARI@fjordfisk.no", "+47 912 34 567", "", "2023-03-15T08:00:00Z", "active"),
    (4, 3, "Åsa", "Lind", "asa.lind@akeri.ax", None, "750,00", "2023-05-20T12:45:00Z", "active"),
    (5, 4, "Søren", "Kierkegaard", "soren@kaffe.dk", "+45 12 34 56 78", "1.250,00", "2023-06-01T07:15:00Z", "archived"),
    (6, 5, "Märta", "Öberg", "marta@umeahantverk.se", "090-12 34 56", "3000", "2024-01-08T14:00:00Z", "active"),
    (7, None, "Bo", "Ek", "bo.ek@example.com", None, None, "2024-02-02T16:20:00Z", "active"),
]

_SCHEMA = """
CREATE TABLE companies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, org_number TEXT, country TEXT, vat_registered TEXT,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES companies(id), first_name TEXT, last_name TEXT,
    email TEXT, phone TEXT, credit_limit TEXT, created_at TEXT, status TEXT NOT NULL, updated_at TIMESTAMP NOT NULL
);
"""


@cli.command()
def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Start over: recreate the sample data and forget all runs.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create the quickstart's sample systems (demo/crm.db and demo/erp-import/) if they are missing."""
    folder = project_file(config).parent / "demo"
    _check_place(folder)
    if reset:
        _remove_samples(folder)
    crm, helpdesk = folder / "crm.db", folder / "helpdesk.db"
    (folder / "erp-import").mkdir(parents=True, exist_ok=True)
    if not helpdesk.exists():  # on its own too: a demo folder made before the helpdesk came gets it
        _create_helpdesk(helpdesk)
        output.say(f"created the sample helpdesk (empty: the two-way sync fills it): {helpdesk}")
    if crm.exists():
        output.say(f"the sample CRM is there already: {crm} (use --reset to start over)")
        return
    _create_crm(crm)
    output.say(f"created the sample CRM ({len(COMPANIES)} companies, {len(CONTACTS)} contacts): {crm}")
    output.say(f"created the ERP import folder: {folder / 'erp-import'}")


SAMPLES = ("crm.db", "helpdesk.db", "brygga.db", "brygga.db-wal", "brygga.db-shm")
"""What ``demo`` makes in its folder, and the quickstart's state beside them: all that ``--reset`` removes
there, with the ERP's CSV files; anything else a user put in the folder stays."""


def _check_place(folder: Path) -> None:
    """The demo's folder and files are what ``demo`` made, or not there yet: a file, a link or a folder in
    their place is the user's, never written over or removed."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        usage_error(f"{folder} is not a folder: move it away (demo makes its sample systems in a folder there)")
    for name in (*SAMPLES, "erp-import"):
        place = folder / name
        wanted_folder = name == "erp-import"
        if place.is_symlink() or (place.exists() and place.is_dir() != wanted_folder):
            kind = "a folder" if wanted_folder else "a file"
            usage_error(f"{place} is not {kind} that demo made: move it away, then run demo again")


def _remove_samples(folder: Path) -> None:
    for name in SAMPLES:
        (folder / name).unlink(missing_ok=True)
    erp = folder / "erp-import"
    for written in erp.glob("*.csv") if erp.is_dir() else ():
        written.unlink()


def _create_crm(path: Path) -> None:
    stamp = "2024-03-01 12:00:00"
    with sqlite3.connect(path) as connection:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO companies VALUES (?, ?, ?, ?, ?, ?)", [(*company, stamp) for company in COMPANIES]
        )
        connection.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(*contact, stamp) for contact in CONTACTS]
        )
    connection.close()


_HELPDESK_SCHEMA = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT,
    updated_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE TRIGGER people_stamp AFTER UPDATE ON people WHEN OLD.updated_at IS NEW.updated_at
BEGIN UPDATE people SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id; END;
"""
"""The helpdesk stamps every change, as a business system does: its cursor sees each edit."""


def _create_helpdesk(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(_HELPDESK_SCHEMA)
    connection.close()
