"""Checking a workspace for what a crash, a killed process or a bug may have left inconsistent.

What is checked, and why it is checkable:

- the schema: the recorded version is the one this notify-tui writes, every table is there, and
  (SQLite) the file passes ``PRAGMA quick_check`` and ``foreign_key_check``;
- each campaign's counters against its rows: ``recipients`` is the number of its messages,
  ``delivered``/``failed``/``unknown`` the messages in each status (so they add up to
  ``recipients``), ``submitted`` the messages the provider accepted, ``cost`` the sum of their
  prices. Every writer moves a counter in the transaction that changes the rows it counts, so any
  difference is damage. ``skipped_opted_out`` counts rows that were never written (or removed):
  nothing to check it against;
- the status history (the per-minute tallies behind the sparkline) against the final messages:
  each message that became Delivered or Failed from a provider answer was tallied once, in the
  minute of its ``resolved_at``; numbers that failed the app's own validation were recorded
  Failed without a resolution and are not tallied. So per campaign, tallied deliveries equal
  Delivered messages and tallied failures equal Failed messages less invalid ones. (Which minute
  a resolution went to is only checked through the totals.);
- leases: an expired lease is harmless (any poller may take the message) but is cleared; a lease
  on a message that is no longer Unknown, or half a lease, is an orphan. Live leases are noted;
- sending: a message ``attempting`` when no sender holds its campaign may or may not have
  reached the provider; only ``notify-tui send --resume`` can find out (it looks the message up
  before sending anything). A campaign still marked ``sending`` with no sender is interrupted;
- polling: an Unknown message with a SID, inside the polling window, that no poller is scheduled
  to look at again would stay Unknown for ever;
- opt-outs: each contact's opt-out state agrees with the last event of its audit trail;
- the storage (``storage``): every value of an SQLite file is valid text or a number where a
  number belongs (SQLite checks neither), the file is its owner's alone, and when it was last
  backed up. A damaged file is examined as far as it reads, then read table by table;
- the search index of names (``store.name_search``): it is there (PostgreSQL without ``pg_trgm``
  and no right to create it: why not) and, on SQLite, holds a row for every recipient and
  contact. It holds nothing but what the rows say, so ``repair`` builds it again;
- provider faults: answers the provider gave that were not about what was asked, or held values
  the API never sends (``store.faults``), in the last ``FAULT_WINDOW``. They were never applied,
  so nothing needs repairing; but someone should know the provider (or something between) is
  misbehaving.

``repair`` fixes what can be derived from the rows, each in one transaction: it recomputes
counters, rebuilds tallies, clears expired and orphan leases, marks abandoned ``sending``
campaigns ``interrupted``, schedules forgotten Unknown messages for a look and rebuilds the
search index. It never touches
a message's status, and never guesses whether a create reached the provider.

The checks are in ``checks`` (``examine``), the fixes in ``repairs`` (``repair``), what they
share in ``findings``; campaign counters are counted and recounted by ``store.counters``.
"""

from __future__ import annotations

from notify_tui.store.doctor.checks import examine
from notify_tui.store.doctor.findings import REPAIRABLE, Check, Examination, Problem
from notify_tui.store.doctor.repairs import (
    clear_leases,
    mark_interrupted,
    rebuild_tallies,
    repair,
    schedule_forgotten,
)
from notify_tui.store.doctor.storage import Salvage, salvage

__all__ = [
    "REPAIRABLE",
    "Check",
    "Examination",
    "Problem",
    "Salvage",
    "clear_leases",
    "examine",
    "mark_interrupted",
    "rebuild_tallies",
    "repair",
    "salvage",
    "schedule_forgotten",
]
