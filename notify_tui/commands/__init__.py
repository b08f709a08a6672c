"""The subcommands of ``notify-tui``: their arguments here, what each does in its own module.

This module imports nothing but argparse and the error base, so that the app (no subcommand),
``--help`` and ``--version`` start without loading what the subcommands use (the services, the
provider client and httpx, the sandbox server). Each subcommand names its handler with
``Deferred``: the module that holds it is imported when that command runs, never to build the
parser or print its help. ``CommandError`` and the exit statuses live here too, so the commands
never import the CLI that imports them.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from notify_tui.errors import NotifyError

if TYPE_CHECKING:
    from notify_tui.config import Settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(NotifyError):
    """A command cannot do what was asked; the message says why, in one line."""


class UsageError(CommandError):
    """The command was asked something it cannot mean (exit status 2, as argparse's)."""


Handler = Callable[[argparse.Namespace, "Settings"], int]
"""What runs a command: the parsed arguments and the settings in, the exit status out."""

STATUS_CHOICES = ("unknown", "delivered", "failed")
SORT_CHOICES = ("sent", "failures", "reason", "updated", "name")
"""``store.recipients.Sort``'s values (not imported: the parser starts without the store)."""
"""The values of ``notify_tui.domain.status.Status``, spelled out to keep the domain unloaded
(a test checks they agree)."""

DEMO_CAMPAIGNS = 5
"""How many campaigns ``demo`` builds by default: ``len(services.demo.DEMO_CAMPAIGNS)`` (a test
checks they agree)."""

DEFAULT_LEASE = 120.0
"""Seconds a ``poll`` holds the messages it works on, unless ``--lease`` says otherwise."""


MAX_ID = 2**31 - 1
"""The largest id a workspace can hold (PostgreSQL's ``integer``): a larger one is a mistake."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose mistakes are one line on stderr, exit status 2."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low:,} to {high:,}, not {text[:40]!r}"
            )
        return value

    return parse


def number(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` (or above it, when ``above``) to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        too_low = value <= low if above else value < low
        if not math.isfinite(value) or too_low or value > high:
            span = f"above {_shown(low)} and at most" if above else f"from {_shown(low)} to"
            raise argparse.ArgumentTypeError(
                f"must be a number {span} {_shown(high)}, not {text[:40]!r}"
            )
        return value

    return parse


def _shown(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


CAMPAIGN_ID = whole(1, MAX_ID)
PORT = whole(1, 65_535)


class Deferred:
    """The handler ``function`` of ``notify_tui.commands.<module>``, imported when it runs."""

    __slots__ = ("function", "module")

    def __init__(self, module: str, function: str) -> None:
        self.module = module
        self.function = function

    def load(self) -> Handler:
        """Import the handler's module and return the handler."""
        handler: Handler = getattr(
            importlib.import_module(f"{__name__}.{self.module}"), self.function
        )
        return handler

    def __call__(self, args: argparse.Namespace, settings: Settings) -> int:
        return self.load()(args, settings)

    def __repr__(self) -> str:
        return f"Deferred({self.module!r}, {self.function!r})"


def add_commands(commands: Any) -> None:
    """Add every subcommand to ``commands``, the subparsers object of the ``notify-tui`` parser."""
    for add in (
        _backup,
        _callbacks,
        _campaigns,
        _contacts,
        _demo,
        _doctor,
        _insights,
        _optouts,
        _poll,
        _sandbox,
        _send,
    ):
        add(commands)


def _backup(commands: Any) -> None:
    backup = commands.add_parser(
        "backup",
        help="copy the workspace to a file, safely, while it is in use",
        description="Takes a consistent copy of an SQLite workspace with SQLite's online "
        "backup API, even while senders and pollers write to it; the copy is readable by you "
        "only. A PostgreSQL workspace is backed up with pg_dump instead.",
    )
    backup.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="where to write it (default: workspace-DATE-TIME.backup.db beside the workspace)",
    )
    backup.set_defaults(handler=Deferred("backup", "run_backup"))


SORTS = ("newest", "failures", "delivery", "name", "updated")
"""``campaigns --sort``'s words, ``CampaignSort``'s values in its order (a test holds them so)."""


def _campaigns(commands: Any) -> None:
    listing = commands.add_parser("campaigns", help="list campaigns, newest first or --sort")
    listing.add_argument("--json", action="store_true", help="print JSON objects")
    listing.add_argument("--search", metavar="TEXT", help="only campaigns whose name has TEXT")
    listing.add_argument(
        "--limit",
        type=whole(1, 1_000_000),
        default=1000,
        metavar="N",
        help="at most this many (1000)",
    )
    listing.add_argument(
        "--archived", action="store_true", help="list the archived campaigns instead"
    )
    listing.add_argument(
        "--sort",
        # domain.campaign_sort.CampaignSort's values (this module imports nothing of the app).
        choices=SORTS,
        default=SORTS[0],
        help="newest first (the default), most failures first, worst delivery rate first, "
        "by name, or latest activity first; a follow-up stays under its campaign",
    )
    listing.set_defaults(handler=Deferred("campaigns", "run_campaigns"))

    archive = commands.add_parser(
        "archive", help="hide a campaign from History and `campaigns` (kept, restorable)"
    )
    archive.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    archive.set_defaults(handler=Deferred("archive", "run_archive"))

    unarchive = commands.add_parser("unarchive", help="show an archived campaign again")
    unarchive.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    unarchive.set_defaults(handler=Deferred("archive", "run_unarchive"))

    delete = commands.add_parser(
        "delete",
        help="delete a campaign that never reached anyone for real (never sent, or a demo)",
    )
    delete.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    delete.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    delete.set_defaults(handler=Deferred("archive", "run_delete"))

    export = commands.add_parser("export", help="write a campaign's recipients to CSV")
    export.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    export.add_argument("--status", choices=STATUS_CHOICES)
    export.add_argument(
        "--sort",
        choices=SORT_CHOICES,
        default="sent",
        help="the order of the rows: as sent (default), failures first, failures by reason, "
        "last update first, or by name",
    )
    export.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="default: campaign-ID.csv here; - writes to standard output",
    )
    export.add_argument(
        "--raw",
        action="store_true",
        help="write every value as stored (by default a cell that starts with = + - @ gets a "
        "leading ', so that a spreadsheet shows it and never runs it)",
    )
    export.set_defaults(handler=Deferred("campaigns", "run_export"))

    review = commands.add_parser(
        "review",
        help="settle recipients whose create's outcome could not be proved",
        description="Without an action, list the recipients of the campaign that need review "
        "and why. --adopt SID makes that provider message the recipient's (checked first); "
        "--resend sends again (with send --resume); --skip leaves them: not adopted, not sent.",
    )
    review.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    review.add_argument("phone", nargs="?", metavar="PHONE", help="one recipient (default: all)")
    decision = review.add_mutually_exclusive_group()
    decision.add_argument("--adopt", metavar="SID", help="this provider message is PHONE's")
    decision.add_argument("--resend", action="store_true", help="send it again")
    decision.add_argument("--skip", action="store_true", help="leave it as it is")
    review.set_defaults(handler=Deferred("review", "run_review"))


def _contacts(commands: Any) -> None:
    contacts = commands.add_parser("contacts", help="manage contacts")
    actions = contacts.add_subparsers(title="actions", metavar="ACTION", required=True)
    importer = actions.add_parser(
        "import",
        help="import contacts from a CSV file",
        description="The file needs a header row with a phone column (phone, number, mobile, "
        "cell, phone_number, msisdn or tel); name (or first_name and last_name) is optional, "
        "other columns are kept as attributes. Numbers are stored in E.164. Importing the "
        "same file again changes nothing, and an import never clears an opt-out.",
    )
    importer.add_argument("file", metavar="FILE.csv")
    importer.add_argument(
        "--region",
        metavar="CC",
        help="country for numbers without a country code (default: default_region, US)",
    )
    importer.set_defaults(handler=Deferred("contacts", "run_contacts_import"))


def _demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="build demo campaigns through the built-in sandbox",
        description="Sends made-up campaigns through the in-process sandbox provider, older "
        "ones resolved and the last one still resolving, into the current workspace.",
    )
    demo.add_argument(
        "--recipients",
        type=whole(1, 10_000_000),
        metavar="N",
        help="recipients per campaign",
    )
    demo.add_argument(
        "--campaigns",
        type=whole(1, 100_000),
        default=DEMO_CAMPAIGNS,
        metavar="K",
        help=f"how many ({DEMO_CAMPAIGNS})",
    )
    demo.set_defaults(handler=Deferred("demo", "run_demo"))


def _doctor(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check the workspace for damage (and repair it)",
        description="Checks the schema, each campaign's counters against its messages, the "
        "status history, poller leases, messages a stopped sender left of unknown outcome, "
        "and the opt-out audit trail. Exit status 0 when healthy, 1 when problems remain.",
    )
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="recompute counters and status history from the messages, clear expired "
        "leases, mark abandoned sends interrupted; never resends or changes a status",
    )
    doctor.set_defaults(handler=Deferred("doctor", "run_doctor"))


def codes(text: str) -> list[int]:
    """An argparse type: provider error codes separated by commas (``30003,30001``)."""
    found = []
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit() and len(part) <= 6):
            raise argparse.ArgumentTypeError(
                f"must be error codes separated by commas (30003,30001), not {text[:40]!r}"
            )
        found.append(int(part))
    return found


def _insights(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="a campaign's summary, breakdowns, delivery times and alerts",
        description="Prints the campaign's counters, its breakdowns by failure reason, "
        "country, original carrier and line type, how fast its messages were delivered, and "
        "its alerts. --json prints the same as one stable JSON object (see the README).",
    )
    report.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.set_defaults(handler=Deferred("report", "run_report"))

    followup = commands.add_parser(
        "followup",
        help="resend to the recipients of a campaign who failed for a cause that may pass",
        description="Selects the recipients who failed with 30003 (unreachable handset), "
        "30001 (queue overflow), 30008 (unknown error) or 30022 (rate limit), never the "
        "delivered, the still Unknown, the opted out, landlines or invalid numbers; shows who "
        "and what it costs, asks to confirm, then sends it as a new campaign linked to the "
        "original (crash-safe and resumable like send).",
    )
    followup.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="CAMPAIGN_ID")
    followup.add_argument(
        "--after",
        type=number(0, 72),
        metavar="HOURS",
        help="only recipients whose failure is at least HOURS old (the phone may be back on)",
    )
    followup.add_argument(
        "--reasons",
        type=codes,
        metavar="CODES",
        help="only these failure codes, e.g. 30003,30001 (default: all four)",
    )
    followup.add_argument("--message", metavar="TEXT", help="a new text (default: the original's)")
    followup.add_argument(
        "--rate",
        type=number(0, 1_000_000),
        metavar="N",
        help="messages per second, as for send (default: the sender's rate)",
    )
    followup.add_argument("--yes", "-y", action="store_true", help="send without asking")
    followup.set_defaults(handler=Deferred("followup", "run_followup"))


def _optouts(commands: Any) -> None:
    out = commands.add_parser("optout", help="opt a number out of every future campaign")
    out.add_argument("phone", metavar="PHONE")
    out.add_argument("--reason", metavar="TEXT", help="why (kept in the audit trail)")
    out.set_defaults(handler=Deferred("optouts", "run_optout"))

    back = commands.add_parser(
        "optin",
        help="undo an opt-out (not for a number that replied STOP)",
    )
    back.add_argument("phone", metavar="PHONE")
    back.add_argument("--reason", metavar="TEXT", help="why (kept in the audit trail)")
    back.set_defaults(handler=Deferred("optouts", "run_optin"))

    listing = commands.add_parser("optouts", help="list opted-out numbers, newest first")
    listing.add_argument("--csv", action="store_true", help="print CSV")
    listing.add_argument(
        "--raw",
        action="store_true",
        help="with --csv: every value as stored (by default a cell that starts with = + - @ "
        "gets a leading ', so that a spreadsheet shows it and never runs it)",
    )
    listing.add_argument("--search", metavar="TEXT", help="only numbers or names with TEXT")
    listing.set_defaults(handler=Deferred("optouts", "run_optouts"))

    pending = commands.add_parser(
        "suggestions", help="list the opt-outs the policy suggests (and accept them)"
    )
    pending.add_argument("--accept", action="store_true", help="accept every pending one")
    pending.add_argument(
        "--campaign", type=CAMPAIGN_ID, metavar="ID", help="only from this campaign"
    )
    pending.set_defaults(handler=Deferred("optouts", "run_suggestions"))


def _poll(commands: Any) -> None:
    poll = commands.add_parser(
        "poll",
        help="resolve Unknown messages by asking the provider",
        description="Runs the same poller as the app, without the UI. Several pollers may "
        "share one PostgreSQL workspace: each message is worked by one at a time.",
    )
    mode = poll.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one cycle, then exit")
    mode.add_argument(
        "--until-settled",
        action="store_true",
        help="exit when no message is left that can still resolve now",
    )
    poll.add_argument(
        "--timeout",
        type=number(0, 366 * 86_400, above=True),
        metavar="SECONDS",
        help="stop after this long",
    )
    poll.add_argument("--campaign", type=CAMPAIGN_ID, metavar="ID", help="only this campaign")
    poll.add_argument(
        "--lease",
        type=number(1, 86_400),
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help=f"how long this poller holds the messages it works on ({DEFAULT_LEASE:g}): when "
        "it dies, other pollers take them over after this long",
    )
    poll.set_defaults(handler=Deferred("poll", "run_poll"))


def _callbacks(commands: Any) -> None:
    callbacks = commands.add_parser(
        "callbacks",
        help="receive the provider's status callbacks (push)",
        description="An HTTP receiver for Twilio's message status callbacks, on the path of its "
        "public URL. Each is checked (X-Twilio-Signature over the public URL, our AccountSid) "
        "and applied as the poller applies its answers. Run it behind your reverse proxy, "
        "next to `notify-tui poll`, which sweeps what push misses.",
    )
    callbacks.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    callbacks.add_argument("--port", type=PORT, default=8098, help="port (8098)")
    callbacks.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL the provider calls, exactly as it signs it (default: status_callback_url, "
        "env NOTIFY_STATUS_CALLBACK_URL)",
    )
    callbacks.add_argument("--quiet", action="store_true", help="log only warnings")
    callbacks.set_defaults(handler=Deferred("callbacks", "run_callbacks"))


def _sandbox(commands: Any) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        help="serve the built-in sandbox provider over HTTP",
        description="A provider that speaks Twilio's Messages API (create, fetch, list, cancel, "
        "redact, delete, scheduling), keeps its messages across restarts and moves them through "
        "queued, sent and delivered or failed, with outcomes chosen from each number; a create "
        "with StatusCallback gets each status change POSTed to it, signed with the auth token "
        "as Twilio signs. GET /_sandbox/stats counts requests; "
        "POST /_sandbox/faults changes the faults below while it runs.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sandbox.add_argument("--port", type=PORT, default=8099, help="port (8099)")
    sandbox.add_argument(
        "--speed",
        type=number(0, 1e9, above=True),
        default=1.0,
        help="divide every status delay by this (1)",
    )
    sandbox.add_argument(
        "--auth-token",
        metavar="TOKEN",
        help="require Basic auth with this password on every path (better: the "
        "NOTIFY_SANDBOX_AUTH_TOKEN variable or sandbox_auth_token in the config file, which "
        "ps does not show)",
    )
    sandbox.add_argument(
        "--insecure",
        action="store_true",
        help="listen beyond this machine (--host) without an auth token",
    )
    sandbox.add_argument("--state", metavar="FILE", help="SQLite file for its messages")
    sandbox.add_argument(
        "--max-concurrency",
        type=whole(1, 1_000_000),
        default=100,
        help="answer 429 past this many (100)",
    )
    sandbox.add_argument(
        "--seed",
        type=whole(0, 2**63 - 1),
        help="make SIDs, timings and faults repeatable",
    )
    sandbox.add_argument(
        "--latency",
        type=number(0, 3600),
        default=0.0,
        help="seconds added to answers",
    )
    sandbox.add_argument("--error-rate", type=number(0, 1), default=0.0, help="share answered 500")
    sandbox.add_argument(
        "--drop-rate",
        type=number(0, 1),
        default=0.0,
        help="share of dropped requests",
    )
    sandbox.add_argument(
        "--lost-answer-rate",
        type=number(0, 1),
        default=0.0,
        help="share of creates that create the message, then drop the connection",
    )
    sandbox.add_argument(
        "--lost-rate",
        type=number(0, 1),
        default=0.0,
        help="share of messages that later answer 404",
    )
    for name, text in (
        ("drop", "share of status callbacks never sent"),
        ("duplicate", "share of status callbacks sent twice"),
        ("delay", "share of status callbacks held back up to --callback-delay seconds"),
        ("reorder", "share of status changes whose callback comes after the next one's"),
    ):
        sandbox.add_argument(f"--callback-{name}-rate", type=float, default=0.0, help=text)
    sandbox.add_argument(
        "--callback-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the longest hold of a delayed status callback (over --speed)",
    )
    sandbox.add_argument("--quiet", action="store_true", help="log only warnings")
    sandbox.set_defaults(handler=Deferred("sandbox", "run_sandbox"))


def _send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="send a campaign, or resume one",
        description="Shows what will be sent, skipped and what it costs, asks to confirm, "
        "records every recipient, then sends at the configured rate. Ctrl+C stops cleanly; "
        "--resume carries on without sending anything twice.",
    )
    send.add_argument("--name", metavar="NAME", help="the campaign's name")
    send.add_argument("--message", metavar="TEXT", help="the text to send")
    send.add_argument(
        "--smart-encoding",
        action="store_true",
        help="replace characters that have a GSM-7 lookalike (curly quotes, long dashes, "
        "ellipsis, non-breaking spaces...) so the message is not sent in UCS-2; prints what "
        "was replaced and what it saves",
    )
    audience = send.add_mutually_exclusive_group()
    audience.add_argument("--all-contacts", action="store_true", help="send to every contact")
    audience.add_argument("--csv", metavar="FILE", help="send to the numbers of a CSV file")
    send.add_argument(
        "--rate",
        type=number(0, 1_000_000),
        metavar="N",
        help="messages per second from the sender, shared with its other campaigns (default: "
        "its [senders] rate, else send_rate, 1); 0 for no limit",
    )
    send.add_argument("--yes", "-y", action="store_true", help="send without asking")
    send.add_argument(
        "--resume", type=CAMPAIGN_ID, metavar="ID", help="carry on sending campaign ID"
    )
    send.add_argument(
        "--at",
        metavar="TIME",
        help='send it later: "2026-12-10 10:00" (in --tz). With a Messaging Service and 15 '
        "minutes to 35 days ahead the provider holds it; otherwise it waits in the store and "
        "notify-tui poll (or the app) starts it then",
    )
    send.add_argument(
        "--tz", metavar="ZONE", help="the time zone of --at, e.g. Europe/Berlin (timezone)"
    )
    send.add_argument(
        "--quiet-hours",
        metavar="HH:MM-HH:MM",
        help="hold each recipient while it is, e.g., 21:00-08:00 by their own clock, and send "
        'when it ends (quiet_hours; "off" for none)',
    )
    send.set_defaults(handler=Deferred("send", "run_send"))

    cancel = commands.add_parser(
        "cancel",
        help="cancel a scheduled campaign",
        description="Cancels what of a campaign has not gone out: each message the provider "
        "holds is cancelled there, and the messages never created are never sent.",
    )
    cancel.add_argument("campaign_id", type=CAMPAIGN_ID, metavar="ID")
    cancel.set_defaults(handler=Deferred("cancel", "run_cancel"))
