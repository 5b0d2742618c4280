"""Overlapping writes that change a system one after the other, in the order they were called.

A connector that lets the engine keep two batches' writes under way (see
:meth:`connectors.base.Connector.overlapping_writes`) gives each call a
:class:`Turn` the moment it is made. A call may prepare at once (convert its
rows, send them to a staging area) and waits for its turn only before it
changes anything: the system sees the batches in call order, as if written
one by one. When an earlier call fails while a later one waits, the later
one fails too, before it changes anything, with
:class:`~app.errors.EarlierWriteFailed`: its caller makes it again after the
earlier one is through (retried), so batches keep their order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import EarlierWriteFailed

if TYPE_CHECKING:  # asyncio itself only where a write runs (in an event loop): `brygga validate` needs none
    import asyncio


class CallOrder:
    """The order of the calls that change one stream."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None
        self._calls = 0
        self.failed: list[int] = []
        """The numbers of the calls that failed (on their own, not for an earlier one), in the order they failed."""

    def turn(self) -> Turn:
        """A turn after every call made so far; take it before the call's first ``await``."""
        from asyncio import get_running_loop  # noqa: PLC0415 (imported by the event loop running this call)

        ended: asyncio.Future[None] = get_running_loop().create_future()
        turn = Turn(self, self._calls, self._last, ended)
        self._calls += 1
        self._last = ended
        return turn


class Turn:
    """One call's place in a :class:`CallOrder`."""

    def __init__(
        self, order: CallOrder, number: int, before: asyncio.Future[None] | None, ended: asyncio.Future[None]
    ) -> None:
        self._order = order
        self._number = number
        self._before = before
        self._ended = ended
        self._failures_seen = len(order.failed)
        self._waited = False

    async def wait(self) -> None:
        """Wait until every earlier call has ended (at once, when waited for already).

        :raises EarlierWriteFailed: when an earlier call failed meanwhile: this one changes nothing
        """
        if self._waited:
            return
        if self._before is not None:
            from asyncio import shield  # noqa: PLC0415 (imported by the event loop running this call)

            await shield(self._before)
        if any(number < self._number for number in self._order.failed[self._failures_seen :]):
            raise EarlierWriteFailed("an earlier write to the same table failed: this batch is written after it")
        self._waited = True

    def fail(self) -> None:
        """The call failed on its own (not for an earlier one): calls after it that wait for it fail too."""
        self._order.failed.append(self._number)

    def end(self) -> None:
        """The call has ended; the next may go on once every call before this one has ended too."""
        before = self._before
        if before is None or before.done():
            self._settle()
        else:
            before.add_done_callback(lambda _: self._settle())

    def _settle(self) -> None:
        if not self._ended.done():
            self._ended.set_result(None)
        if self._order._last is self._ended:  # every call has ended: no one is left to fail for these
            self._order.failed.clear()
