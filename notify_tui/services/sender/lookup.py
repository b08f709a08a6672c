"""Settling a create of unknown outcome: adopt a provider message only when it is provably ours.

A create that timed out, lost its connection or got a 5xx may have made a message. The
provider's records are listed by ``To`` (by send date, then without it: a message still queued
has no send date), keeping the messages with this campaign's body and sender that no other
message of the workspace holds. Each is judged by its ``date_created`` against the attempt's own
window: from when the request could first have left (``start``) to when its answer was due
(``end``), widened by ``CLOCK_SKEW`` on each side for the two clocks and the provider's
whole-second timestamps.

- exactly one match inside the window, and no other near it: it is ours, adopt it;
- no match inside the window and none near it: the create made nothing, send it again;
- anything else (two or more inside, one just outside, one without a creation time): it can't be
  told apart from another sender's message (another workspace, another tool on the account):
  the recipient **needs review**, and is neither adopted nor sent again until a person decides.

The residual risk (README): another sender on the same account, sending the same body to the
same number from the same sender inside the same few seconds, while our own create made nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from notify_tui.provider import ProviderMessage, TwilioClient
from notify_tui.store.campaigns import CampaignSummary

CLOCK_SKEW = timedelta(seconds=2)
"""How far the provider's clock and ours may disagree (NTP keeps them well within it), its
timestamps being whole seconds. A clock further off makes lookups ask for review, not guess."""

NEAR = timedelta(minutes=5)
"""A match this close outside the window is too close to call: the recipient needs review."""

LOOKUP_MAX_PAGES = 10
"""Pages of one number's messages read, at most, to find one create."""

TakenSids = Callable[[list[str]], Awaitable[set[str]]]
"""Which of these SIDs other messages of the workspace already hold."""


class Verdict(StrEnum):
    """What a lookup concluded."""

    ADOPT = "adopt"
    """Exactly one match, inside the attempt's window: the create made it."""
    ABSENT = "absent"
    """No match anywhere near the window: the create made nothing; it may be sent again."""
    REVIEW = "review"
    """Ambiguous: a person decides (adopt one of the candidates, resend, or skip)."""


@dataclass(frozen=True, slots=True)
class AttemptWindow:
    """When a create could have reached the provider: from ``start`` to ``end`` (aware UTC)."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime, allowance: timedelta = CLOCK_SKEW) -> bool:
        """Whether ``moment`` lies inside the window, widened by ``allowance`` on both sides."""
        return self.start - allowance <= moment <= self.end + allowance

    def describe(self) -> str:
        """``12:00:01–12:00:31 UTC``: for the recipient's note."""
        return f"{self.start:%H:%M:%S}–{self.end:%H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class LookupResult:
    """A lookup's verdict, the message to adopt, and what a person needs to decide."""

    verdict: Verdict
    message: ProviderMessage | None = None
    inside: list[str] = field(default_factory=list)
    """SIDs of the free matches inside the window."""
    near: list[str] = field(default_factory=list)
    """SIDs of the free matches just outside it (or without a creation time)."""

    def note(self, window: AttemptWindow) -> str:
        """Why the recipient needs review, for the Details row, the export and ``review``."""
        parts = []
        if self.inside:
            parts.append(f"{len(self.inside)} inside the attempt ({', '.join(self.inside)})")
        if self.near:
            parts.append(f"{len(self.near)} just outside it ({', '.join(self.near)})")
        return (
            f"needs review: the create's outcome is unknown and the provider holds "
            f"{' and '.join(parts)} for {window.describe()}: adopt one, resend or skip"
        )


def judge(
    campaign: CampaignSummary,
    phone: str,
    window: AttemptWindow,
    listed: list[ProviderMessage],
    taken: set[str],
    body: str | None = None,
) -> LookupResult:
    """The verdict on ``listed`` (the provider's messages to ``phone``), pure: no I/O."""
    inside: dict[str, ProviderMessage] = {}
    near: dict[str, ProviderMessage] = {}
    for message in listed:
        sid = message.sid
        if not sid or sid in taken or not matches(campaign, phone, message, body):
            continue
        created = message.date_created
        if created is None:
            near[sid] = message  # can't be placed in time: not provably ours
        elif window.contains(created):
            inside[sid] = message
        elif window.contains(created, NEAR):
            near[sid] = message
    if len(inside) == 1 and not near:
        return LookupResult(Verdict.ADOPT, next(iter(inside.values())), list(inside))
    if not inside and not near:
        return LookupResult(Verdict.ABSENT)
    return LookupResult(Verdict.REVIEW, None, sorted(inside), sorted(near))


async def find_created(
    client: TwilioClient,
    campaign: CampaignSummary,
    phone: str,
    window: AttemptWindow,
    taken_sids: TakenSids,
    body: str | None = None,
) -> LookupResult:
    """Look for what a create to ``phone`` during ``window`` made, and judge it (``judge``).

    ``body``: the recipient's own text (a personal message); ``None``: the campaign's body.

    Raises ``ProviderError`` when the provider can't be asked (the caller tries again later).
    """
    since = window.start - NEAR
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    listed: dict[str, ProviderMessage] = {}
    searches: list[dict[str, Any]] = [
        {"date_sent_after": since.date(), "date_sent_before": tomorrow},
        {},
    ]
    for filters in searches:
        pages = 0
        async for page in client.list_messages(to=phone, page_size=100, **filters):
            pages += 1
            for message in page:
                if message.sid and matches(campaign, phone, message, body):
                    listed[message.sid] = message
            # Newest first: once a whole page is well before the attempt, stop reading.
            older = [m for m in page if m.date_created and m.date_created < since]
            if pages >= LOOKUP_MAX_PAGES or (page and len(older) == len(page)):
                break
    if not listed:
        return LookupResult(Verdict.ABSENT)
    taken = await taken_sids(list(listed))
    return judge(campaign, phone, window, list(listed.values()), taken, body)


def matches(
    campaign: CampaignSummary, phone: str, message: ProviderMessage, body: str | None = None
) -> bool:
    """Whether ``message`` may be this campaign's create to ``phone`` (time aside): its text is
    ``body`` (the recipient's own, for a personal message) or else the campaign's body."""
    if message.to != phone:
        return False
    expected = campaign.body if body is None else body
    sent = message.body or ""
    # A trial account prefixes the body with a notice: the end still matches.
    if sent != expected and not sent.endswith(expected):
        return False
    if campaign.messaging_service_sid:
        return message.messaging_service_sid == campaign.messaging_service_sid
    return message.from_ is not None and message.from_ == campaign.sender
