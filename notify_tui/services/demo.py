"""A demo workspace, sent for real through the sandbox provider.

On first run with the sandbox provider and an empty workspace, the app builds a few campaigns of
realistic size so a new user sees the real thing at once: older campaigns fully resolved, one
sent just now and still resolving while they watch. Everything goes through the same sender and
poller as real work; only the clock is moved back for the older campaigns.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from notify_tui.store.campaigns import backdate_campaign, count_campaigns
from notify_tui.store.db import private_file
from notify_tui.store.models import SchemaInfo, utcnow
from notify_tui.store.sending import NewRecipient

if TYPE_CHECKING:
    from notify_tui.services.runtime import Runtime
    from notify_tui.services.sender import SendProgress


@dataclass(frozen=True, slots=True)
class DemoProgress:
    """How far the demo build is."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class DemoCampaign:
    """One campaign of the demo: its text, its share of the contacts and how long ago it went."""

    name: str
    body: str
    size: int
    age: timedelta
    speed: float = 1.0
    """The sandbox speed for its messages: below 1, they resolve slowly enough to watch."""
    story_codes: tuple[int, ...] = ()
    """Error codes this campaign's list is heavy in (a list full of landlines, a promotion that
    carriers filter): ``story_share`` of its audience are numbers that end with them."""
    story_share: float = 0.0
    lost_rate: float = 0.0
    """Share of its messages the provider loses (their fetch answers 404)."""
    regions: tuple[str, ...] = ()
    """Countries (ISO codes) of the people ``abroad_share`` of its audience are."""
    abroad_share: float = 0.0
    followup_after: timedelta | None = None
    """A follow-up of it (``services.followup``) went out this long after it."""


DEMO_CAMPAIGNS: tuple[DemoCampaign, ...] = (
    # A few records lost at the provider: their fetch answers 404.
    DemoCampaign(
        "Autumn newsletter",
        "Hi from Harbor & Co! Our autumn range is in store now. Reply STOP to opt out.",
        1500,
        timedelta(days=9, hours=3),
        lost_rate=0.02,
        followup_after=timedelta(days=1),
    ),
    # A tour sold across Europe and Australia: one campaign, many countries and carriers.
    DemoCampaign(
        "Summer tour: tickets on sale",
        "The Harbor Lights summer tour is on sale now: harbor.example/tour. Reply STOP to opt out.",
        800,
        timedelta(days=6, hours=1),
        regions=("GB", "FR", "DE", "ES", "IE", "AU", "IN"),
        abroad_share=0.6,
    ),
    # The clinic's list was typed from patient forms: many home (landline) numbers.
    DemoCampaign(
        "Appointment reminders (week 47)",
        "Reminder: your appointment at Harbor Clinic is tomorrow. Reply C to confirm or call "
        "us on 020 7946 0958 to change it. Reply STOP to opt out.",
        400,
        timedelta(days=3, hours=5),
        story_codes=(30006, 21614),
        story_share=0.15,
    ),
    # A promotion with a link and a code: some carriers filter it.
    DemoCampaign(
        "Black Friday early access",
        "🛍️ Early access starts now: 30% off everything until Sunday with code EARLY30. "
        "Shop: harbor.example/bf Reply STOP to opt out.",
        2500,
        timedelta(days=1, hours=2),
        story_codes=(30007,),
        story_share=0.06,
    ),
    DemoCampaign(
        "Flash sale: 2 hours only",
        "FLASH SALE! 2 hours only: free delivery on every order. Reply STOP to opt out.",
        600,
        timedelta(0),
        speed=0.08,
    ),
)

FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia William Amelia "
    "Benjamin Harper Lucas Evelyn Henry Abigail Alexander Emily Sebastian Ella Jack Chloe "
    "Aiden Grace Owen Zoë Samuel Nora Matthew Lily Joseph Hannah Levi Aria Mateo Layla "
    "José Chen Priya Wei Fatima Mohammed Sakura Ingrid Siobhán"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King O'Brien "
    "Nguyen Kim Patel Müller Ødegaard"
).split()
AREA_CODES = (415, 212, 312, 617, 206, 303, 512, 404, 305, 503, 646, 773)

SPECIAL_RECIPIENTS = (
    NewRecipient("+15005550009", "Front desk (landline)"),
    NewRecipient("+15005550004", "Dana Whitfield"),
    NewRecipient("555-0123", "Typo Tom"),
    NewRecipient("+1 (415) 555-01", "Half a number"),
)
"""Numbers that fail on purpose: a landline, a STOP and two typos. (A blocked region shows where
it is real: the tour sold abroad, whose numbers the sandbox may refuse with 21408.)"""

DEMO_KEY = "demo"
_AHEAD = timedelta(minutes=1)


def needs_demo(runtime: Runtime) -> bool:
    """A demo is built only with the sandbox provider, once, into an empty workspace."""
    if not runtime.settings.uses_sandbox:
        return False
    if SchemaInfo.get_or_none(SchemaInfo.key == DEMO_KEY) is not None:
        return False
    return count_campaigns(archived=None) == 0  # archived ones count: the workspace is in use


def demo_contacts(count: int, seed: int = 2026) -> list[NewRecipient]:
    """``count`` made-up people with valid US numbers, the same ones every time."""
    from notify_tui.domain.phone import normalize  # phonenumbers: not before the first frame

    rng = random.Random(seed)
    people: list[NewRecipient] = []
    seen: set[str] = set()
    while len(people) < count:
        raw = f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        result = normalize(raw)
        if result.e164 is None or result.e164 in seen:
            continue
        seen.add(result.e164)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        people.append(NewRecipient(result.e164, name))
    return people


def story_numbers(codes: Sequence[int], count: int, seed: int) -> list[NewRecipient]:
    """``count`` made-up people whose numbers the sandbox ends with one of ``codes``."""
    from notify_tui.provider.sandbox.outcomes import outcome_for

    rng = random.Random(f"story-{seed}")
    people: list[NewRecipient] = []
    seen: set[str] = set()
    while len(people) < count:
        phone = f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if phone in seen or outcome_for(phone).error_code not in codes:
            continue
        seen.add(phone)
        people.append(NewRecipient(phone, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"))
    return people


def abroad_numbers(regions: Sequence[str], count: int, seed: int) -> list[NewRecipient]:
    """``count`` made-up people with valid mobile numbers of ``regions``, in turn."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    rng = random.Random(f"abroad-{seed}")
    people: list[NewRecipient] = []
    seen: set[str] = set()
    while len(people) < count:
        region = regions[len(people) % len(regions)]
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is None:
            raise ValueError(f"no mobile numbers known for {region}")
        e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
        phone = f"{e164[:-4]}{rng.randint(0, 9999):04d}"
        number = phonenumbers.parse(phone)
        if phone in seen or phonenumbers.number_type(number) != PhoneNumberType.MOBILE:
            continue
        seen.add(phone)
        people.append(NewRecipient(phone, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"))
    return people


def _shifted(age: timedelta) -> Callable[[], float]:
    seconds = age.total_seconds()
    return lambda: time.time() - seconds


async def build_demo(
    runtime: Runtime,
    on_progress: Callable[[DemoProgress], None] | None = None,
    *,
    campaigns: Sequence[DemoCampaign] = DEMO_CAMPAIGNS,
    recipients: int | None = None,
) -> list[int]:
    """Send the demo campaigns through the sandbox and resolve the older ones.

    ``recipients`` overrides every campaign's size (``notify-tui demo --recipients N``).
    """
    # Imported here: the app asks ``needs_demo`` before its first frame, and these bring httpx,
    # the provider and the sandbox.
    from notify_tui.provider import sandbox_client
    from notify_tui.provider.sandbox import SandboxApp
    from notify_tui.provider.sandbox.faults import Faults
    from notify_tui.services.followup import plan_followup, record_followup
    from notify_tui.services.runtime import SANDBOX_FROM
    from notify_tui.services.sender import prepare_campaign, send_campaign

    report = on_progress or (lambda _: None)
    apply_policy = runtime.policy_hook()

    # Every query on a thread: the app builds the demo on its event loop.
    await asyncio.to_thread(
        SchemaInfo.insert(key=DEMO_KEY, value="building").on_conflict_ignore().execute
    )
    sizes = [recipients or c.size for c in campaigns]
    # Twice as many people as the largest campaign: each one reaches its own sample of them,
    # so no two campaigns end with the same counters.
    people = demo_contacts(2 * max(sizes))
    total = sum(sizes)

    async def deliver(
        demo: DemoCampaign, campaign_id: int, age: timedelta, name: str, base: int, size: int
    ) -> None:
        # The sandbox plans each message's timeline from its own clock: moved back, an
        # older campaign's messages were sent days ago and have long since resolved.
        private_file(runtime.settings.sandbox_state_path)
        app = SandboxApp(
            state_path=runtime.settings.sandbox_state_path,
            speed=demo.speed,
            clock=_shifted(age),
            faults=Faults(lost_rate=demo.lost_rate),
        )
        try:
            async with sandbox_client(app) as client:
                stage = f"Sending “{name}”"

                def progress(event: SendProgress, stage: str = stage) -> None:
                    report(DemoProgress(stage, min(base + event.submitted, total), total))

                await send_campaign(
                    client, campaign_id, on_progress=progress, on_applied=apply_policy
                )
        finally:
            app.close()
        if age:
            # Resolve first (within the polling window), then move the campaign back in
            # time; resolution times come from the provider's own records, already past.
            report(DemoProgress(f"Resolving “{name}”", min(base + size, total), total))
            # A minute ahead: every message just sent is due for its first look. One fetch
            # per message: the provider's send dates are days older than our records yet.
            poller = runtime.make_poller(
                batch=1000,
                fetch_threshold=1000,
                concurrency=32,
                clock=lambda: utcnow() + _AHEAD,
            )
            while (await poller.poll_once(campaign_id)).checked:
                pass
            await asyncio.to_thread(backdate_campaign, campaign_id, age)

    done = 0
    ids: list[int] = []
    for index, (campaign, size) in enumerate(zip(campaigns, sizes, strict=True)):
        rng = random.Random(index)
        audience = rng.sample(people, size) if size < len(people) else list(people)
        audience[: len(SPECIAL_RECIPIENTS)] = SPECIAL_RECIPIENTS[:size]
        story = int(size * campaign.story_share)
        if story and size > len(SPECIAL_RECIPIENTS) + story:
            audience[-story:] = story_numbers(campaign.story_codes, story, index)
        abroad = int(size * campaign.abroad_share)
        if abroad and size > len(SPECIAL_RECIPIENTS) + story + abroad:
            start = len(SPECIAL_RECIPIENTS)
            audience[start : start + abroad] = abroad_numbers(campaign.regions, abroad, index)
        prepared = await asyncio.to_thread(
            prepare_campaign,
            campaign.name,
            campaign.body,
            audience,
            sender=SANDBOX_FROM,
            price_per_segment=runtime.settings.price_per_segment,
        )
        campaign_id = prepared.campaign_id
        ids.append(campaign_id)

        await deliver(campaign, campaign_id, campaign.age, campaign.name, done, size)
        if campaign.followup_after is not None and campaign.age > campaign.followup_after:
            # The recipients who failed for a cause that may pass get it again a day later.
            followup = await asyncio.to_thread(plan_followup, campaign_id)
            if followup.plan.to_send:
                again = await asyncio.to_thread(record_followup, followup)
                ids.append(again.campaign_id)
                later = campaign.age - campaign.followup_after
                await deliver(
                    campaign, again.campaign_id, later, followup.plan.name, done + size, 0
                )
        done += size
        report(DemoProgress(f"Sent “{campaign.name}”", done, total))
    await asyncio.to_thread(
        SchemaInfo.update(value="built").where(SchemaInfo.key == DEMO_KEY).execute
    )
    return ids
