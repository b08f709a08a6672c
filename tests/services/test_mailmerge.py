"""Personal messages: each recipient's own text is planned, recorded, sent and looked up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from notify_tui.provider import ProviderMessage
from notify_tui.provider.sandbox import SandboxApp
from notify_tui.services.sender import (
    SendError,
    plan_campaign,
    prepare_campaign,
    record_campaign,
    resume_campaign,
    send_campaign,
)
from notify_tui.services.sender.lookup import matches
from notify_tui.store.campaigns import get_campaign
from notify_tui.store.models import Message
from notify_tui.store.sending import NewRecipient, claim_for_submit
from tests.invariants import assert_counters_hold
from tests.services.test_sender import SENDER, client_for, numbers

TEMPLATE = (
    "Hi {first_name|there}, your order ships to {city} today. Track it in the app. Reply STOP "
    "to opt out"
)
LONG = "Bartholomew-Maximilian-Alexander-Christopher-Jonathan-Fitzgerald-Montgomery-Wolfe"


def people() -> list[NewRecipient]:
    return [
        NewRecipient("+14155550001", "Ann Lee", attributes={"City": "Oslo"}),
        NewRecipient("+14155550002", "Zoë Ng", attributes={"City": "Paris"}),
        NewRecipient("+14155550003", "", attributes={"City": "Rome"}),
        NewRecipient("+14155550004", "Łukasz", attributes={"City": "Kraków"}),
        NewRecipient("+14155550005", "Bo", attributes={"City": LONG + " " + LONG}),
        NewRecipient("+14155550006", "Cy", attributes={"City": "Lima"}),
    ]


def rendered(first: str, city: str) -> str:
    return (
        f"Hi {first}, your order ships to {city} today. Track it in the app. Reply STOP to opt out"
    )


@pytest.mark.usefixtures("sqlite_workspace")
def test_a_merge_that_pushes_some_recipients_into_ucs2_says_how_many_and_which() -> None:
    plan = plan_campaign(
        "Orders", TEMPLATE, people(), sender=SENDER, price_per_segment=Decimal("0.0079")
    )

    assert plan.segment_info.encoding == "GSM-7"
    merge = plan.merge
    assert merge is not None
    # Zoë, Łukasz (and Kraków): UCS-2, so their texts take 2 segments of 67; Bo's long city
    # takes 2 in GSM-7.
    assert merge.ucs2 == 2
    assert merge.ucs2_examples == [
        ("Zoë Ng (+14155550002)", "ë"),
        ("Łukasz (+14155550004)", "Ł"),
    ]
    assert (merge.min_segments, merge.max_segments) == (1, 2)
    assert merge.longer == 3
    assert merge.total_segments == 3 * 1 + 3 * 2 == plan.total_segments
    assert plan.estimated_cost == Decimal("0.0079") * 9
    lines = plan.summary_lines()
    text = "\n".join(lines)
    assert "Message: personal ({first_name|there}, {city}), each recipient's own text: 1–2 " in text
    assert "  2 recipients in UCS-2 because of their values: Zoë Ng (+14155550002) ('ë')" in text
    assert "  3 recipients take more than 1 segment: Zoë Ng (+14155550002) (2)" in text
    assert "Preview:\n  Ann Lee (+14155550001): " + rendered("Ann", "Oslo") in text
    assert "  +14155550003: " + rendered("there", "Rome") in text
    assert "Estimated cost: ≈ $0.0711 (9 segments at $0.0079; $0.0079–$0.0158 per message)" in text
    bodies = {r.phone: r.body for r in plan.recipients}
    assert bodies["+14155550002"] == rendered("Zoë", "Paris")


@pytest.mark.usefixtures("sqlite_workspace")
def test_a_field_no_recipient_has_is_refused_with_the_fallback_offered() -> None:
    with pytest.raises(SendError) as caught:
        plan_campaign("Orders", "Hi {first_name}, in {zip}", people(), sender=SENDER)
    assert str(caught.value) == (
        "no recipient has a value for {zip}: add a fallback, like {zip|...}, or choose a "
        "column the contacts have"
    )


@pytest.mark.usefixtures("sqlite_workspace")
def test_recipients_missing_a_value_are_counted_and_named_and_nothing_is_recorded() -> None:
    with pytest.raises(SendError) as caught:
        plan_campaign("Orders", "Hi {first_name}", people(), sender=SENDER)
    assert str(caught.value) == (
        "1 recipient would get a blank: +14155550003 has no {first_name}; add a fallback, "
        "like {first_name|...}"
    )
    assert Message.select().count() == 0


@pytest.mark.usefixtures("sqlite_workspace")
def test_invalid_syntax_is_a_send_error_with_the_column() -> None:
    with pytest.raises(SendError, match=r"^message template, column 4: a '\{' that is never"):
        plan_campaign("Orders", "Hi {first_name", people(), sender=SENDER)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_each_recipient_gets_their_own_recorded_text() -> None:
    campaign_id = record_campaign(plan_campaign("Orders", TEMPLATE, people(), sender=SENDER))
    recorded = dict(
        Message.select(Message.phone, Message.body)
        .where(Message.campaign == campaign_id.campaign_id)
        .tuples()
    )
    assert recorded["+14155550001"] == rendered("Ann", "Oslo")
    app = SandboxApp(seed=21)

    async with client_for(app) as client:
        result = await send_campaign(client, campaign_id.campaign_id)
        sent = {}
        for phone in recorded:
            async for page in client.list_messages(to=phone):
                sent[phone] = [m.body for m in page]

    assert result.state == "sent"
    assert sent == {phone: [body] for phone, body in recorded.items()}


@pytest.mark.usefixtures("sqlite_workspace")
async def test_resume_of_a_personal_campaign_resends_nothing_and_sends_each_their_own() -> None:
    phones = numbers(10)
    audience = [
        NewRecipient(p, f"Person{i} X", attributes={"city": f"Town {i}"})
        for i, p in enumerate(phones)
    ]
    campaign_id = prepare_campaign("Orders", TEMPLATE, audience, sender=SENDER).campaign_id
    ids = [m.id for m in Message.select(Message.id).order_by(Message.id)]
    # A crashed run: six creates attempting, three of which reached the provider with their
    # recipient's own text; two more were sent and recorded before the crash.
    claim_for_submit(campaign_id, ids[:6])
    app = SandboxApp(seed=22)
    async with client_for(app) as client:
        for i, phone in enumerate(phones[:3]):
            await client.create_message(phone, rendered(f"Person{i}", f"Town {i}"), from_=SENDER)

        result = await resume_campaign(client, campaign_id, settle=0.0)
        sent: dict[str, list[str | None]] = {}
        for phone in phones:
            async for page in client.list_messages(to=phone):
                sent.setdefault(phone, []).extend(m.body for m in page)

    assert result.state == "sent"
    # The three found by their own text are adopted, not sent again.
    assert (result.linked, result.resent) == (3, 3)
    assert app.stats()["create"] == 10
    assert sent == {phone: [rendered(f"Person{i}", f"Town {i}")] for i, phone in enumerate(phones)}
    campaign = get_campaign(campaign_id)
    assert campaign is not None and campaign.body == TEMPLATE
    assert_counters_hold(campaign_id)


@pytest.mark.usefixtures("sqlite_workspace")
def test_a_lookup_matches_the_rendered_text_not_the_template() -> None:
    campaign_id = prepare_campaign("Orders", TEMPLATE, people()[:1], sender=SENDER).campaign_id
    campaign = get_campaign(campaign_id)
    assert campaign is not None
    own = Message.get().body
    assert own == rendered("Ann", "Oslo")

    def message(body: str) -> ProviderMessage:
        return ProviderMessage(sid="SM1", to="+14155550001", from_=SENDER, body=body)

    assert matches(campaign, "+14155550001", message(own), own)
    assert matches(campaign, "+14155550001", message("Sent from trial: " + own), own)
    assert not matches(campaign, "+14155550001", message(TEMPLATE), own)
    assert not matches(campaign, "+14155550001", message(rendered("Bob", "Oslo")), own)


@pytest.mark.usefixtures("sqlite_workspace")
async def test_literal_braces_go_out_single_and_are_counted_so() -> None:
    plan = plan_campaign("Code", "Use {{SPRING}} today", people()[:2], sender=SENDER)
    assert plan.merge is None
    assert plan.segment_info.characters == len("Use {SPRING} today")
    campaign_id = record_campaign(plan).campaign_id
    async with client_for(SandboxApp(seed=23)) as client:
        await send_campaign(client, campaign_id)
        bodies = [m.body async for page in client.list_messages(to="+14155550001") for m in page]
    assert bodies == ["Use {SPRING} today"]
    assert get_campaign(campaign_id).body == "Use {{SPRING}} today"  # type: ignore[union-attr]
