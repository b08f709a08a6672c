"""Keep the garbage collector's passes short and rare, so that they never stall the UI.

CPython's collector now and then walks every container object the process holds (a
generation-2 pass). After start-up that is mostly what never dies: modules, classes, the
stylesheet, Textual's own tables, some hundred thousand objects. Walking them took 0.1 to 0.4 s
on a loaded 2-core machine while Details was paged through, each pass one frozen frame
(``details_scroll_stall_s``). ``gc.freeze`` moves what exists at that moment out of the
collector's sight for good, so that later passes walk only what was made since.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Sequence

from textual.strip import Strip

_frozen = False


def freeze_startup_objects() -> bool:
    """Collect once, then hide every object alive now from later collections (once per process:
    a second app in the same process, as in the tests, would freeze the first one's remains).
    Returns whether this call froze them."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    return True


_Divide = Callable[[Strip, Iterable[int]], Sequence[Strip]]


def _divide_without_cycle(original: _Divide) -> _Divide:
    """``Strip.divide`` that returns a line in one piece without caching it inside itself."""

    @functools.wraps(original)
    def divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        length = self.cell_length
        kept = [cut for cut in cuts if cut <= length]
        if kept == [length]:
            # Textual caches ``[self]`` in the strip itself: a cycle per line drawn.
            return [self]
        return original(self, kept)

    return divide


def draw_without_cycles() -> None:
    """Make Textual's line division leave no reference cycle (idempotent; the app calls it when
    it mounts). The compositor divides every line it draws at the edges of the widgets; a line
    in one piece was cached inside itself, so that each one drawn became garbage that only the
    collector could free: two thirds of what its passes walked while Details was paged through.
    """
    if not getattr(Strip.divide, "_without_cycle", False):
        divide = _divide_without_cycle(Strip.divide)
        divide._without_cycle = True  # type: ignore[attr-defined]
        Strip.divide = divide  # type: ignore[method-assign,assignment]
