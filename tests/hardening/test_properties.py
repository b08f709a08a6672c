"""Properties, checked on generated inputs (hypothesis): the status classifier, phone
normalisation, segment counting, the CSV importer and the export."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from notify_tui.domain.phone import format_for_humans, normalize
from notify_tui.domain.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments
from notify_tui.domain.status import (
    CODE_RULES,
    PROVIDER_STATUSES,
    Reason,
    Status,
    classify_create_refusal,
    classify_message,
    parse_error_code,
)
from notify_tui.services.contacts_import import (
    ContactsFileError,
    RejectedLine,
    import_contacts,
    read_audience,
)
from notify_tui.services.export import COLUMNS, export_row, write_csv
from notify_tui.store.campaigns import create_campaign
from notify_tui.store.models import Message
from notify_tui.store.recipients import RecipientRow
from notify_tui.store.sending import NewRecipient, add_recipients
from notify_tui.store.updates import StatusUpdate, apply_updates

from .support import assert_consistent

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
DB_SETTINGS = settings(
    # A workspace per example is slow: six in ten of the profile's examples (60 of 100).
    max_examples=max(settings.default.max_examples * 6 // 10, 1),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- the classifier ----------------------------------------------------------------------------

raw_statuses = st.one_of(
    st.none(),
    st.sampled_from(sorted(PROVIDER_STATUSES)),
    st.sampled_from(sorted(PROVIDER_STATUSES)).map(lambda s: f"  {s.upper()} "),
    st.text(max_size=20),
)
error_codes = st.one_of(
    st.none(),
    st.sampled_from(sorted(CODE_RULES)),
    st.integers(min_value=-1, max_value=99_999),
    st.sampled_from(sorted(CODE_RULES)).map(str),
    st.text(max_size=8),
    st.floats(allow_nan=True),
    st.booleans(),
)


@given(raw_statuses, error_codes, st.one_of(st.none(), st.text(max_size=60)))
@example(status=None, code="²", message=None)  # a digit to str.isdigit, not to int()
@example(status="failed", code="٣٠٠٠٣", message=None)  # Arabic-Indic digits are not a code
def test_every_provider_answer_classifies_to_one_of_three_statuses(
    status: str | None, code: object, message: str | None
) -> None:
    result = classify_message(status, code, message)
    raw = (status or "").strip().lower()
    assert result.status is PROVIDER_STATUSES.get(raw, Status.UNKNOWN)
    assert isinstance(result.detail, str)
    if result.status is not Status.FAILED:
        assert (result.reason, result.code) == (None, None)
        return
    assert result.reason in Reason
    parsed = parse_error_code(code)
    assert result.code == parsed
    if raw == "canceled":
        assert result.reason is Reason.CANCELED and not result.counts_as_failure
    elif parsed in CODE_RULES:
        assert result.reason is CODE_RULES[parsed].reason
    else:
        assert result.reason is Reason.OTHER


@given(st.integers(min_value=400, max_value=499), error_codes, st.none() | st.text(max_size=40))
@example(http_status=400, code="²", message=None)
def test_every_create_refusal_is_failed_with_a_reason(
    http_status: int, code: object, message: str | None
) -> None:
    result = classify_create_refusal(http_status, code, message)
    assert result.status is Status.FAILED and result.reason in Reason
    parsed = parse_error_code(code)
    effective = http_status if parsed is None else parsed
    expected = CODE_RULES[effective].reason if effective in CODE_RULES else Reason.HTTP_400
    assert result.reason is expected


answers = st.lists(
    st.tuples(
        st.sampled_from(
            ["queued", "sending", "sent", "delivered", "read", "undelivered", "failed"]
        ),
        st.sampled_from([None, 30003, 30005, 30006, 30007, 30008]),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def campaign_ids(sqlite_url: str) -> Iterator[list[int]]:
    """The campaigns made by the examples of one test, in one workspace."""
    yield []


@DB_SETTINGS
@given(st.lists(answers, min_size=1, max_size=6))
def test_answers_in_any_order_only_move_a_status_forward(
    campaign_ids: list[int], histories: list[list[tuple[str, int | None]]]
) -> None:
    """Whatever order the answers arrive in, each message keeps the first final status it got,
    and the counters agree with the rows."""
    campaign_id = create_campaign("Forward", "Hi")
    n = len(campaign_ids)
    campaign_ids.append(campaign_id)
    phones = [f"+1415{n:03d}{i:04d}" for i in range(len(histories))]
    add_recipients(campaign_id, [NewRecipient(p) for p in phones])
    ids = [
        m.id
        for m in Message.select(Message.id)
        .where(Message.campaign == campaign_id)
        .order_by(Message.id)
    ]
    rounds = max(len(h) for h in histories)
    for step in range(rounds):
        batch = [
            StatusUpdate(
                message_id,
                classify_message(*history[step]),
                provider_status=history[step][0],
                price=Decimal("-0.0079"),
            )
            for message_id, history in zip(ids, histories, strict=True)
            if step < len(history)
        ]
        apply_updates(batch)
    for message_id, history in zip(ids, histories, strict=True):
        finals = [classify_message(*a) for a in history if classify_message(*a).final]
        message = Message.get_by_id(message_id)
        expected = finals[0].status.value if finals else "unknown"
        assert message.status == expected
        if finals:
            assert message.reason == (finals[0].reason.value if finals[0].reason else None)
    assert_consistent(campaign_id)


# -- phone numbers ---------------------------------------------------------------------------

REGIONS = sorted(
    region
    for region in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
)
SEPARATORS = st.sampled_from([" ", "-", ".", "", "\u00a0", " - ", "/"])


@given(st.text(max_size=80))
@example("00 44 20 7946 0958")
@example("+1 415 555 2671 ext. 12")
def test_a_normalised_number_is_e164_and_stays_the_same_when_normalised_again(raw: str) -> None:
    result = normalize(raw)
    if result.e164 is None:
        assert result.error
        return
    assert E164.match(result.e164)
    assert normalize(result.e164).e164 == result.e164
    assert normalize(format_for_humans(result.e164)).e164 == result.e164


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str, str]:
    """A valid mobile number of some region, written the ways people write it: (text, region,
    its E.164)."""
    region = draw(st.sampled_from(REGIONS))
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    style = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.RFC3966,
            ]
        )
    )
    text = phonenumbers.format_number(number, style)
    separator = draw(SEPARATORS)
    if style != phonenumbers.PhoneNumberFormat.RFC3966:
        text = text.replace(" ", separator) if separator != "/" else text
    padding = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return f"{padding}{text}{padding}", region, e164


@given(written_numbers())
def test_every_way_of_writing_a_valid_number_normalises_to_it(
    case: tuple[str, str, str],
) -> None:
    text, region, e164 = case
    assert normalize(text, region).e164 == e164


@given(written_numbers())
def test_a_00_prefix_means_international_even_where_the_prefix_is_011(
    case: tuple[str, str, str],
) -> None:
    _, _, e164 = case
    assert normalize("00" + e164[1:], "US").e164 == e164
    assert normalize("00 " + e164[1:], "US").e164 == e164


# -- segments --------------------------------------------------------------------------------

gsm_basic = st.text(alphabet=sorted(GSM7_BASIC), max_size=700)
gsm_any = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
any_text = st.text(max_size=500)


@given(gsm_basic)
def test_plain_gsm_text_fills_160_then_153_per_segment(body: str) -> None:
    info = count_segments(body)
    n = len(body)
    assert info.encoding == "GSM-7" and info.units == n and info.ucs2_trigger is None
    assert info.segments == (0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153))


@given(gsm_any)
def test_extension_characters_count_twice_and_are_never_split(body: str) -> None:
    info = count_segments(body)
    units = len(body) + sum(1 for ch in body if ch in GSM7_EXTENSION)
    assert info.encoding == "GSM-7" and info.units == units
    if units <= 160:
        assert info.segments == (1 if units else 0)
    else:
        assert math.ceil(units / 153) <= info.segments <= math.ceil(units / 152)


@given(any_text)
def test_one_character_outside_gsm_makes_it_ucs2(body: str) -> None:
    info = count_segments(body)
    outside = [ch for ch in body if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION]
    assert (info.encoding == "UCS-2") == bool(outside)
    if not outside:
        return
    assert info.ucs2_trigger == outside[0]
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
    assert info.units == units
    if units <= 70:
        assert info.segments == 1
    else:
        assert math.ceil(units / 67) <= info.segments <= math.ceil(units / 66)


@given(st.one_of(gsm_any, any_text), st.characters())
def test_a_longer_message_never_costs_fewer_segments(body: str, extra: str) -> None:
    assert count_segments(body + extra).segments >= count_segments(body).segments


# -- the CSV importer ------------------------------------------------------------------------

HOSTILE = list('0123456789+()-. ,"\r\n\t;abcxyzé€😀\x1b\x00\x07\u202e\u2028[]/=')
cells = st.one_of(
    st.text(alphabet=HOSTILE, max_size=30),
    st.sampled_from(["+14155550100", "(415) 555-0101", "415.555.0102", "00 44 7911 123456"]),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """CSV-ish files: a header with a phone column, then rows of hostile cells, in some
    encoding, sometimes with a BOM or broken bytes."""
    header = draw(
        st.lists(st.sampled_from(["phone", "name", "Phone Number", "city", "", "x"]), max_size=4)
    )
    header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["phone", "Mobile"])))
    rows = draw(st.lists(st.lists(cells, max_size=6), max_size=30))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        # Break the CSV: drop or add quotes somewhere.
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', '""', "\r", ",", ""])) + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=20))
    return data


def write_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    return path


@DB_SETTINGS
@given(st.one_of(csv_files(), st.binary(max_size=400)))
@example(b"phone\n" + b'"' * 3 + b"\n")
@example(b"\xff\xfephone\n")
@example(b"")
def test_the_importer_only_ever_raises_contacts_file_error_and_its_counts_add_up(
    tmp_path: Path, sqlite_url: str, data: bytes
) -> None:
    path = write_file(tmp_path, data)
    try:
        report = import_contacts(path, max_details=5)
    except ContactsFileError as exc:
        assert "\n" not in str(exc)
        event("refused as a whole")
        return
    event("imported" if report.imported else "read, nothing imported")
    assert report.rows == (
        report.imported + report.updated + report.unchanged + report.duplicates + report.invalid
    )
    assert len(report.rejections) == min(report.invalid, 5)
    for line in report.summary_lines():
        assert line.isprintable()


@DB_SETTINGS
@given(st.one_of(csv_files(), st.binary(max_size=400)))
def test_reading_an_audience_only_ever_raises_contacts_file_error_and_accounts_for_each_line(
    tmp_path: Path, sqlite_url: str, data: bytes
) -> None:
    path = write_file(tmp_path, data)
    try:
        audience = read_audience(path)
    except ContactsFileError:
        return
    assert audience.rows == len(audience.recipients) + audience.unusable
    assert audience.invalid == sum(1 for r in audience.recipients if r.invalid_reason)
    for recipient in audience.recipients:
        assert recipient.invalid_reason is not None or E164.match(recipient.phone)


one_line_cells = st.text(alphabet=[ch for ch in HOSTILE if ch not in "\r\n"], max_size=12)


@DB_SETTINGS
@given(
    st.integers(min_value=1, max_value=4),
    st.lists(st.lists(one_line_cells, max_size=7), max_size=20),
)
@example(width=2, rows=[["4155550100", "Smith", " John"], ["4155550101", "Ann", "", " "]])
def test_a_line_is_rejected_for_its_cells_exactly_when_one_past_the_header_has_text(
    tmp_path: Path, sqlite_url: str, width: int, rows: list[list[str]]
) -> None:
    # Written by csv.writer: a value with a comma is quoted, so cells are cells.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["phone", "name", "city", "notes"][:width])
    writer.writerows(rows)
    path = write_file(tmp_path, out.getvalue().encode("utf-8"))
    expected = {}
    for line, row in enumerate(rows, start=2):
        counted = max((i + 1 for i, cell in enumerate(row) if cell.strip()), default=0)
        if counted > width:
            expected[line] = (
                f"{counted} cells but the header has {width}; put quotes around a value that "
                "contains a comma, or give each extra column a header"
            )
    event("some lines have extra cells" if expected else "no line has extra cells")

    def cell_rejections(rejections: Iterable[RejectedLine]) -> dict[int, str]:
        return {r.line: r.reason for r in rejections if "cells but the header" in r.reason}

    assert cell_rejections(read_audience(path).rejections) == expected
    assert cell_rejections(import_contacts(path).rejections) == expected


# -- the export ------------------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@given(st.lists(st.tuples(texts, texts, texts), min_size=1, max_size=20))
def test_an_export_reads_back_exactly_as_written(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[str, str, str]]
) -> None:
    rows = [
        RecipientRow(
            id=i,
            phone=phone,
            name=name,
            status=Status.FAILED,
            reason=Reason.OTHER.value,
            detail=None,
            error_code=30008,
            error_message=message,
            sid=None,
            num_segments=1,
            price=Decimal("-0.00790"),
            updated_at=datetime(2024, 1, 2, 3, 4, 5),
            opted_out=False,
            opt_out_source=None,
            note=None,
            provider_status="undelivered",
            send_state="submitted",
        )
        for i, (phone, name, message) in enumerate(values)
    ]
    destination = tmp_path_factory.mktemp("export") / "out.csv"
    assert write_csv(rows, destination) == len(rows)
    with destination.open(newline="", encoding="utf-8") as handle:
        read = list(csv.reader(handle))
    assert read[0] == list(COLUMNS)
    assert read[1:] == [export_row(row) for row in rows]
