"""Large blocks of memory straight from the system, and given back to it when freed (glibc)."""

from __future__ import annotations

import sys

M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter for the size from which a block is mapped on its own (``<malloc.h>``)."""
THRESHOLD = 128 * 1024
"""glibc's own starting value, kept: fixed, it no longer rises."""


def keep_large_blocks_apart() -> bool:
    """Have glibc map every block of 128 KiB or more on its own, for good.

    glibc does so from the start, but each such block freed raises the threshold to its size (up to 32 MiB):
    after the first, a run's page bodies, COPY buffers and batch lists (hundreds of KiB each, made and freed
    batch after batch) came from the heap, whose freed space stays with the process, cut up between smaller
    blocks: ~1.5 MB of a REST full load's peak memory. Called by the commands that move records; elsewhere
    than glibc (musl, macOS) nothing is set.

    :returns: whether the threshold was set
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # noqa: PLC0415 (3 ms, for the commands that move records only)

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
