"""yitu.core.heap.bulk_heap: the collector kept off the existing heap, and given back."""

from __future__ import annotations

import gc
import threading
import weakref

from yitu.core.heap import YOUNG_THRESHOLD, bulk_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_freezes_the_heap_and_raises_the_young_threshold_for_the_block() -> None:
    before_threshold, before_frozen = gc.get_threshold(), gc.get_freeze_count()
    kept = [Node() for _ in range(100)]
    with bulk_heap():
        assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before_threshold[0])
        assert gc.get_threshold()[1:] == before_threshold[1:]
        assert gc.get_freeze_count() >= before_frozen + len(kept)
    assert gc.get_threshold() == before_threshold
    assert gc.get_freeze_count() == 0
    assert len(kept) == 100


def test_settle_freezes_what_the_block_kept() -> None:
    with bulk_heap() as settle:
        frozen = gc.get_freeze_count()
        made = [Node() for _ in range(500)]
        settle()
        assert gc.get_freeze_count() >= frozen + len(made)


def test_a_cycle_made_inside_is_collected_once_the_block_ends() -> None:
    with bulk_heap() as settle:
        ref = _cycle()
        settle()  # frozen: out of the collector's reach
        gc.collect()
        assert ref() is not None
    gc.collect()
    assert ref() is None


def test_garbage_without_cycles_is_freed_inside_the_block() -> None:
    with bulk_heap() as settle:
        obj = Node()
        ref = weakref.ref(obj)
        settle()
        del obj  # reference counting still frees frozen objects
        assert ref() is None


def test_nested_blocks_restore_only_when_the_outermost_ends() -> None:
    before = gc.get_threshold()
    with bulk_heap():
        with bulk_heap():
            pass
        assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    try:
        with bulk_heap():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_concurrent_blocks_in_two_threads_share_one_setting() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with bulk_heap():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with bulk_heap():
        pass
    # the other thread's block is still open: its setting stands
    assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
    release.set()
    t.join(5)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
