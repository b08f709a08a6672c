"""Planning a campaign: what it would send, skip as opted out, record as invalid and cost;
then recording it with every recipient, before anything is submitted."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from notify_tui.domain.money import format_money
from notify_tui.domain.phone import DEFAULT_REGION, normalize
from notify_tui.domain.quiet_hours import QuietHours, hold_for, recipient_clock
from notify_tui.domain.schedule import (
    DEFAULT_TIMEZONE,
    describe_schedule,
    schedule_mode,
    zone,
)
from notify_tui.domain.segments import (
    SegmentInfo,
    count_segments,
    estimate_cost,
)
from notify_tui.domain.smart_encoding import LOOKALIKES
from notify_tui.domain.status import CampaignState
from notify_tui.domain.template import (
    Template,
    TemplateError,
    parse,
    recipient_values,
    unknown_fields,
)
from notify_tui.domain.text import visible
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

    @property
    def attributes(self) -> Mapping[str, str] | None: ...


PREVIEWS = 3
"""Recipients whose own text a plan shows."""

SHOWN = 5
"""Recipients named per notable group (UCS-2, more segments, a missing value)."""


@dataclass(frozen=True)
class MergeStats:
    """What a personal message comes to across the audience to send."""

    min_segments: int
    max_segments: int
    total_segments: int
    ucs2: int
    """Recipients whose own text is UCS-2 when the template alone is not."""
    ucs2_examples: list[tuple[str, str]]
    """``(who, the character)`` for the first few of them."""
    longer: int
    """Recipients whose text takes more segments than the fewest."""
    longer_examples: list[tuple[str, int]]
    previews: list[tuple[str, str]]
    """``(who, text)`` for the first few recipients to send."""


def _who(recipient: NewRecipient) -> str:
    return f"{recipient.name} ({recipient.phone})" if recipient.name else recipient.phone


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
    merge: MergeStats | None = None
    """For a personal message (a template with fields): its range across the audience."""
    send_at: datetime | None = None
    """Aware UTC: when the campaign is to go out; ``None``: at once."""
    timezone: str | None = None
    """The campaign's own time zone (how its time is shown; quiet hours' fallback)."""
    quiet_hours: QuietHours | None = None
    quiet: QuietStats | None = None
    """With quiet hours: who would be held at the campaign's time, and until when."""

    def schedule_lines(self, now: datetime | None = None) -> list[str]:
        """When it goes out and who holds it until then; who quiet hours would hold."""
        lines: list[str] = []
        tz = self.timezone or DEFAULT_TIMEZONE
        if self.send_at is not None:
            now = now or datetime.now(UTC)
            mode = schedule_mode(
                self.send_at, now, messaging_service=bool(self.messaging_service_sid)
            )
            lines.append(describe_schedule(self.send_at, tz, mode))
        if self.quiet_hours is not None and self.quiet is not None:
            lines.extend(self.quiet.lines(self.quiet_hours, tz))
        return lines

    @property
    def segments(self) -> int:
        """Segments per message (the most any recipient's own text takes)."""
        return self.merge.max_segments if self.merge else self.segment_info.segments

    @property
    def encoding(self) -> str:
        """``GSM-7`` or ``UCS-2``."""
        return self.segment_info.encoding

    @property
    def total_segments(self) -> int:
        """Segments of all the messages to send."""
        return self.merge.total_segments if self.merge else self.segments * self.to_send

    @property
    def estimated_cost(self) -> Decimal:
        """What the messages to send are estimated to cost."""
        return estimate_cost(self.total_segments, self.price_per_segment)

    @property
    def money_saved(self) -> Decimal:
        """The estimated cost of the messages not sent to opted-out numbers."""
        return estimate_cost(self.segments * self.skipped_opted_out, self.price_per_segment)

    def summary_lines(self) -> list[str]:
        """The plan as a few lines of plain text, for a confirmation prompt."""
        info = self.segment_info
        trigger = f" (because of {info.ucs2_trigger!r})" if info.ucs2_trigger else ""
        lines = [f"Campaign: {self.name}"]
        if self.merge is None:
            lines.append(
                f"Message: {info.characters} characters, {info.encoding}{trigger}, "
                f"{info.segments} segment{'s' if info.segments != 1 else ''} per message"
            )
        else:
            lines.extend(self.merge_lines())
        lines += [
            f"Recipients: {self.to_send:,} to send, {self.skipped_opted_out:,} skipped (opted "
            f"out), {self.invalid:,} invalid (recorded as Failed, not sent), "
            f"{self.duplicates:,} duplicates",
            f"Estimated cost: {format_money(self.estimated_cost, estimate=True)} "
            f"({self.total_segments:,} segments at "
            f"{format_money(self.price_per_segment, unit=True)}"
            + (
                f"; {format_money(self.price_per_segment * self.merge.min_segments)}"
                f"–{format_money(self.price_per_segment * self.merge.max_segments)} per message)"
                if self.merge
                else ")"
            ),
        ]
        if self.skipped_opted_out:
            lines.append(
                "Saved by skipping opted-out numbers: "
                + format_money(self.money_saved, estimate=True)
            )
        return lines

    def merge_lines(self) -> list[str]:
        """A personal message's lines: its range across the audience, who goes UCS-2 or takes
        more segments, and a few recipients' own texts (none for a plain message)."""
        if self.merge is None:
            return []
        merge = self.merge
        info = self.segment_info
        low, high = merge.min_segments, merge.max_segments
        span = f"{low}" if low == high else f"{low}–{high}"
        fields = ", ".join(dict.fromkeys(str(f) for f in parse(self.body).fields))
        lines = [
            f"Message: personal ({fields}), each recipient's own text: {span} "
            f"segment{'' if high == 1 else 's'} per message, {info.encoding}{trigger_of(info)} "
            f"for the template"
        ]
        if merge.ucs2:
            named = ", ".join(f"{who} ({_char_note(char)})" for who, char in merge.ucs2_examples)
            more = (
                f" and {merge.ucs2 - len(merge.ucs2_examples):,} more" if merge.ucs2 > SHOWN else ""
            )
            lines.append(
                f"  {merge.ucs2:,} recipient{'' if merge.ucs2 == 1 else 's'} in UCS-2 because of "
                f"their values: {named}{more}"
            )
        if merge.longer:
            named = ", ".join(f"{who} ({n})" for who, n in merge.longer_examples)
            more = (
                f" and {merge.longer - len(merge.longer_examples):,} more"
                if merge.longer > SHOWN
                else ""
            )
            lines.append(
                f"  {merge.longer:,} recipient{'' if merge.longer == 1 else 's'} take more than "
                f"{low} segment{'' if low == 1 else 's'}: {named}{more}"
            )
        lines.append("Preview:")
        lines.extend(f"  {who}: {text}" for who, text in merge.previews)
        return lines


@dataclass(frozen=True)
class QuietStats:
    """Who quiet hours would hold when the campaign goes out."""

    held: int
    until: list[tuple[str, int]]
    """``("08:00 America/Chicago", recipients)`` for each opening, the most held first."""
    assumed: int
    """Recipients whose number tells no usable time zone: the campaign's zone is used."""

    def lines(self, quiet: QuietHours, tz: str) -> list[str]:
        """What quiet hours do to this audience, for the review."""
        if not self.held:
            line = f"Quiet hours {quiet} (recipient's clock): nobody would be held"
        else:
            shown = ", ".join(f"{n:,} until {when}" for when, n in self.until[:SHOWN])
            more = f" and {len(self.until) - SHOWN} more times" if len(self.until) > SHOWN else ""
            line = (
                f"Quiet hours {quiet} (recipient's clock): {self.held:,} "
                f"recipient{'' if self.held == 1 else 's'} held: {shown}{more}; sent when "
                "their window opens (a poller or the app must be running)"
            )
        lines = [line]
        if self.assumed:
            lines.append(
                f"  {self.assumed:,} number{'' if self.assumed == 1 else 's'} with no usable "
                f"time zone: judged by the campaign's ({tz})"
            )
        return lines


def quiet_stats(phones: Iterable[str], at: datetime, quiet: QuietHours, tz: str) -> QuietStats:
    """Who quiet hours hold at ``at`` (aware) among ``phones``, and until when."""
    held = assumed = 0
    until: Counter[str] = Counter()
    for phone in phones:
        if recipient_clock(phone, tz).assumed:
            assumed += 1
        hold = hold_for(phone, at, quiet, tz)
        if hold is None:
            continue
        held += 1
        local = hold.until.astimezone(zone(hold.zone))
        until[f"{local:%H:%M} {hold.zone}"] += 1
    return QuietStats(held, until.most_common(), assumed)


def _char_note(char: str) -> str:
    """``'ë'``; ``'’', write ' in the contact`` for a character with a GSM-7 lookalike (smart
    encoding changes the template, never a person's name: correcting the name is theirs)."""
    by = LOOKALIKES.get(char)
    return repr(char) if by is None else f"{char!r}, write {by} in the contact"


def trigger_of(info: SegmentInfo) -> str:
    """`` (because of '’')`` for a UCS-2 body, else nothing."""
    return f" (because of {info.ucs2_trigger!r})" if info.ucs2_trigger else ""


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
    try:
        template = parse(body)
    except TemplateError as exc:
        raise SendError(str(exc)) from None
    # What goes out: without fields, the text with {{ and }} made single braces.
    info = count_segments(body if template.personal else template.render({}))
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
    send_at: datetime | None = None,
    timezone: str | None = None,
    quiet_hours: QuietHours | None = None,
    now: datetime | None = None,
) -> CampaignPlan:
    """Count what a campaign would send, skip and cost; nothing is recorded.

    ``send_at`` (aware): when it is to go out, in ``timezone`` (its own zone); ``quiet_hours``:
    who they would hold then (or ``now``) is counted.

    Numbers not in E.164 are normalised with ``region``. Raises ``SendError`` for an empty name
    or body, a body the provider would refuse for its length, or no sender.

    A personal message (a template with fields, ``domain.template``) is rendered for each
    recipient to send, and refused (``SendError``) when a field without a fallback is empty for
    every recipient, or for some of them (how many, and the first few, are named): nobody gets
    "Hi ,". Each recipient's own text is kept in the plan and recorded with them.
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
        attributes = getattr(recipient, "attributes", None)
        unique.append(NewRecipient(phone, recipient.name or "", reason, attributes))
    opted = opted_out_phones(r.phone for r in unique if r.invalid_reason is None)
    template = parse(body)
    merge = None
    if template.personal:
        unique, merge = _merge(template, info, unique, opted)
    elif (literal := template.render({})) != body:
        # {{ or }} without fields: every recipient gets the text with single braces.
        unique = [r if r.invalid_reason else replace(r, body=literal) for r in unique]
    quiet = None
    if quiet_hours is not None:
        at = max(now or datetime.now(UTC), send_at or datetime.min.replace(tzinfo=UTC))
        sendable = (r.phone for r in unique if r.invalid_reason is None and r.phone not in opted)
        quiet = quiet_stats(sendable, at, quiet_hours, timezone or DEFAULT_TIMEZONE)
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
        merge=merge,
        send_at=send_at,
        timezone=timezone,
        quiet_hours=quiet_hours,
        quiet=quiet,
    )


def _merge(
    template: Template, info: SegmentInfo, recipients: list[NewRecipient], opted: set[str]
) -> tuple[list[NewRecipient], MergeStats]:
    """Each recipient to send with their own text, and what that comes to; ``SendError`` when
    a field without a fallback has no value (for anyone, or for some)."""
    sendable = [r for r in recipients if r.invalid_reason is None and r.phone not in opted]
    values = [recipient_values(r.name, r.attributes) for r in sendable]
    unknown = unknown_fields(template, values)
    if unknown and sendable:
        field_ = unknown[0]
        raise SendError(
            f"no recipient has a value for {field_}: add a fallback, like "
            f"{{{field_.name}|...}}, or choose a column the contacts have"
        )
    lacking = [
        (r, missing)
        for r, v in zip(sendable, values, strict=True)
        if (missing := template.missing(v))
    ]
    if lacking:
        named = "; ".join(
            f"{_who(r)} has no {', '.join(str(f) for f in fields)}" for r, fields in lacking[:SHOWN]
        )
        more = f" and {len(lacking) - SHOWN:,} more" if len(lacking) > SHOWN else ""
        raise SendError(
            f"{len(lacking):,} recipient{'' if len(lacking) == 1 else 's'} would get a blank: "
            f"{named}{more}; add a fallback, like {{{lacking[0][1][0].name}|...}}"
        )
    rendered: dict[str, str] = {}
    measured: dict[str, SegmentInfo] = {}
    for recipient, value in zip(sendable, values, strict=True):
        text = template.render(value)
        rendered[recipient.phone] = text
        if text not in measured:
            measured[text] = count_segments(text)
            if measured[text].too_long:
                raise SendError(
                    f"the message for {_who(recipient)} has {measured[text].characters:,} "
                    "characters: the provider refuses more than 1,600"
                )
    sizes = [measured[rendered[r.phone]] for r in sendable]
    low = min((s.segments for s in sizes), default=info.segments)
    high = max((s.segments for s in sizes), default=info.segments)
    ucs2 = [
        (_who(r), s.ucs2_trigger or "")
        for r, s in zip(sendable, sizes, strict=True)
        if s.encoding == "UCS-2" and info.encoding == "GSM-7"
    ]
    longer = [
        (_who(r), s.segments) for r, s in zip(sendable, sizes, strict=True) if s.segments > low
    ]
    stats = MergeStats(
        min_segments=low,
        max_segments=high,
        total_segments=sum(s.segments for s in sizes),
        ucs2=len(ucs2),
        ucs2_examples=ucs2[:SHOWN],
        longer=len(longer),
        longer_examples=longer[:SHOWN],
        previews=[(_who(r), visible(rendered[r.phone])) for r in sendable[:PREVIEWS]],
    )
    with_bodies = [
        replace(r, body=rendered[r.phone]) if r.phone in rendered else r for r in recipients
    ]
    return with_bodies, stats


def segments_as(plan: CampaignPlan, body: str) -> int:
    """Segments of all the plan's messages to send had its body been ``body`` (another writing
    of the same template, e.g. before smart encoding): each recipient's own text is measured."""
    template = parse(body)
    if not template.personal:
        return count_segments(template.render({})).segments * plan.to_send
    measured: dict[str, int] = {}
    total = 0
    for recipient in plan.recipients:
        if recipient.invalid_reason is not None or recipient.body is None:
            continue  # invalid, or opted out: never sent
        text = template.render(recipient_values(recipient.name, recipient.attributes))
        if text not in measured:
            measured[text] = count_segments(text).segments
        total += measured[text]
    return total


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
            send_at=None
            if plan.send_at is None
            else plan.send_at.astimezone(UTC).replace(tzinfo=None),
            timezone=plan.timezone,
            quiet_hours=None if plan.quiet_hours is None else str(plan.quiet_hours),
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
