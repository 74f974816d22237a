"""Bulk work beside a large resident heap, with the cyclic garbage collector kept off it.

CPython's collector runs a young-generation pass every 700 net allocations and a full pass
each time the long-lived objects have grown by a quarter; a full pass walks every tracked
object of the process. An import holds the address matcher, the cleaning memo and the file's
rows — millions of objects that live until it ends — and allocates a few objects per cell:
the collector walked that heap again and again (py-spy on a county's relations file: 16 % of
the samples in ``gc_collect_main``). ``bulk_heap`` moves what exists out of the collector's
reach (``gc.freeze``: a permanent generation it never visits) and raises the young
generation's threshold; the ``settle`` it yields freezes what the work has kept since (call it
where the young objects are either kept for good or already freed, e.g. after each batch).

Freed objects are still freed by reference counting, frozen or not; only garbage *cycles*
made inside wait for the end, when everything is unfrozen into the oldest generation and the
next full pass sees it. Process-wide (the collector is): nested or concurrent uses share one
setting, restored when the last of them ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000  # allocations between young passes (CPython's default: 700)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_heap(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[Callable[[], None]]:
    """Freeze the heap for the block; yields ``settle()`` (freeze what survived so far)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(young_threshold, _saved[0]), *_saved[1:])
        _depth += 1
        gc.freeze()
    try:
        yield gc.freeze
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                assert _saved is not None
                gc.set_threshold(*_saved)
                gc.unfreeze()
