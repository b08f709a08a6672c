"""How the commands tell provider faults: answers that were recorded and never applied."""

from __future__ import annotations

from collections.abc import Mapping

from notify_tui.domain.text import visible


def rejected_line(by_kind: Mapping[str, int], latest: str | None) -> str:
    """``3 provider answers rejected (not applied): 2 foreign sid, 1 ...; latest: ...``."""
    total = sum(by_kind.values())
    ranked = sorted(by_kind.items(), key=lambda item: (-item[1], item[0]))
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in ranked)
    text = f"{total:,} provider answer{'s' if total != 1 else ''} rejected (not applied): {kinds}"
    if latest:
        text += f"; latest: {visible(latest)}"
    return text + " (see notify-tui doctor)"
