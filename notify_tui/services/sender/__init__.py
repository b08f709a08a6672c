"""Sending a campaign: plan it, record every recipient, submit at the configured rate, resume.

Every recipient is recorded before anything is submitted (``prepare_campaign``). Just before a
create is sent its message is marked ``attempting`` with the time, so a crash at any moment leaves
a record of every create that may have reached the provider. A create whose outcome is unknown
(a timeout, a dropped connection, a 5xx) is never resent blindly: the provider's records are
listed by ``To`` around the attempt, and only when no unclaimed message with the same body is
there is the message sent again. ``resume_campaign`` does the same for every message a crash
left ``attempting``, then carries on with the pending ones.

The store is synchronous (peewee): its calls run on one worker thread, a batch at a time, so the
event loop (the TUI's) stays responsive and one sender never contends with itself for SQLite's
write lock. Only one process sends a campaign at a time (``store.sending.try_lock_campaign``).

Events: ``on_progress`` receives a ``SendProgress`` a few times a second and once at the end.

The parts: ``plan`` (what a campaign would send, skip and cost; recording it), ``run`` (the
feeder, the workers and the writer of one run), ``lookup`` (finding a create of unknown outcome
in the provider's records), ``pacing`` (the rate and the database thread) and ``events``.
"""

from notify_tui.services.sender.events import (
    ProgressCallback,
    ResolutionHook,
    SendProgress,
    SendResult,
)
from notify_tui.services.sender.plan import (
    CampaignPlan,
    PreparedCampaign,
    RecipientLike,
    SendError,
    check_campaign,
    plan_campaign,
    prepare_campaign,
    record_campaign,
    segments_as,
)
from notify_tui.services.sender.run import DEFAULT_CONCURRENCY, resume_campaign, send_campaign

__all__ = [
    "DEFAULT_CONCURRENCY",
    "CampaignPlan",
    "PreparedCampaign",
    "ProgressCallback",
    "RecipientLike",
    "ResolutionHook",
    "SendError",
    "SendProgress",
    "SendResult",
    "check_campaign",
    "plan_campaign",
    "prepare_campaign",
    "record_campaign",
    "resume_campaign",
    "segments_as",
    "send_campaign",
]
