"""Error answers that reflect the credentials back, in plain and in escaped forms (SPEC 2: values that
came from ``${VAR}`` never appear in logs, API answers or errors).

Systems do echo what they were sent ("invalid token 'Zq…'"), and not always verbatim: PHP's
``json_encode`` writes ``/`` as ``\\/``, others percent-encode in lower case or write ``\\uXXXX``.
Brygga keeps the start of an error answer in its messages; none of these forms may survive into the
output, the dead letters, the record log or the runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

from tests.connectors.rest.server import ApiState, contacts
from tests.faults.conftest import PAGES, PEOPLE, FaultProject
from tests.faults.proxy import Answer, FaultProxy

MakeProject = Callable[..., FaultProject]

TOKEN = "Zq9xK7/w2Lm+p4Rt=tk"
ENV = {"FAULTS_API_TOKEN": TOKEN}

FORMS = {
    "plain": TOKEN,
    "json-escaped-slash": TOKEN.replace("/", "\\/"),
    "percent-upper": quote(TOKEN, safe=""),
    "percent-lower": re.sub(r"%[0-9A-F]{2}", lambda found: found.group().lower(), quote(TOKEN, safe="")),
    "unicode-escaped": "".join(f"\\u{ord(char):04x}" for char in TOKEN),
}


def reflecting(form: str) -> bytes:
    return f'{{"error": "the token {form} may not do this"}}'.encode()


def revealed(text: str) -> list[str]:
    """The forms of :data:`TOKEN` that ``text`` holds, once its escapes are undone."""
    undone = {
        "as is": text,
        "unquoted": unquote(text),
        "json slashes": text.replace("\\/", "/"),
        "unicode escapes": re.sub(r"\\u([0-9a-fA-F]{4})", lambda found: chr(int(found.group(1), 16)), text),
    }
    return [name for name, variant in undone.items() if TOKEN in variant]


def test_error_answers_reflecting_the_token_leak_it_nowhere(
    api: ApiState, proxy: FaultProxy, make_project: MakeProject
) -> None:
    api.contacts = contacts(30)
    project = make_project(40)
    project.write(auth={"type": "bearer", "token": "${FAULTS_API_TOKEN}"})
    for number, form in enumerate(FORMS.values()):  # a 400 on a create: a dead letter keeping the answer
        proxy.add(Answer(400, body=reflecting(form)), method="POST", path=PEOPLE, skip=3 * number)
    every_form = " ".join(FORMS.values())
    proxy.add(Answer(401, body=f'{{"error": "refused: {every_form}"}}'.encode()), method="GET", path=PAGES)

    written = project.brygga("run", "out", env=ENV)
    read = project.brygga("run", "in", env=ENV)
    status = project.brygga("status", env=ENV)

    assert len(project.dead_letters()) == len(FORMS), written
    assert project.runs()[-1].status == "failed", read
    places = {
        "brygga run out": written.output,
        "brygga run in": read.output,
        "brygga status": status.output,
        "dead letters": "\n".join(error for _, error in project.dead_letters()),
        "record log": "\n".join(str(row[0]) for row in project.state_rows("SELECT error FROM record_log")),
        "runs": "\n".join(str(run.error) for run in project.runs()),
    }
    assert "may not do this" in places["dead letters"], "the system's own words are kept"
    leaks = {place: found for place, text in places.items() if (found := revealed(text))}
    shown = "\n".join(f"{place}: {places[place][-600:]}" for place in leaks)
    assert leaks == {}, f"the token shows, once unescaped, in: {leaks}\n{shown}"
