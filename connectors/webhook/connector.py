"""The ``webhook`` connector class: nothing to poll or write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from connectors.base import Batch, Checkpoint, Connector, Mode, StreamInfo, StreamOptions, SystemOptions, TargetProblem


class WebhookSystem(SystemOptions):
    """A system known only by the events it pushes; its ``webhook`` block is required."""

    streams: dict[str, StreamOptions]

    def target_problems(self, stream: str, mode: Mode) -> Iterator[TargetProblem]:
        yield TargetProblem("a webhook system only sends events: nothing can be written to it")


class WebhookConnector(Connector):
    """Records arrive only through ``POST /webhooks/{system}``: a scheduled or manual run reads nothing."""

    options_model = WebhookSystem

    async def check(self) -> None:
        """Nothing to reach: the system calls Brygga."""

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        return StreamInfo()

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        yield Batch([], {})
