"""No garbage collection while ``brygga`` starts: from ``main()`` until the command's project is open.

Start-up makes objects that live as long as the process (modules, classes, functions, the project's config
models and compiled mappings) and next to no garbage (44 objects before the quickstart's run). With the
collector on, each of its passes over the older objects went over everything made before: ~25 ms of the
imports of ``brygga run`` (SQLAlchemy's hundreds of modules), and ~25 ms more after them (typer building
checks of its options with pydantic, the project's config models, Jinja for the mappings' expressions):
whole processes in turn, a run with nothing to do took 0.49 s with it, 0.47 s without.

A command that opens no project (``init``, ``schema``, ``connectors``, ``demo``) ends before it would have
made garbage worth collecting. ``brygga run`` and ``serve`` then collect as
:func:`~app.engine.tune_garbage_collection` says.
"""

from __future__ import annotations

import gc


def start_up_begins() -> bool:
    """Stop collecting garbage; whether the collector was on, for ``main()`` to leave it as it found it
    (a program or test that calls ``main()`` itself goes on collecting)."""
    collecting = gc.isenabled()
    gc.disable()
    return collecting


def start_up_ends() -> None:
    """Collect garbage again: the command's project is open, and what follows makes garbage.

    What start-up made is frozen first (left out of every collection from now on): with the collector off,
    it all stayed in the youngest generation, and the first collection after would have gone over every
    object of it (~23 ms for ``brygga run``), to find next to nothing.
    """
    gc.freeze()
    gc.enable()
