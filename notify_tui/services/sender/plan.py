"""Planning a campaign: what it would send, skip as opted out, record as invalid and cost;
then recording it with every recipient, before anything is submitted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from notify_tui.domain.money import format_money
from notify_tui.domain.phone import DEFAULT_REGION, normalize
from notify_tui.domain.segments import (
    SegmentInfo,
    count_segments,
    estimate_cost,
    placeholder_note,
)
from notify_tui.domain.status import CampaignState
from notify_tui.errors import NotifyError
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import database
from notify_tui.store.optouts import opted_out_phones
from notify_tui.store.sending import AddedRecipients, NewRecipient, add_recipients

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class SendError(NotifyError):
    """A campaign cannot be planned or sent; the message says why, in one line."""


class RecipientLike(Protocol):
    """Anything with a phone, a name and, for a number that failed validation, why."""

    @property
    def phone(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def invalid_reason(self) -> str | None: ...


@dataclass(frozen=True)
class CampaignPlan:
    """What sending a campaign would do, before anything is recorded."""

    name: str
    body: str
    sender: str | None
    messaging_service_sid: str | None
    price_per_segment: Decimal
    recipients: list[NewRecipient] = field(repr=False)
    """Unique by number: valid ones first seen, and invalid ones (recorded, never sent)."""
    to_send: int
    skipped_opted_out: int
    invalid: int
    duplicates: int
    segment_info: SegmentInfo

    @property
    def segments(self) -> int:
        """Segments per message."""
        return self.segment_info.segments

    @property
    def encoding(self) -> str:
        """``GSM-7`` or ``UCS-2``."""
        return self.segment_info.encoding

    @property
    def estimated_cost(self) -> Decimal:
        """What the messages to send are estimated to cost."""
        return estimate_cost(self.segments * self.to_send, self.price_per_segment)

    @property
    def money_saved(self) -> Decimal:
        """The estimated cost of the messages not sent to opted-out numbers."""
        return estimate_cost(self.segments * self.skipped_opted_out, self.price_per_segment)

    def summary_lines(self) -> list[str]:
        """The plan as a few lines of plain text, for a confirmation prompt."""
        info = self.segment_info
        trigger = f" (because of {info.ucs2_trigger!r})" if info.ucs2_trigger else ""
        lines = [
            f"Campaign: {self.name}",
            f"Message: {info.characters} characters, {info.encoding}{trigger}, "
            f"{info.segments} segment{'s' if info.segments != 1 else ''} per message",
            *([f"Note: {note}"] if (note := placeholder_note(self.body)) else []),
            f"Recipients: {self.to_send:,} to send, {self.skipped_opted_out:,} skipped (opted "
            f"out), {self.invalid:,} invalid (recorded as Failed, not sent), "
            f"{self.duplicates:,} duplicates",
            f"Estimated cost: {format_money(self.estimated_cost, estimate=True)} "
            f"({self.segments * self.to_send:,} segments at "
            f"{format_money(self.price_per_segment, unit=True)})",
        ]
        if self.skipped_opted_out:
            lines.append(
                "Saved by skipping opted-out numbers: "
                + format_money(self.money_saved, estimate=True)
            )
        return lines


@dataclass(frozen=True)
class PreparedCampaign:
    """A campaign recorded with all its recipients, ready to send."""

    campaign_id: int
    plan: CampaignPlan
    added: AddedRecipients
    """What was recorded (opt-outs may have changed since the plan)."""


def check_campaign(
    name: str, body: str, sender: str | None, messaging_service_sid: str | None
) -> tuple[str, SegmentInfo]:
    """The checks that need no audience (name, body, sender), done before any file is read:
    the name stripped and the body's segments, or ``SendError`` saying what is wrong."""
    name = name.strip()
    if not name:
        raise SendError("the campaign needs a name")
    if not body.strip():
        raise SendError("the message is empty")
    info = count_segments(body)
    if info.too_long:
        raise SendError(
            f"the message has {info.characters:,} characters: the provider refuses more than 1,600"
        )
    if not sender and not messaging_service_sid:
        raise SendError("no sender: set from_number (NOTIFY_FROM) or messaging_service_sid")
    return name, info


def plan_campaign(
    name: str,
    body: str,
    recipients: Iterable[RecipientLike],
    *,
    sender: str | None = None,
    messaging_service_sid: str | None = None,
    price_per_segment: Decimal = Decimal(0),
    region: str = DEFAULT_REGION,
) -> CampaignPlan:
    """Count what a campaign would send, skip and cost; nothing is recorded.

    Numbers not in E.164 are normalised with ``region``. Raises ``SendError`` for an empty name
    or body, a body the provider would refuse for its length, or no sender.
    """
    name, info = check_campaign(name, body, sender, messaging_service_sid)
    seen: set[str] = set()
    unique: list[NewRecipient] = []
    duplicates = invalid = 0
    for recipient in recipients:
        phone, reason = recipient.phone, recipient.invalid_reason
        if reason is None and not _E164.match(phone):
            result = normalize(phone, region)
            phone, reason = (result.e164, None) if result.e164 else (phone, result.error)
        if phone in seen:
            duplicates += 1
            continue
        seen.add(phone)
        if reason is not None:
            invalid += 1
        unique.append(NewRecipient(phone, recipient.name or "", reason))
    opted = opted_out_phones(r.phone for r in unique if r.invalid_reason is None)
    return CampaignPlan(
        name=name,
        body=body,
        sender=sender,
        messaging_service_sid=messaging_service_sid,
        price_per_segment=abs(price_per_segment),
        recipients=unique,
        to_send=len(unique) - invalid - len(opted),
        skipped_opted_out=len(opted),
        invalid=invalid,
        duplicates=duplicates,
        segment_info=info,
    )


def record_campaign(plan: CampaignPlan) -> PreparedCampaign:
    """Record the campaign and every recipient (invalid ones as Failed), ready to send."""
    with database.atomic():
        campaign_id = create_campaign(
            plan.name,
            plan.body,
            sender=plan.sender,
            messaging_service_sid=plan.messaging_service_sid,
            segments=plan.segments,
            price_per_segment=plan.price_per_segment,
            state=CampaignState.DRAFT,
        )
        added = add_recipients(campaign_id, plan.recipients)
    return PreparedCampaign(campaign_id, plan, added)


def prepare_campaign(
    name: str,
    body: str,
    recipients: Iterable[RecipientLike],
    *,
    sender: str | None = None,
    messaging_service_sid: str | None = None,
    price_per_segment: Decimal = Decimal(0),
    region: str = DEFAULT_REGION,
) -> PreparedCampaign:
    """Plan a campaign and record it with all its recipients (``plan_campaign`` then
    ``record_campaign``); nothing is submitted."""
    plan = plan_campaign(
        name,
        body,
        recipients,
        sender=sender,
        messaging_service_sid=messaging_service_sid,
        price_per_segment=price_per_segment,
        region=region,
    )
    return record_campaign(plan)
