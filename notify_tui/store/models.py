"""The workspace's tables.

Models bind to ``database``, a proxy that ``store.db.open_workspace`` points at SQLite or
PostgreSQL; nothing connects at import time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
)

from notify_tui.domain.money import from_micros, to_micros
from notify_tui.domain.optout_policy import SuggestionState
from notify_tui.domain.status import CampaignState, SendState

database = DatabaseProxy()


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo: both databases store naive UTC timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


class MoneyField(BigIntegerField):
    """An amount of money: ``Decimal`` in Python, whole millionths in the database.

    Integers keep every sum exact: SQLite adds and sums a ``DECIMAL`` column in floats
    (``0.04740000000000001``). A raw ``SUM`` over the column answers millionths: read it with
    ``from_micros``.
    """

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return to_micros(Decimal(str(value)) if isinstance(value, float) else Decimal(value))

    def python_value(self, value: Any) -> Decimal | None:
        return None if value is None else from_micros(int(value))


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaInfo(BaseModel):
    """One row per key; ``version`` is the schema version of this workspace."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()


class Contact(BaseModel):
    """A person to text, keyed by their E.164 number. Opt-outs belong here."""

    id = AutoField()

    phone = CharField(max_length=32, unique=True)
    name = TextField(default="")
    attributes = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    opted_out = BooleanField(default=False, index=True)
    opt_out_source = CharField(max_length=16, null=True)
    opt_out_reason = TextField(null=True)
    opted_out_at = DateTimeField(null=True)
    opted_out_by = TextField(null=True)
    name_folded = TextField(null=True)
    """``domain.text.folded_name(name)``: the name as a search compares it, or ``None`` (last:
    schema version 10 added it, and a migrated table has it at the end)."""


# The Opt-outs screen's order (newest first) over the opted-out numbers alone.
Contact.add_index(
    Contact.opted_out_at,
    Contact.id,
    where=Contact.opted_out,
    name="contact_opted_out_at",
)


class Campaign(BaseModel):
    """A message sent to many recipients, with its counters kept current."""

    id = AutoField()

    name = TextField()
    body = TextField()
    sender = CharField(max_length=64, null=True)
    messaging_service_sid = CharField(max_length=64, null=True)
    state = CharField(max_length=16, default=CampaignState.DRAFT.value)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True, index=True)
    finished_at = DateTimeField(null=True)
    segments = IntegerField(default=1)
    price_per_segment = MoneyField(default=Decimal(0))
    recipients = IntegerField(default=0)
    delivered = IntegerField(default=0)
    failed = IntegerField(default=0)
    unknown = IntegerField(default=0)
    submitted = IntegerField(default=0)
    skipped_opted_out = IntegerField(default=0)
    cost = MoneyField(default=Decimal(0))
    last_checked_at = DateTimeField(null=True)
    pushed = IntegerField(default=0)
    """Messages whose final status came by status callback (push): those with ``resolved_by``
    ``push``."""
    followup_of = ForeignKeyField(
        "self", null=True, backref="followups", on_delete="SET NULL", index=True
    )
    """The campaign this one follows up (resent to its recipients who failed for a cause that
    may pass), if any."""
    name_folded = TextField(null=True)
    """``domain.text.folded_name(name)``: the name as a search compares it, or ``None`` (last:
    schema version 10 added it, and a migrated table has it at the end)."""
    send_at = DateTimeField(null=True)
    """When the campaign is to go out (naive UTC), or ``None``: at once (``domain.schedule``)."""
    timezone = TextField(null=True)
    """The campaign's own time zone (IANA name): how its time is shown, and the recipients'
    clock where their number tells none (quiet hours)."""
    quiet_hours = TextField(null=True)
    """``21:00-08:00``: no message reaches a recipient then, by their own clock."""
    wake_at = DateTimeField(null=True)
    """While the campaign waits in the store (``scheduled``): when a poller or the app starts
    it (its ``send_at``, or when the first held recipient's quiet hours end)."""
    pulled = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    """Messages whose final status a poller fetched or listed (pull): ``resolved_by`` ``pull``.
    The rest were settled at send time (a refused create, an invalid number) or before schema
    version 12, which began recording how (last: version 12 added it)."""
    archived_at = DateTimeField(null=True)
    """When someone archived it (hidden from History and ``campaigns``, kept, restorable), or
    ``None``."""


class Message(BaseModel):
    """One recipient of a campaign: the raw provider answer and what the user sees of it."""

    id = AutoField()

    campaign = ForeignKeyField(Campaign, backref="messages", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    phone = CharField(max_length=64)
    name = TextField(default="")
    send_state = CharField(max_length=16, default=SendState.PENDING.value)
    attempted_at = DateTimeField(null=True)
    """When the create was claimed, just before its request could first leave."""
    attempt_deadline = DateTimeField(null=True)
    """By when the create's answer is due: no request for it leaves later than allows. With
    ``attempted_at``, the window a lookup may adopt a provider message from."""
    sid = CharField(max_length=64, null=True, unique=True)
    provider_status = CharField(max_length=32, null=True)
    error_code = IntegerField(null=True)
    error_message = TextField(null=True)
    price = MoneyField(null=True)
    price_unit = CharField(max_length=8, null=True)
    num_segments = IntegerField(null=True)
    date_sent = DateTimeField(null=True)
    status = CharField(max_length=16, default="unknown")
    reason = CharField(max_length=64, null=True)
    detail = TextField(null=True)
    note = TextField(null=True)
    updated_at = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True)
    next_poll_at = DateTimeField(null=True)
    polls = IntegerField(default=0)
    lease_owner = CharField(max_length=64, null=True)
    lease_until = DateTimeField(null=True)
    body = TextField(null=True)
    """This recipient's own text (a personal message), recorded before it is sent; ``None``:
    the campaign's body."""
    profile_id = IntegerField(null=True)
    """The number's ``NumberProfile`` (region, original carrier, line type), found when the
    recipient was recorded; ``None`` only on rows written by hand (counted as profile 0)."""
    name_folded = TextField(null=True)
    """``domain.text.folded_name(name)``: the name as a search compares it, or ``None`` (last:
    schema version 10 added it, and a migrated table has it at the end)."""
    held_until = DateTimeField(null=True)
    """Pending, held by quiet hours until then (naive UTC): not sent before."""
    resolved_by = CharField(max_length=8, null=True)
    """How its final status arrived: ``push`` (a status callback), ``pull`` (a poller's fetch or
    list), or ``None`` (settled at send time, still Unknown, or resolved before schema version
    12)."""

    class Meta:
        indexes = (
            (("campaign", "id"), False),
            (("campaign", "phone"), True),
            (("campaign", "status", "id"), False),
            (("campaign", "reason", "id"), False),
            (("next_poll_at",), False),
            # The failure reasons of a campaign, counted from the index alone.
            (("campaign", "status", "reason"), False),
            # A number's history across campaigns, for the opt-out policy.
            (("phone",), False),
            # The recipients of one group of a breakdown (a country, carrier, line type).
            (("campaign", "profile_id", "id"), False),
            # The recipients in the order of their last update (store.recipients.Sort.UPDATED).
            (("campaign", "updated_at", "id"), False),
        )


NAME_KEY = fn.COALESCE(Message.name_folded, fn.LOWER(Message.name))
"""A recipient's name as the name order compares it (``store.recipients.Sort.NAME``): case and
accents folded (``name_folded`` is stored only for a name that is not plain ASCII)."""

# The recipients in the order of their names.
Message.add_index(Message.campaign, NAME_KEY, Message.id, name="message_name_order")


# The recipients that need review (``store.review``): few, counted per campaign from this small
# index alone, whatever the campaign's size.
Message.add_index(
    Message.campaign,
    where=Message.send_state == SendState.NEEDS_REVIEW.value,
    name="message_needs_review",
)


# The messages not (yet) submitted: few once a campaign is sent (invalid numbers, reviews). What
# sending has left and how many numbers were invalid are counted from it (``store.waiting``).
Message.add_index(
    Message.campaign,
    Message.send_state,
    where=Message.send_state.in_(
        [
            SendState.PENDING.value,
            SendState.ATTEMPTING.value,
            SendState.NEEDS_REVIEW.value,
            SendState.INVALID.value,
        ]
    ),
    name="message_never_sent",
)


# The messages still being polled, and all a poll cycle counts of them: a small index (only
# these rows are in it) that answers "how many are pending" without reading the table.
Message.add_index(
    Message.campaign,
    Message.status,
    Message.next_poll_at,
    Message.provider_status,
    Message.updated_at,
    Message.attempted_at,
    where=Message.next_poll_at.is_null(False),
    name="message_pending",
)


class NumberProfile(BaseModel):
    """A region, original carrier and line type that some recorded number has
    (``domain.numbers``): a handful of rows that messages point at by id."""

    id = AutoField()
    region = CharField(max_length=8)
    carrier = TextField()
    line_type = CharField(max_length=16)

    class Meta:
        indexes = ((("region", "carrier", "line_type"), True),)


class GroupTally(BaseModel):
    """A campaign's messages per number profile, status, reason and error code, with their
    cost: kept current with the messages (``store.insights``), so that a breakdown of a
    million recipients reads a few hundred rows. ``profile_id`` 0: no profile; ``reason`` "":
    none; ``code`` 0: none (key columns are never NULL, so that upserts meet)."""

    id = AutoField()
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    profile_id = IntegerField()
    status = CharField(max_length=16)
    reason = CharField(max_length=64)
    code = IntegerField()
    messages = IntegerField(default=0)
    cost = BigIntegerField(default=0)
    """Whole millionths (``abs(price)`` summed, as the campaign's cost)."""

    class Meta:
        indexes = ((("campaign", "profile_id", "status", "reason", "code"), True),)


class DeliveryTally(BaseModel):
    """Delivered messages per campaign, number profile and delivery-time bucket
    (``domain.insights.BUCKET_BOUNDS``), counted as they resolve."""

    id = AutoField()
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    profile_id = IntegerField()
    bucket = IntegerField()
    messages = IntegerField(default=0)

    class Meta:
        indexes = ((("campaign", "profile_id", "bucket"), True),)


class StatusTally(BaseModel):
    """Resolutions per campaign per minute: the time series behind the sparkline.

    One row per minute in which something resolved, whatever the campaign's size.
    """

    id = AutoField()

    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    minute = DateTimeField()
    delivered = IntegerField(default=0)
    failed = IntegerField(default=0)

    class Meta:
        indexes = ((("campaign", "minute"), True),)


class OptOutEvent(BaseModel):
    """The audit trail of every opt-out and opt-in: who, when, why and from where."""

    id = AutoField()

    contact = ForeignKeyField(Contact, backref="opt_out_events", on_delete="CASCADE")
    phone = CharField(max_length=32)
    action = CharField(max_length=8)
    source = CharField(max_length=16)
    reason = TextField(default="")
    actor = TextField(default="")
    campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    code = IntegerField(null=True)
    evidence = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)


class OptOutSuggestion(BaseModel):
    """A number the policy suggests opting out, waiting for a person to accept or dismiss it."""

    id = AutoField()
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    phone = CharField(max_length=32, index=True)
    campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    rule = CharField(max_length=16)
    code = IntegerField(null=True)
    reason = TextField(default="")
    evidence = TextField(default="{}")
    held = BooleanField(default=False)
    """Automatic opt-out held back because the campaign would have opted out too many."""
    state = CharField(max_length=16, default=SuggestionState.PENDING.value, index=True)
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)
    decided_by = TextField(null=True)


class ProviderFault(BaseModel):
    """A provider answer that was not applied: not about what was asked, or with values the API
    never sends (``domain.faults``). What was asked and what came back, for the user to see."""

    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    operation = CharField(max_length=8)
    kind = CharField(max_length=32)
    campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    message = ForeignKeyField(Message, null=True, on_delete="SET NULL")
    sid = CharField(max_length=64, null=True)
    asked = TextField(default="")
    answered = TextField(default="")


class SenderPace(BaseModel):
    """The pace of one sending number or Messaging Service, shared by every campaign and process
    that sends from it (see ``store/pacing.py``). Times are seconds since the epoch on the
    database's clock."""

    sender = CharField(primary_key=True, max_length=64)
    next_slot_at = DoubleField(default=0)
    """When the next create may start: the end of the slots claimed so far."""
    held_until = DoubleField(default=0)
    """Nothing is sent from this sender before then (the provider answered 429)."""
    campaign_id = IntegerField(null=True)
    """The campaign that claimed (or held) last."""
    behind_campaign_id = IntegerField(null=True)
    """The other campaign whose slots that claim had to wait behind, if any."""


class EarlyCallback(BaseModel):
    """A status callback about a SID no message holds yet (it can arrive before the create's
    answer is recorded): kept a short while, in the store so that every receiver sharing the
    workspace sees it, and applied once the SID appears (``store/callbacks.py``)."""

    id = AutoField()
    sid = CharField(max_length=64, index=True)
    params = TextField()
    """The callback's form fields, as JSON."""
    received_at = DateTimeField(default=utcnow, index=True)


ALL_MODELS: list[type[BaseModel]] = [
    SchemaInfo,
    Contact,
    Campaign,
    Message,
    StatusTally,
    NumberProfile,
    GroupTally,
    DeliveryTally,
    OptOutEvent,
    OptOutSuggestion,
    ProviderFault,
    SenderPace,
    EarlyCallback,
]
