"""What a phone number says about itself, offline: its country, original carrier and line type.

From phonenumbers' own data, no network. The carrier is the one the number was first assigned
to: a number ported to another carrier keeps its original carrier here, so the carrier
breakdown is a good guide, not a routing fact. Many regions (the US among them) have no carrier
data at all: their numbers have no carrier ("").

Computed once, when a recipient is recorded (``store.insights``): a breakdown never parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class LineType(StrEnum):
    """A number's kind of line. The value is what the store keeps."""

    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_OR_MOBILE = "fixed_or_mobile"
    """Regions (the US, Canada) whose numbering does not tell the two apart."""
    VOIP = "voip"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    PERSONAL = "personal"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    INVALID = "invalid"
    """Not a valid number for its region (or not a number at all)."""
    UNKNOWN = "unknown"
    """Valid, of a kind phonenumbers does not say."""

    @property
    def label(self) -> str:
        """The words shown to the user."""
        return _LABELS[self]

    @property
    def landline(self) -> bool:
        """Certainly not a mobile phone: a text to it cannot be delivered as SMS."""
        return self in _LANDLINES


_LABELS = {
    LineType.MOBILE: "Mobile",
    LineType.FIXED_LINE: "Fixed line",
    LineType.FIXED_OR_MOBILE: "Fixed line or mobile",
    LineType.VOIP: "VoIP",
    LineType.TOLL_FREE: "Toll-free",
    LineType.PREMIUM_RATE: "Premium rate",
    LineType.SHARED_COST: "Shared cost",
    LineType.PERSONAL: "Personal number",
    LineType.PAGER: "Pager",
    LineType.UAN: "Universal access",
    LineType.VOICEMAIL: "Voicemail",
    LineType.INVALID: "Invalid number",
    LineType.UNKNOWN: "Unknown line type",
}

_LANDLINES = frozenset(
    {
        LineType.FIXED_LINE,
        LineType.TOLL_FREE,
        LineType.PREMIUM_RATE,
        LineType.SHARED_COST,
        LineType.UAN,
        LineType.VOICEMAIL,
        LineType.PAGER,
    }
)

_TYPES = {
    "MOBILE": LineType.MOBILE,
    "FIXED_LINE": LineType.FIXED_LINE,
    "FIXED_LINE_OR_MOBILE": LineType.FIXED_OR_MOBILE,
    "VOIP": LineType.VOIP,
    "TOLL_FREE": LineType.TOLL_FREE,
    "PREMIUM_RATE": LineType.PREMIUM_RATE,
    "SHARED_COST": LineType.SHARED_COST,
    "PERSONAL_NUMBER": LineType.PERSONAL,
    "PAGER": LineType.PAGER,
    "UAN": LineType.UAN,
    "VOICEMAIL": LineType.VOICEMAIL,
}
"""phonenumbers' ``PhoneNumberType`` names to ours (names: phonenumbers loads when a number
is first parsed, not with the store: History's first frame needs none of it)."""


@dataclass(frozen=True, slots=True)
class NumberProfile:
    """What is static about a number. ``region``: ISO 3166 code ("" when none);
    ``carrier``: the original carrier's name ("" when phonenumbers has none)."""

    region: str
    carrier: str
    line_type: LineType


UNPARSED = NumberProfile("", "", LineType.INVALID)
"""The profile of something that is not a phone number."""


@lru_cache(maxsize=4096)
def profile(e164: str) -> NumberProfile:
    """The region, original carrier and line type of an E.164 number. Never raises."""
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberType, carrier

    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return UNPARSED
    region = phonenumbers.region_code_for_number(number) or ""
    if not region:  # an invalid number still tells its country by its code
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    if region in ("001", "ZZ"):  # a non-geographic entity (satellite, global services)
        region = ""
    if not phonenumbers.is_valid_number(number):
        return NumberProfile(region, "", LineType.INVALID)
    kind = _TYPES.get(PhoneNumberType.to_string(phonenumbers.number_type(number)), LineType.UNKNOWN)
    return NumberProfile(region, carrier.name_for_number(number, "en") or "", kind)
