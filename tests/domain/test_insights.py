"""Number profiles, delivery-time percentiles and the alerts, as pure values."""

from __future__ import annotations

import pytest

from notify_tui.domain.alerts import (
    AlertKind,
    FailureCount,
    SenderHistory,
    below_usual,
    campaign_alerts,
)
from notify_tui.domain.insights import (
    BUCKET_BOUNDS,
    DeliveryTimes,
    Dimension,
    Group,
    bucket_of,
    percentile,
    slowest,
)
from notify_tui.domain.numbers import LineType, profile
from notify_tui.domain.status import Reason


@pytest.mark.parametrize(
    ("number", "region", "carrier", "line_type"),
    [
        ("+14155550100", "US", "", LineType.FIXED_OR_MOBILE),
        ("+18005550100", "US", "", LineType.TOLL_FREE),
        ("+442079460000", "GB", "", LineType.FIXED_LINE),
        ("+33612345678", "FR", "SFR", LineType.MOBILE),
        ("+447700900123", "GB", "", LineType.INVALID),
        ("not a number", "", "", LineType.INVALID),
    ],
)
def test_a_number_tells_its_region_original_carrier_and_line_type(
    number: str, region: str, carrier: str, line_type: LineType
) -> None:
    found = profile(number)
    assert (found.region, found.carrier, found.line_type) == (region, carrier, line_type)


def test_landlines_are_the_lines_that_cannot_take_a_text() -> None:
    assert LineType.FIXED_LINE.landline and LineType.TOLL_FREE.landline
    assert not LineType.MOBILE.landline and not LineType.FIXED_OR_MOBILE.landline


def test_buckets_cover_every_time_and_percentiles_interpolate_within_one() -> None:
    assert bucket_of(-3) == 0 and bucket_of(0.5) == 0 and bucket_of(1) == 1
    assert bucket_of(10**7) == len(BUCKET_BOUNDS)
    assert percentile({}, 0.5) is None
    times = DeliveryTimes({bucket_of(2): 50, bucket_of(50): 50})
    assert times.p50 == 3.0  # the top of the [2, 3) bucket
    assert times.p90 is not None and 45 < times.p90 < 60
    assert times.counted == 100
    assert [b.count for b in times.histogram()] == [50, 0, 50, 0, 0, 0, 0, 0]
    assert [b.label for b in times.histogram()][:3] == ["<10 s", "10 s-30 s", "30 s-1 min"]
    assert times.histogram()[-1].label == "6 h+"
    assert times.merged(times).counted == 200


def test_dimensions_cycle_and_the_slowest_groups_need_enough_messages() -> None:
    assert [d.next() for d in Dimension] == [
        Dimension.COUNTRY,
        Dimension.CARRIER,
        Dimension.LINE_TYPE,
        Dimension.REASON,
    ]
    fast = Group("US", "US", 100, 100, 0, 0, 0, delivery=DeliveryTimes({bucket_of(2): 100}))
    slow = Group("FR", "FR", 100, 100, 0, 0, 0, delivery=DeliveryTimes({bucket_of(600): 100}))
    few = Group("DE", "DE", 3, 3, 0, 0, 0, delivery=DeliveryTimes({bucket_of(9000): 3}))
    assert [g.key for g in slowest([fast, slow, few])] == ["FR", "US"]


def _f(code: int, n: int, region: str = "US", reason: str = Reason.OTHER.value) -> FailureCount:
    return FailureCount(code, reason, region, LineType.MOBILE, n)


def test_carrier_violations_alert_above_one_percent_only() -> None:
    assert campaign_alerts(1000, [_f(30007, 10, reason=Reason.CARRIER_VIOLATION.value)]) == []
    (alert,) = campaign_alerts(1000, [_f(30007, 11, reason=Reason.CARRIER_VIOLATION.value)])
    assert alert.kind is AlertKind.CARRIER_VIOLATION and alert.messages == 11
    assert "11 of 1,000" in alert.seen and "10DLC" in alert.action
    assert alert.filter.reason == Reason.CARRIER_VIOLATION.value
    assert alert.to_json()["filter"] == {
        "status": "failed",
        "reason": "Carrier violation",
        "codes": [30007],
    }


def test_registration_rate_limits_and_region_permissions_say_what_fixes_them() -> None:
    found = campaign_alerts(
        1000,
        [
            _f(30034, 11),
            _f(30022, 20),
            _f(21408, 5, "BR", Reason.HTTP_400.value),
            _f(21408, 7, "IN", Reason.HTTP_400.value),
        ],
    )
    kinds = {a.kind: a for a in found}
    assert set(kinds) == {
        AlertKind.UNREGISTERED_SENDER,
        AlertKind.RATE_LIMIT,
        AlertKind.REGION_PERMISSION,
    }
    region = kinds[AlertKind.REGION_PERMISSION]
    assert region.regions == ("IN", "BR") and "IN, BR" in region.seen
    assert "Geo permissions" in region.action and region.messages == 12
    assert "send_rate" in kinds[AlertKind.RATE_LIMIT].action
    assert campaign_alerts(1000, [_f(30022, 10)]) == []  # 1% exactly: not above
    assert campaign_alerts(1000, [_f(30034, 1)]) == []  # a stray 30034 says nothing


def test_unreachable_handsets_alert_against_the_senders_history() -> None:
    usual = SenderHistory((0.02, 0.03, 0.02))
    assert campaign_alerts(1000, [_f(30003, 30)], usual) == []  # 3% is usual
    (spike,) = campaign_alerts(1000, [_f(30003, 80)], usual)
    assert spike.kind is AlertKind.UNREACHABLE_SPIKE and "2.0% usually" in spike.seen
    assert campaign_alerts(100, [_f(30003, 9)], usual) == []  # too few to say
    # Without history, only a share above 10% is worth an alert.
    assert campaign_alerts(1000, [_f(30003, 80)], SenderHistory((0.02,))) == []
    assert campaign_alerts(1000, [_f(30003, 120)])[0].kind is AlertKind.UNREACHABLE_SPIKE


def test_many_invalid_numbers_point_at_the_import_region() -> None:
    invalid = Reason.INVALID_NUMBER.value
    assert campaign_alerts(100, [_f(0, 5, "", invalid)]) == []
    (alert,) = campaign_alerts(100, [_f(0, 4, "GB", invalid), _f(21211, 3, "US", invalid)])
    assert alert.kind is AlertKind.INVALID_NUMBERS and alert.messages == 7
    assert alert.regions == ("GB", "US") and "--region" in alert.action
    assert campaign_alerts(0, [_f(30007, 5)]) == []


def test_a_delivery_rate_far_under_the_recent_median_is_below_usual() -> None:
    recent = [95.0, 96.0, 94.0, 97.0]
    assert below_usual(84.0, recent) and not below_usual(86.0, recent)
    assert not below_usual(10.0, [95.0, 96.0])  # too little history
