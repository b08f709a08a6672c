"""From what the provider says to what the user sees.

The provider answers with a raw ``status`` and ``error_code`` (or refuses a request with an HTTP
status and a code). The user sees one of three statuses, and for failures one Failed Message
Reason, word for word as in ``shared/reference/delivery-status.md``. Both mappings are data:
``PROVIDER_STATUSES`` and ``CODE_RULES``. The functions below only look things up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from notify_tui.domain.error_titles import error_title


class Status(StrEnum):
    """The three statuses a user sees. The value is the stored and exported key."""

    UNKNOWN = "unknown"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The word shown to the user."""
        return self.value.capitalize()

    @property
    def final(self) -> bool:
        """A final status never changes again (only the raw status may refine, e.g. ``read``)."""
        return self is not Status.UNKNOWN


class SendState(StrEnum):
    """Where a message is in being sent. The value is what the store holds."""

    PENDING = "pending"
    """Recorded, not yet submitted."""
    ATTEMPTING = "attempting"
    """A create is (or was) on its way: its outcome must be looked up before any resend."""
    SUBMITTED = "submitted"
    """The provider accepted the create and gave it a sid."""
    NEEDS_REVIEW = "needs_review"
    """A create of unknown outcome whose lookup could not prove which provider message (if
    any) is ours: neither adopted nor sent again until a person decides (``review``)."""
    SKIPPED = "skipped"
    """A person reviewed it and chose to leave it: neither adopted nor sent again."""
    REFUSED = "refused"
    """The provider refused the create (a 4xx with a code): nothing was sent."""
    INVALID = "invalid"
    """Not a valid number: recorded as Failed, never submitted."""


UNSENT = (SendState.PENDING, SendState.ATTEMPTING)
"""The send states a sender still has to settle (``resume`` looks ``attempting`` ones up first)."""


class CampaignState(StrEnum):
    """Where a campaign is in being sent. The value is what the store holds."""

    DRAFT = "draft"
    """Recorded, with its recipients; nothing submitted yet."""
    SENDING = "sending"
    """A sender is submitting (or died while submitting: ``doctor`` tells)."""
    SENT = "sent"
    """Every recipient was submitted, refused or invalid."""
    INTERRUPTED = "interrupted"
    """The sender stopped before the end; ``send --resume`` carries on."""
    SCHEDULED = "scheduled"
    """Waits in the store for its time (``send_at``, or held recipients' quiet hours to end):
    a running poller or app starts it when due."""
    CANCELED = "canceled"
    """Cancelled before it went out: nothing more of it is ever sent."""


UNFINISHED = (CampaignState.SENDING, CampaignState.INTERRUPTED)
"""Being sent, or stopped part-way."""

RESUMABLE = (CampaignState.DRAFT, *UNFINISHED)
"""The campaign states a sender can carry on from (``send --resume``, History's ``R``)."""


class Reason(StrEnum):
    """The Failed Message Reasons, word for word."""

    UNREACHABLE_HANDSET = "Unreachable destination handset"
    UNKNOWN_HANDSET = "Unknown destination handset"
    LANDLINE = "Landline or unreachable carrier"
    INVALID_NUMBER = "Invalid number"
    CARRIER_VIOLATION = "Carrier violation"
    HTTP_400 = "HTTP 400 error - Unable to create record"
    HTTP_404 = "HTTP 404 error - Unable to fetch record"
    CANCELED = "Canceled"
    OTHER = "Other"


class Consequence(StrEnum):
    """What a failure means for the number, per "Opt-out consequences by code"."""

    OPT_OUT = "opt_out"
    """Not SMS-capable (landline): opt out automatically."""
    OPT_OUT_STOP = "opt_out_stop"
    """The person replied STOP: opted out by the provider; never undone by the app."""
    REPEAT = "repeat"
    """Unknown or unreachable handset: suggest opting out after repeated failures."""
    FIX_OR_OPT_OUT = "fix_or_opt_out"
    """Malformed or unusable number: suggest fixing it or opting out."""
    NEVER = "never"
    """Not about the number: never a reason to opt out."""
    NONE = "none"
    """No consequence (delivered, still unknown, or a code the policy does not know)."""


ADVICE: dict[Reason, str] = {
    Reason.UNREACHABLE_HANDSET: (
        "The phone may be off. If it happens repeatedly for a number, opt it out so future "
        "campaigns don't pay for it."
    ),
    Reason.UNKNOWN_HANDSET: (
        "The number may no longer exist. If it happens repeatedly for a number, opt it out so "
        "future campaigns don't pay for it."
    ),
    Reason.LANDLINE: "A landline, or a carrier that can't be reached: opt the number out.",
    Reason.INVALID_NUMBER: "Not a properly formatted phone number: fix its format, or opt it out.",
    Reason.CARRIER_VIOLATION: (
        "The content or sender was filtered by a carrier; the number is not at fault. Contact "
        "support if it keeps happening."
    ),
    Reason.HTTP_400: (
        "The provider refused to create the message: usually a badly formatted number or a "
        "country that can't be messaged. See the code."
    ),
    Reason.HTTP_404: (
        "The provider lost track of the message; rare. Contact support if you see it."
    ),
    Reason.CANCELED: "A scheduled message was cancelled; it is left out of failure rates.",
    Reason.OTHER: "A final failure with a code the app does not group; see the code and title.",
}


CODE_ADVICE: dict[int, str] = {
    21610: (
        "This person opted out by replying STOP to this sender: the provider refuses every "
        "message to them until they reply START. Their number is opted out."
    ),
    21408: (
        "The account may not send to this country: enable it in the provider's geographic "
        "permissions. The number is not at fault."
    ),
    21611: ("The sender's queue was full: send more slowly. The number is not at fault."),
    21612: "The provider cannot route to this number from this sender; the number may be fine.",
}
"""Advice for a code whose meaning is narrower than its reason's (a STOP is filed under "HTTP
400 error - Unable to create record", whose advice is about badly formatted numbers): keyed by
code, and it wins over the reason's."""


def advice_for(reason: str | None, code: int | None = None) -> str:
    """What to do about a failure: its code's own advice, else its reason's ("" for neither)."""
    if code is not None and code in CODE_ADVICE:
        return CODE_ADVICE[code]
    if reason is None:
        return ""
    try:
        return ADVICE[Reason(reason)]
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class CodeRule:
    """What one provider error code means."""

    code: int
    reason: Reason
    consequence: Consequence


def _rules(reason: Reason, consequence: Consequence, *codes: int) -> list[CodeRule]:
    return [CodeRule(code, reason, consequence) for code in codes]


CODE_RULES: dict[int, CodeRule] = {
    rule.code: rule
    for rule in [
        *_rules(Reason.UNREACHABLE_HANDSET, Consequence.REPEAT, 30003),
        *_rules(Reason.UNKNOWN_HANDSET, Consequence.REPEAT, 30005),
        *_rules(Reason.LANDLINE, Consequence.OPT_OUT, 30006, 21614, 21635),
        *_rules(Reason.INVALID_NUMBER, Consequence.FIX_OR_OPT_OUT, 21211, 21265, 21268, 21604),
        *_rules(Reason.CARRIER_VIOLATION, Consequence.NEVER, 30007),
        *_rules(Reason.HTTP_400, Consequence.OPT_OUT_STOP, 21610),
        *_rules(Reason.HTTP_400, Consequence.NEVER, 21408, 21611),
        *_rules(Reason.HTTP_400, Consequence.NONE, 21606, 21612),
        *_rules(Reason.HTTP_404, Consequence.NONE, 20404),
        *_rules(Reason.OTHER, Consequence.NEVER, 30001, 30008, 20429),
    ]
}
"""Every error code the reference names. A code not here falls back by phase (see below)."""


PROVIDER_STATUSES: dict[str, Status] = {
    "accepted": Status.UNKNOWN,
    "scheduled": Status.UNKNOWN,
    "queued": Status.UNKNOWN,
    "sending": Status.UNKNOWN,
    "sent": Status.UNKNOWN,
    "partially_delivered": Status.UNKNOWN,
    "receiving": Status.UNKNOWN,
    "received": Status.UNKNOWN,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
"""Raw provider status to the user's status. Any other value is Unknown."""

NO_RECEIPT_NOTE = "no delivery receipt from the carrier"
"""Shown on a message that stayed Unknown past the polling window."""


@dataclass(frozen=True, slots=True)
class Classification:
    """What the user sees of one message, derived from what the provider said."""

    status: Status
    reason: Reason | None = None
    code: int | None = None
    title: str = ""
    consequence: Consequence = Consequence.NONE

    @property
    def final(self) -> bool:
        """True once the status can no longer change."""
        return self.status.final

    @property
    def detail(self) -> str:
        """The raw code and its title, e.g. ``21408 · Permission to send ...``."""
        if self.code is None:
            return self.title
        return f"{self.code} · {self.title}" if self.title else str(self.code)

    @property
    def counts_as_failure(self) -> bool:
        """Cancelled messages are Failed but stay out of failure rates."""
        return self.status is Status.FAILED and self.reason is not Reason.CANCELED


def parse_error_code(value: object) -> int | None:
    """The provider's ``error_code`` as an int; ``None`` for null, blank or garbage."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # Bounded before int(): a long enough string of digits is refused by int() itself.
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
    return None


def _failure(code: int | None, fallback: Reason, message: str | None) -> Classification:
    rule = CODE_RULES.get(code) if code is not None else None
    title = error_title(code) or (message or "").strip()
    if rule is None:
        return Classification(Status.FAILED, fallback, code, title, Consequence.NONE)
    return Classification(Status.FAILED, rule.reason, code, title, rule.consequence)


def classify_message(
    status: str | None, error_code: object = None, error_message: str | None = None
) -> Classification:
    """Classify a provider Message by its ``status`` and ``error_code``.

    Unknown or null statuses are Unknown; a failure with a code the reference does not list is
    "Other", keeping the code; ``canceled`` is Failed with the reason "Canceled".
    """
    raw = (status or "").strip().lower()
    bucket = PROVIDER_STATUSES.get(raw, Status.UNKNOWN)
    code = parse_error_code(error_code)
    if bucket is Status.FAILED:
        if raw == "canceled":
            return Classification(Status.FAILED, Reason.CANCELED, code, error_title(code))
        return _failure(code, Reason.OTHER, error_message)
    return Classification(bucket)


def classify_create_refusal(
    http_status: int, code: object = None, message: str | None = None
) -> Classification:
    """Classify a 4xx answer to a create request: the message was never created.

    Codes the reference names keep their reason (Invalid number, Landline ...); any other
    refusal is "HTTP 400 error - Unable to create record".
    """
    parsed = parse_error_code(code)
    if parsed is None:
        parsed = http_status
    return _failure(parsed, Reason.HTTP_400, message)


def classify_fetch_not_found(code: object = 20404, message: str | None = None) -> Classification:
    """Classify a 404 answer to a fetch: the provider lost track of the message."""
    parsed = parse_error_code(code) or 20404
    title = error_title(parsed) or (message or "").strip()
    return Classification(Status.FAILED, Reason.HTTP_404, parsed, title, Consequence.NONE)


def classify_invalid_number(why: str) -> Classification:
    """Classify a number that failed the app's own validation: never sent, never charged."""
    return Classification(
        Status.FAILED, Reason.INVALID_NUMBER, None, why, Consequence.FIX_OR_OPT_OUT
    )


def advances(current: Status, new: Status) -> bool:
    """Whether a message at ``current`` may move to ``new``: only ever forward."""
    return current is Status.UNKNOWN and new is not Status.UNKNOWN
