"""Phone numbers: parse what people write, keep E.164, show it to humans.

Nothing here raises for bad input: every function answers with a result that says what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

DEFAULT_REGION = "US"

_PARSE_ERRORS: dict[int, str] = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

_POSSIBILITY_ERRORS: dict[int, str] = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.INVALID_LENGTH: "wrong length for its region",
    ValidationResult.TOO_LONG: "too long",
}

_MAX_INPUT = 64
"""Longer inputs are not phone numbers; refusing them early keeps the parser's work bounded."""


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """A normalised number, or why the input is not one."""

    raw: str
    e164: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when ``e164`` holds a valid number."""
        return self.e164 is not None


def normalize(raw: object, region: str = DEFAULT_REGION) -> PhoneResult:
    """Parse ``raw`` (as people write it) into E.164, with ``region`` for national formats."""
    text = "" if raw is None else str(raw)
    stripped = text.strip()
    if not stripped:
        return PhoneResult(text, error="empty")
    if len(stripped) > _MAX_INPUT:
        return PhoneResult(text, error="too long")
    result = _parse(text, stripped, (region or DEFAULT_REGION).upper())
    if result.e164 is None and stripped.startswith("00"):
        # 00 is the international prefix of most of the world, and people write it whatever
        # the region (the US dials 011). Tried only when the number means nothing otherwise.
        international = _parse(text, "+" + stripped[2:], region=None)
        if international.e164 is not None:
            return international
    return result


def _parse(text: str, stripped: str, region: str | None) -> PhoneResult:
    try:
        number = phonenumbers.parse(stripped, region)
    except NumberParseException as exc:
        return PhoneResult(text, error=_PARSE_ERRORS.get(exc.error_type, "not a phone number"))
    possible = phonenumbers.is_possible_number_with_reason(number)
    where = phonenumbers.region_code_for_country_code(number.country_code or 0)
    known = where not in ("ZZ", "001")
    if possible not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        error = _POSSIBILITY_ERRORS.get(possible, "not a phone number")
        if known and possible != ValidationResult.INVALID_COUNTRY_CODE:
            error += f": {_digits_expected(number, where)}"
        return PhoneResult(text, error=error)
    if not phonenumbers.is_valid_number(number):
        if not known:
            return PhoneResult(text, error="not a valid number for its region")
        if possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY and region is not None:
            if stripped.startswith("+"):
                # The country code is there: only the length is wrong.
                return PhoneResult(text, error=f"too short: {_digits_expected(number, where)}")
            error = f"not a valid number for {where}: a local number, without its area code"
        else:
            # Possible length, but no phone line has a number in that range: never assigned,
            # or kept back (the UK's 07700 900xxx are reserved for drama).
            error = (
                f"not a valid number for {where}: no phone has a number in that range "
                "(unassigned, or reserved like the numbers films use)"
            )
        return PhoneResult(text, error=error)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneResult(text, e164=e164)


def _digits_expected(number: phonenumbers.PhoneNumber, region: str) -> str:
    """``US numbers have 10 digits, this has 9``: what the length should be, in words."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc if metadata else None
    lengths = [n for n in (general.possible_length if general else ()) if n > 0]
    has = len(phonenumbers.national_significant_number(number))
    if not lengths:
        return f"this has {has} digits"
    said = ", ".join(str(n) for n in lengths[:-1])
    said = f"{said} or {lengths[-1]}" if said else str(lengths[-1])
    return f"{region} numbers have {said} digits, this has {has}"


@lru_cache(maxsize=8192)
def format_for_humans(e164: str) -> str:
    """``+14155552671`` as ``+1 415-555-2671``; anything unparseable comes back unchanged.

    Remembered for the last few thousand numbers: tables format every row they draw, and a
    worker that reads rows formats them first, so that painting finds them ready."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


_ASCII_DIGITS = frozenset("0123456789")
_NUMBER_PUNCTUATION = frozenset("+()-. ")


def search_digits(text: str) -> str | None:
    """The digits of a search typed as a formatted number, for matching stored E.164 numbers.

    "(415) 555-0100" finds "+14155550100". Returns None when the text is not a formatted number
    (it has letters, or it is already bare digits), so the caller searches the text as typed.
    Only ASCII digits count: "²" is a digit to ``str.isdigit`` but never part of a phone number.
    """
    digits = "".join(ch for ch in text if ch in _ASCII_DIGITS)
    if not digits or digits == text:
        return None
    if not all(ch in _ASCII_DIGITS or ch in _NUMBER_PUNCTUATION for ch in text):
        return None
    return digits
