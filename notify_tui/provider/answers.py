"""Every provider answer checked against its question: the one place the trust rules live.

- A create answer is about the recipient the request named (``to``, normalised), in our account,
  from the sender asked (``From`` or ``MessagingServiceSid``), with a SID.
- A fetch answer is about the SID asked (and the recipient we sent it to), in our account.
- A list page's messages are in our account and inside the filter asked (``To``, ``From``,
  ``MessagingServiceSid``, the send dates); a listed message taken for one of ours is also about
  that message's recipient.
- Whatever the question, every value is one the API sends (``ProviderMessage.flaws``).

Each function answers the faults it found (empty when the answer may be applied). The services
never apply a message with a fault, never feed it to the opt-out policy, and record the faults
(``store.faults``). See the README, "Trust at the edges".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from notify_tui.domain.faults import Fault, FaultKind, Operation, clip
from notify_tui.domain.phone import normalize
from notify_tui.provider.client import TwilioClient
from notify_tui.provider.errors import ProviderFaultError
from notify_tui.provider.messages import ProviderMessage

__all__ = [
    "CheckedListing",
    "ListQuestion",
    "callback_message",
    "check_callback",
    "check_created",
    "check_fetched",
    "check_listed",
    "check_recipient",
    "flaw_faults",
    "same_number",
]


def same_number(answered: str | None, asked: str) -> bool:
    """Whether the provider's ``to`` is the number asked, once both are E.164."""
    if answered is None:
        return False
    if answered == asked:
        return True
    result = normalize(answered)
    return result.e164 is not None and result.e164 == asked


def flaw_faults(message: ProviderMessage, operation: Operation, asked: str) -> list[Fault]:
    """The message's values outside the API, as faults."""
    return [
        Fault(FaultKind.BAD_VALUE, operation, asked, flaw, message.sid) for flaw in message.flaws
    ]


def _account(
    message: ProviderMessage, account_sid: str, operation: Operation, asked: str
) -> Fault | None:
    if message.account_sid is None or message.account_sid == account_sid:
        return None
    return Fault(
        FaultKind.FOREIGN_ACCOUNT,
        operation,
        f"{asked} in account {account_sid}",
        f"account {clip(message.account_sid, 40)}",
        message.sid,
    )


def check_recipient(message: ProviderMessage, phone: str, operation: Operation) -> Fault | None:
    """A fault when ``message`` is not about ``phone`` (a missing ``to`` is not about it)."""
    if same_number(message.to, phone):
        return None
    answered = "no to" if message.to is None else f"to {clip(message.to, 40)}"
    return Fault(FaultKind.FOREIGN_TO, operation, f"To {phone}", answered, message.sid)


def _sender(
    message: ProviderMessage,
    operation: Operation,
    from_: str | None,
    messaging_service_sid: str | None,
) -> Fault | None:
    if from_ and message.from_ is not None and message.from_ != from_:
        return Fault(
            FaultKind.FOREIGN_SENDER,
            operation,
            f"From {from_}",
            f"from {clip(message.from_, 40)}",
            message.sid,
        )
    if (
        messaging_service_sid
        and message.messaging_service_sid is not None
        and message.messaging_service_sid != messaging_service_sid
    ):
        return Fault(
            FaultKind.FOREIGN_SENDER,
            operation,
            f"MessagingServiceSid {messaging_service_sid}",
            f"messaging_service_sid {clip(message.messaging_service_sid, 40)}",
            message.sid,
        )
    return None


def check_created(
    message: ProviderMessage,
    *,
    to: str,
    account_sid: str,
    from_: str | None = None,
    messaging_service_sid: str | None = None,
) -> list[Fault]:
    """The faults of a create answer: not to ``to``, not ours, another sender, bad values."""
    op = Operation.CREATE
    asked = f"To {to}"
    faults = [
        fault
        for fault in (
            check_recipient(message, to, op),
            _account(message, account_sid, op, asked),
            _sender(message, op, from_, messaging_service_sid),
        )
        if fault is not None
    ]
    if message.sid is None and not message.flaws:
        faults.append(Fault(FaultKind.BAD_VALUE, op, asked, "no sid"))
    return faults + flaw_faults(message, op, asked)


def check_fetched(
    message: ProviderMessage,
    *,
    sid: str,
    account_sid: str,
    to: str | None = None,
    operation: Operation = Operation.FETCH,
) -> list[Fault]:
    """The faults of an answer about one SID (a fetch, or a cancel's): another SID, another
    recipient, not ours, bad values."""
    op = operation
    asked = f"sid {sid}"
    faults: list[Fault] = []
    if message.sid != sid:
        answered = "no sid" if message.sid is None else f"sid {message.sid}"
        if message.to is not None:
            answered += f" (to {clip(message.to, 40)})"
        faults.append(Fault(FaultKind.FOREIGN_SID, op, asked, answered, message.sid))
    elif to is not None and (fault := check_recipient(message, to, op)) is not None:
        faults.append(fault)
    if (fault := _account(message, account_sid, op, asked)) is not None:
        faults.append(fault)
    return faults + flaw_faults(message, op, asked)


def callback_message(params: Mapping[str, str]) -> ProviderMessage:
    """A status callback's form fields (``MessageSid``, ``MessageStatus``, ``ErrorCode``, ...)
    read as the Message they describe, its values judged as a fetched one's; unknown fields are
    ignored."""
    get = params.get
    code = get("ErrorCode") or None
    return ProviderMessage.from_json(
        {
            "sid": get("MessageSid") or get("SmsSid"),
            "status": get("MessageStatus") or get("SmsStatus"),
            "error_code": code,
            "to": get("To"),
            "from": get("From"),
            "account_sid": get("AccountSid"),
            "messaging_service_sid": get("MessagingServiceSid"),
        }
    )


def check_callback(
    message: ProviderMessage,
    *,
    sid: str,
    account_sid: str,
    to: str,
    from_: str | None = None,
    messaging_service_sid: str | None = None,
) -> list[Fault]:
    """The faults of a status callback about our message ``sid``: another recipient, another
    sender, not ours, values outside the API. A callback is a provider answer like any other."""
    op = Operation.CALLBACK
    asked = f"sid {sid}"
    faults = [
        fault
        for fault in (
            check_recipient(message, to, op),
            _account(message, account_sid, op, asked),
            _sender(message, op, from_, messaging_service_sid),
        )
        if fault is not None
    ]
    return faults + flaw_faults(message, op, asked)


@dataclass(frozen=True, slots=True)
class ListQuestion:
    """What a listing asked for: the account, and the filters of ``list_messages``."""

    account_sid: str
    to: str | None = None
    from_: str | None = None
    messaging_service_sid: str | None = None
    date_sent_after: date | None = None
    """On or after this UTC day (``DateSent>``)."""
    date_sent_before: date | None = None
    """On or before this UTC day (``DateSent<``)."""

    @property
    def text(self) -> str:
        """The filter as the request sent it."""
        parts = [f"account {self.account_sid}"]
        if self.to:
            parts.append(f"To {self.to}")
        if self.from_:
            parts.append(f"From {self.from_}")
        if self.messaging_service_sid:
            parts.append(f"MessagingServiceSid {self.messaging_service_sid}")
        if self.date_sent_after:
            parts.append(f"DateSent>{self.date_sent_after}")
        if self.date_sent_before:
            parts.append(f"DateSent<{self.date_sent_before}")
        return ", ".join(parts)

    def in_dates(self, sent: datetime | None) -> bool:
        """Whether a message sent at ``sent`` is inside the days asked (unsent: it can't say)."""
        if sent is None:
            return True
        day = sent.astimezone(UTC).date() if sent.tzinfo else sent.date()
        if self.date_sent_after is not None and day < self.date_sent_after:
            return False
        return self.date_sent_before is None or day <= self.date_sent_before


def check_listed(message: ProviderMessage, question: ListQuestion) -> list[Fault]:
    """The faults of one message of a list page: outside the account or the filter asked.

    Its values are not judged here: a page may show other people's messages (an inbound reply,
    another campaign's), which are none of our business; ``flaw_faults`` judges the ones taken
    for ours.
    """
    op = Operation.LIST
    asked = question.text
    faults: list[Fault] = []
    if (fault := _account(message, question.account_sid, op, "the listing")) is not None:
        faults.append(fault)
    if question.to and not same_number(message.to, question.to):
        answered = "no to" if message.to is None else f"to {clip(message.to, 40)}"
        faults.append(Fault(FaultKind.FOREIGN_TO, op, asked, answered, message.sid))
    fault = _sender(message, op, question.from_, question.messaging_service_sid)
    if fault is not None:
        faults.append(Fault(fault.kind, op, asked, fault.answered, message.sid))
    if not question.in_dates(message.date_sent):
        assert message.date_sent is not None
        faults.append(
            Fault(
                FaultKind.OUTSIDE_DATES,
                op,
                asked,
                f"date_sent {message.date_sent:%Y-%m-%d %H:%M:%S}",
                message.sid,
            )
        )
    return faults


class CheckedListing:
    """A client whose list pages are checked against their question before anyone sees them:
    for code that lists and trusts what it finds (the lookup of a create of unknown outcome).

    A page with a message outside the question (another recipient, sender, account, or day)
    raises ``ProviderFaultError``: such a listing can't tell whether our message is there, so
    whoever reads it must not conclude it is not (and resend).
    """

    def __init__(self, client: TwilioClient) -> None:
        self._client = client
        self.config = client.config

    async def list_messages(self, **filters: Any) -> AsyncIterator[list[ProviderMessage]]:
        """``TwilioClient.list_messages``, each page checked."""
        day = filters.get("date_sent")
        question = ListQuestion(
            self.config.account_sid,
            to=filters.get("to"),
            from_=filters.get("from_"),
            date_sent_after=filters.get("date_sent_after") or day,
            date_sent_before=filters.get("date_sent_before") or day,
        )
        async for page in self._client.list_messages(**filters):
            for message in page:
                faults = check_listed(message, question)
                if faults:
                    raise ProviderFaultError(f"a listing answered {faults[0].text}", faults[0])
            yield page
