"""A lookup adopts only what is provably ours; the rest needs review, settled by a person
(issue 12, item 9)."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notify_tui.cli import main
from notify_tui.domain.status import CampaignState, SendState
from notify_tui.provider import ProviderMessage, sandbox_client
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.sender import prepare_campaign, resume_campaign
from notify_tui.services.sender.lookup import (
    CLOCK_SKEW,
    AttemptWindow,
    Verdict,
    judge,
)
from notify_tui.store.campaigns import CampaignSummary, get_campaign
from notify_tui.store.db import open_workspace
from notify_tui.store.models import Message, utcnow
from notify_tui.store.sending import NewRecipient, claim_for_submit

SENDER = "+15005550006"
BODY = "Spring sale: 20% off today only"
PHONE = "+14155550123"
T0 = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def _campaign() -> CampaignSummary:
    return CampaignSummary(
        1, "Spring", BODY, SENDER, None, CampaignState.SENDING, T0, T0, 1,
        *(0,) * 0, price_per_segment=0, recipients=1, delivered=0, failed=0, unknown=1,
        submitted=0, skipped_opted_out=0, cost=0, last_checked_at=None,
    )  # fmt: skip


def _message(sid: str, created: datetime | None, **kw: object) -> ProviderMessage:
    fields: dict[str, object] = {"to": PHONE, "from_": SENDER, "body": BODY}
    fields.update(kw)
    return ProviderMessage(sid=sid, status="queued", date_created=created, **fields)  # type: ignore[arg-type]


WINDOW = AttemptWindow(T0, T0 + timedelta(seconds=3))


@pytest.mark.parametrize(
    ("listed", "taken", "verdict"),
    [
        ([_message("SMa", T0 + timedelta(seconds=1))], set(), Verdict.ADOPT),
        ([], set(), Verdict.ABSENT),
        # Someone else's, an hour before: not near, not ours.
        ([_message("SMa", T0 - timedelta(hours=1))], set(), Verdict.ABSENT),
        # Two inside: which one is ours can't be told.
        (
            [_message("SMa", T0), _message("SMb", T0 + timedelta(seconds=2))],
            set(),
            Verdict.REVIEW,
        ),
        # One just before the attempt (another workspace's, seconds earlier): not adopted.
        ([_message("SMa", T0 - CLOCK_SKEW - timedelta(seconds=5))], set(), Verdict.REVIEW),
        # One inside, and one another of our messages holds: the free one is ours.
        ([_message("SMa", T0), _message("SMb", T0)], {"SMb"}, Verdict.ADOPT),
        # No creation time: it can't be placed in the window.
        ([_message("SMa", None)], set(), Verdict.REVIEW),
        # Another body, number or sender is never a candidate.
        ([_message("SMa", T0, body="Other")], set(), Verdict.ABSENT),
        ([_message("SMa", T0, to="+14155550999")], set(), Verdict.ABSENT),
        ([_message("SMa", T0, from_="+15005550007")], set(), Verdict.ABSENT),
    ],
)
def test_judge_adopts_only_one_match_inside_the_window(
    listed: list[ProviderMessage], taken: set[str], verdict: Verdict
) -> None:
    result = judge(_campaign(), PHONE, WINDOW, listed, taken)
    assert result.verdict is verdict
    assert (result.message is not None) == (verdict is Verdict.ADOPT)


def test_within_the_clock_skew_is_inside() -> None:
    listed = [_message("SMa", T0 - CLOCK_SKEW)]
    assert judge(_campaign(), PHONE, WINDOW, listed, set()).verdict is Verdict.ADOPT


# -- end to end: a create of unknown outcome meets another sender's message ----------------------


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """On the wall clock: the other sender's message is sent "just now"."""
    return {"seed": 5}


def _ambiguous_after_another_sender(app: SandboxApp, tmp_path: Path) -> tuple[int, str]:
    """A campaign whose one create was claimed (outcome unknown) 60 to 40 s ago; another tool
    sent the same text to the same number just now. Answers the campaign and that sid."""
    db = open_workspace(None, tmp_path / "data" / "workspace.db")
    try:
        campaign_id = prepare_campaign(
            "Spring", BODY, [NewRecipient(PHONE)], sender=SENDER
        ).campaign_id
        message_id = Message.get(Message.campaign == campaign_id).id
        now = utcnow()
        claim_for_submit(
            campaign_id, [message_id], now - timedelta(seconds=60), now - timedelta(seconds=40)
        )

        async def run() -> str:
            async with sandbox_client(app) as client:
                other = await client.create_message(PHONE, BODY, from_=SENDER)
                result = await resume_campaign(client, campaign_id, settle=0.0)
            assert result.needs_review == 1 and result.linked == 0 and result.resent == 0
            assert other.sid is not None
            return other.sid

        other_sid = asyncio.run(run())
    finally:
        db.close()
    return campaign_id, other_sid


@pytest.mark.usefixtures("sandbox_provider")
def test_a_match_outside_the_attempt_needs_review_and_review_adopts_it(
    tmp_path: Path, sandbox: SandboxApp, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id, other_sid = _ambiguous_after_another_sender(sandbox, tmp_path)
    row = Message.get(Message.campaign == campaign_id)
    assert row.send_state == SendState.NEEDS_REVIEW and row.sid is None
    assert row.status == "unknown" and other_sid in row.note
    assert sandbox.stats()["created"] == 1, "never sent again blindly"

    assert main(["campaigns", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["needs_review"] == 1
    assert main(["doctor"]) == 0  # healthy: a person decides, no repair does
    assert f"need review (notify-tui review {campaign_id})" in capsys.readouterr().out
    assert main(["review", str(campaign_id)]) == 0
    out = capsys.readouterr().out
    assert f"1 recipients of campaign {campaign_id} need review" in out
    assert PHONE in out and other_sid in out

    # Exported, with why.
    exported = tmp_path / "out.csv"
    assert main(["export", str(campaign_id), "-o", str(exported)]) == 0
    with exported.open(encoding="utf-8") as handle:
        (line,) = list(csv.DictReader(handle))
    assert line["review"].startswith("needs review:") and other_sid in line["review"]

    # A sid that is not this recipient's is refused, in one line.
    assert main(["review", str(campaign_id), PHONE, "--adopt", "SMnotthere"]) == 1
    assert "no message SMnotthere" in capsys.readouterr().err

    assert main(["review", str(campaign_id), PHONE, "--adopt", other_sid]) == 0
    row = Message.get(Message.campaign == campaign_id)
    assert (row.send_state, row.sid) == (SendState.SUBMITTED, other_sid)
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.submitted == 1
    assert main(["review", str(campaign_id)]) == 0
    assert "Nothing of campaign" in capsys.readouterr().out


@pytest.mark.usefixtures("sandbox_provider")
def test_review_resend_sends_again_on_resume_and_skip_leaves_it(
    tmp_path: Path, sandbox: SandboxApp, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id, _ = _ambiguous_after_another_sender(sandbox, tmp_path)
    assert main(["review", str(campaign_id), "--resend"]) == 0
    assert f"send --resume {campaign_id}" in capsys.readouterr().out
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.state == CampaignState.INTERRUPTED
    assert main(["send", "--resume", str(campaign_id), "--yes"]) == 0
    row = Message.get(Message.campaign == campaign_id)
    assert row.send_state == SendState.SUBMITTED and row.sid is not None
    assert sandbox.stats()["created"] == 2

    second, _ = _ambiguous_after_another_sender(sandbox, tmp_path)
    assert main(["review", str(second), PHONE, "--skip"]) == 0
    row = Message.get(Message.campaign == second)
    assert row.send_state == SendState.SKIPPED and row.sid is None
    assert main(["send", "--resume", str(second), "--yes"]) == 0
    assert sandbox.stats()["created"] == 3, "a skipped recipient is not sent"
