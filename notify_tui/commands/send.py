"""``notify-tui send``: send a campaign (or resume one) without the UI.

The plan (how many will be sent, skipped, invalid, the segments and the estimated cost) is shown
and confirmed before anything is recorded; every recipient is recorded before the first message
goes out. Ctrl+C stops cleanly: the campaign is left ``interrupted`` and ``send --resume ID``
carries on without sending anything twice.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO

from notify_tui.commands import EXIT_FAILURE, EXIT_OK, CommandError
from notify_tui.commands.contacts import checked_region
from notify_tui.commands.faults import rejected_line
from notify_tui.config import Settings
from notify_tui.domain.quiet_hours import QuietHours
from notify_tui.domain.schedule import parse_send_at, zone
from notify_tui.domain.smart_encoding import (
    replaced_line,
    saving,
    segments_change,
    smart_encode,
)
from notify_tui.domain.status import UNSENT, CampaignState, SendState
from notify_tui.domain.text import duration, visible
from notify_tui.services.contacts_import import (
    ContactsFileError,
    all_contacts_recipients,
    duplicate_text,
    read_audience,
)
from notify_tui.services.runtime import Runtime
from notify_tui.services.sender import (
    CampaignPlan,
    SendError,
    SendProgress,
    SendResult,
    check_campaign,
    plan_campaign,
    record_campaign,
    resume_campaign,
    segments_as,
    send_campaign,
)
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.sending import NewRecipient, send_state_counts

SHOWN_REJECTIONS = 10


class ProgressLine:
    """Renders ``SendProgress``: one rewritten line on a terminal, a line every few seconds
    otherwise. Provider trouble is told once when it starts and once when it ends."""

    def __init__(self, stream: TextIO, every: float = 5.0) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._every = every
        self._last = -float("inf")
        self._troubled = False
        self._told_sharing: set[int] = set()

    def _say(self, text: str) -> None:
        self._stream.write(("\r\x1b[2K" if self._tty else "") + text + "\n")
        self._stream.flush()

    def __call__(self, event: SendProgress) -> None:
        if event.trouble and not self._troubled:
            self._troubled = True
            self._say(
                f"provider trouble, will retry: {visible(event.trouble)} (nothing is sent "
                "twice: a create of unknown outcome is looked up first)"
            )
        elif not event.trouble and self._troubled:
            self._troubled = False
            self._say("the provider is answering again")
        if event.sharing_with is not None and event.sharing_with not in self._told_sharing:
            # Once per other campaign: their turns may alternate with gaps, a log need not.
            self._told_sharing.add(event.sharing_with)
            self._say(sharing(event))
        done = event.submitted + event.refused
        share = done / event.total if event.total else 1.0
        text = (
            f"{share:4.0%}  {done:,}/{event.total:,} sent  ({event.refused:,} refused"
            f"{f', {event.skipped_opted_out:,} opted out' if event.skipped_opted_out else ''}"
            f"{f', {event.retrying:,} to retry' if event.retrying else ''}"
            f"{f', {event.faults:,} answers rejected' if event.faults else ''})  "
            f"{event.rate:,.0f} msg/s"
        )
        if event.sharing_with is not None and not event.done:
            text += f"  {sharing(event)}"
        if self._tty:
            width = 20
            filled = int(share * width)
            bar = "#" * filled + "." * (width - filled)
            self._stream.write(f"\r\x1b[2K[{bar}] {text}" + ("\n" if event.done else ""))
            self._stream.flush()
            return
        now = time.monotonic()
        if event.done or now - self._last >= self._every:
            self._last = now
            self._stream.write(text + "\n")
            self._stream.flush()


def sharing(event: SendProgress) -> str:
    """What a campaign waits for while another one sends from its number."""
    sender = visible(event.sender or "its sender")
    return f"waiting: {sender} is also sending campaign {event.sharing_with}"


def _rate(args: argparse.Namespace) -> float | None:
    """The ``--rate`` given (0: no limit), or ``None`` for each sender's configured pace."""
    if args.rate is None:
        return None
    if args.rate < 0:
        raise CommandError("--rate must be a number of messages per second (0: no limit)")
    return args.rate


def _pace(rate: float | None, settings: Settings, sender: str | None) -> float | None:
    """Messages per second from ``sender`` at ``--rate`` (``_rate``): ``None`` for no limit."""
    if rate is None:
        return settings.rate_for(sender)
    return rate or None


def _paces(rate: float | None, settings: Settings) -> dict[str, Any]:
    """``send_campaign``'s pace options: ``--rate`` for every sender, or the configured ones."""
    if rate is None:
        return {"rate": settings.send_rate, "sender_rates": settings.sender_rates}
    return {"rate": rate or None, "sender_rates": {}}


def _print_result(result: SendResult) -> int:
    print(
        f"Campaign {result.campaign_id}: {result.submitted:,} submitted, {result.refused:,} "
        f"refused by the provider, {result.skipped_opted_out:,} skipped (opted out) in "
        f"{result.elapsed:,.1f} s"
    )
    if result.linked or result.resent:
        print(
            f"{result.linked:,} creates of unknown outcome were found at the provider; "
            f"{result.resent:,} were not and were sent again"
        )
    if result.faults:
        print(rejected_line(result.faults, result.latest_fault), file=sys.stderr)
    status = EXIT_OK
    for line in schedule_result_lines(result):
        print(line)
    if result.needs_review:
        # Neither adopted nor sent again: which provider message is ours can't be proved.
        print(
            f"{result.needs_review:,} messages of unknown outcome need review: "
            f"notify-tui review {result.campaign_id}",
            file=sys.stderr,
        )
        status = EXIT_FAILURE
    if result.state not in (CampaignState.SENT, CampaignState.SCHEDULED):
        print(
            f"{result.remaining:,} messages could not be sent now: resume with "
            f"notify-tui send --resume {result.campaign_id}",
            file=sys.stderr,
        )
        status = EXIT_FAILURE
    return status


def schedule_result_lines(result: SendResult) -> list[str]:
    """What waits, and for whom, after a run of a scheduled or quiet-hours campaign."""
    lines = []
    if result.send_at is not None and result.state == CampaignState.SENT and result.submitted:
        lines.append(
            f"The provider holds them until {result.send_at:%Y-%m-%d %H:%M} UTC; cancel with "
            f"notify-tui cancel {result.campaign_id}"
        )
    if result.state == CampaignState.SCHEDULED and result.wake_at is not None:
        why = (
            f"{result.held:,} recipient{'' if result.held == 1 else 's'} held by quiet hours"
            if result.held
            else f"{result.remaining:,} messages wait for their time"
        )
        lines.append(
            f"{why}: notify-tui poll (or the app) sends them from "
            f"{result.wake_at:%Y-%m-%d %H:%M} UTC and must be running then; cancel with "
            f"notify-tui cancel {result.campaign_id}"
        )
    return lines


async def _deliver(runtime: Runtime, campaign_id: int, rate: float | None, resume: bool) -> int:
    """Send (or resume) at ``--rate`` (0: no limit), or ``None``: each sender's own pace."""
    progress = ProgressLine(sys.stdout)
    job = resume_campaign if resume else send_campaign
    try:
        result = await job(
            runtime.client,
            campaign_id,
            **_paces(rate, runtime.settings),
            on_progress=progress,
            on_applied=runtime.policy_hook(),
            health=runtime.health,
            outage_limit=runtime.settings.outage_limit,
            **runtime.push_options,
        )
    except SendError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await runtime.aclose()
    return _print_result(result)


@contextmanager
def closing_on_error(runtime: Runtime) -> Iterator[None]:
    """Until the campaign is recorded: any failure closes the workspace, and a ``SendError``
    (a plan the user can mend) is one line."""
    try:
        yield
    except SendError as exc:
        runtime.close()
        raise CommandError(str(exc)) from None
    except BaseException:
        runtime.close()
        raise


def declined(runtime: Runtime, yes: bool) -> bool:
    """Ask before sending (unless ``--yes``); ``True``, having closed the workspace, when the
    answer is no."""
    if yes or _confirm():
        return False
    print("Not sent.")
    runtime.close()
    return True


def _run(runtime: Runtime, campaign_id: int, rate: float | None, resume: bool) -> int:
    try:
        return asyncio.run(_deliver(runtime, campaign_id, rate, resume))
    except KeyboardInterrupt:
        print(
            f"\nCampaign {campaign_id} stopped; nothing was sent twice. Resume with "
            f"notify-tui send --resume {campaign_id}",
            file=sys.stderr,
        )
        raise


def _audience(args: argparse.Namespace, settings: Settings) -> Iterable[NewRecipient]:
    if args.all_contacts:
        return all_contacts_recipients()
    region = checked_region(settings.default_region, "default_region")
    try:
        audience = read_audience(args.csv, region=region)
    except ContactsFileError as exc:
        raise CommandError(str(exc)) from None
    if audience.layout.note:
        print(f"Note: {visible(audience.layout.note)}.")
    if audience.rejections:
        print(f"Lines of {visible(args.csv)} not sent (invalid numbers are recorded as Failed):")
    for rejection in audience.rejections[:SHOWN_REJECTIONS]:
        print(f"  {visible(str(rejection))}")
    if len(audience.rejections) > SHOWN_REJECTIONS:
        print(f"  ... and {audience.invalid + audience.unusable - SHOWN_REJECTIONS:,} more")
    if audience.duplicates:
        # As contacts import names them: each number gets one message, the first line's.
        print(f"Lines of {visible(args.csv)} that repeat a number (each gets one message):")
    for duplicate in audience.duplicate_lines[:SHOWN_REJECTIONS]:
        print(f"  {visible(duplicate_text(duplicate))}")
    if audience.duplicates > min(len(audience.duplicate_lines), SHOWN_REJECTIONS):
        shown = min(len(audience.duplicate_lines), SHOWN_REJECTIONS)
        print(f"  ... and {audience.duplicates - shown:,} more duplicate lines")
    return audience.recipients


def _smart_saving(plan: CampaignPlan, written: str) -> str:
    """What smart encoding saves across the audience: segments a message and in all, and money
    (``written``: the message before its lookalikes were replaced)."""
    before = segments_as(plan, written)
    after = plan.total_segments
    per_message = ""
    if plan.merge is None and plan.to_send:
        per_message = (
            segments_change(before // plan.to_send, after // plan.to_send) + " a message, "
        )
    return (
        f"Smart encoding: {per_message}{segments_change(before, after)} in all, "
        f"{saving(before, after, plan.price_per_segment)}"
    )


def _confirm() -> bool:
    if not sys.stdin.isatty():
        raise CommandError("no terminal to confirm on: add --yes to send")
    try:
        answer = input("Send it? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _left_to_send(campaign_id: int, rate: float | None, settings: Settings) -> tuple[int, str]:
    """How many messages of the campaign a resume would send (or look up first), said with how
    long that takes, and the campaign's state; a one-line error for a campaign that does not
    exist."""
    campaign = get_campaign(campaign_id)
    if campaign is None:
        raise CommandError(f"no campaign with id {campaign_id}")
    counts = send_state_counts(campaign_id)
    left = sum(counts.get(state, 0) for state in UNSENT)
    if left:
        pace = _pace(rate, settings, campaign.messaging_service_sid or campaign.sender)
        took = f": {duration(left / pace)} at {pace:g}/s" if pace else ""
        print(f"{left:,} message{'' if left == 1 else 's'} left to send{took}")
    review = counts.get(SendState.NEEDS_REVIEW, 0)
    if review:
        print(
            f"{review:,} message{' needs' if review == 1 else 's need'} review first (never sent "
            f"again on its own): notify-tui review {campaign_id}"
        )
    return left, campaign.state


def _schedule(
    args: argparse.Namespace, settings: Settings
) -> tuple[datetime | None, str, QuietHours | None]:
    """``--at`` (aware UTC) in ``--tz``, the campaign's zone, and its quiet hours."""
    tz = args.tz or settings.timezone
    zone(tz)
    send_at = parse_send_at(args.at, tz) if args.at else None
    text = args.quiet_hours if args.quiet_hours is not None else settings.quiet_hours
    quiet = None if not text or text.strip().lower() == "off" else QuietHours.parse(text)
    return send_at, tz, quiet


def run_send(args: argparse.Namespace, settings: Settings) -> int:
    """``notify-tui send``: plan, confirm, record and send a campaign, or resume one."""
    rate = _rate(args)
    if args.resume is not None:
        if (
            args.name
            or args.message
            or args.csv
            or args.all_contacts
            or args.at
            or args.smart_encoding
        ):
            # The recorded texts are sent as they are, when they were due: a resume changes none.
            raise CommandError(
                "--resume takes no --name, --message, --smart-encoding, --csv, --all-contacts "
                "or --at"
            )
        runtime = Runtime.open(settings)
        try:
            left, state = _left_to_send(args.resume, rate, settings)
        except BaseException:
            runtime.close()
            raise
        if left == 0 and state == CampaignState.SENT:
            runtime.close()
            print(
                f"Campaign {args.resume} has nothing left to send: every message was submitted "
                "or refused already."
            )
            return EXIT_OK
        return _run(runtime, args.resume, rate, resume=True)
    if not args.name or args.message is None or not (args.csv or args.all_contacts):
        raise CommandError(
            "send needs --name, --message and --all-contacts or --csv FILE (or --resume ID)"
        )
    runtime = Runtime.open(settings)
    with closing_on_error(runtime):
        sender = runtime.sender
        # The cheap checks first: an empty message is said before the file is read and listed.
        check_campaign(args.name, args.message, sender["from_"], sender["messaging_service_sid"])
        message = args.message
        if args.smart_encoding:
            encoding = smart_encode(message)
            print(f"Smart encoding: {visible(replaced_line(encoding))}")
            message = encoding.encoded
        send_at, tz, quiet = _schedule(args, settings)
        plan = plan_campaign(
            args.name,
            message,
            _audience(args, settings),
            sender=sender["from_"],
            messaging_service_sid=sender["messaging_service_sid"],
            price_per_segment=settings.price_per_segment,
            region=settings.default_region,
            send_at=send_at,
            timezone=tz,
            quiet_hours=quiet,
        )
        for line in plan.summary_lines() + plan.schedule_lines():
            print(visible(line))
        if message != args.message:
            print(_smart_saving(plan, args.message))
        pace = _pace(rate, settings, sender["messaging_service_sid"] or sender["from_"])
        if pace is None:
            print("Rate: no limit")
        else:
            took = duration(plan.to_send / pace)
            print(
                f"Rate: {pace:g} message{'' if pace == 1 else 's'}/s: {took} to send (shared "
                "with any other campaign sending from the same number)"
            )
        if plan.to_send == 0:
            raise CommandError("nothing to send: no recipient with a valid, opted-in number")
        if declined(runtime, args.yes):
            return EXIT_FAILURE
        prepared = record_campaign(plan)
    print(
        f"Campaign {prepared.campaign_id} recorded; "
        + ("scheduling." if send_at is not None else "sending.")
    )
    return _run(runtime, prepared.campaign_id, rate, resume=False)
