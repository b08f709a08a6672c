"""Money: exact ``Decimal`` amounts, their integer form in the store, and how they read.

Amounts are US dollars (or the account's unit) as ``Decimal``, never ``float``. The store keeps
them as whole micro-units (millionths): integer arithmetic is exact on SQLite, whose ``SUM`` and
``+`` over a ``DECIMAL`` column work in floats, and on PostgreSQL alike. Twilio prices carry five
decimals, well inside a micro-unit.

Every surface (the app, the CLI, exports) shows an amount through ``format_money``, so each one
rounds the same way (half up):

- a price per message or per segment (``unit=True``) shows four decimals: ``$0.0158``;
- a total shows cents (``$38.50``); under a dollar, where cents would hide most of it, four
  decimals (``$0.0474``);
- an estimate (``estimate=True``) says so: ``≈ $38.50``.

JSON and CSV carry the exact value (``exact``), not a rounded one.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

MICRO_PLACES = 6
"""Decimals the store keeps: amounts are stored as integer millionths."""

_MICRO = Decimal(1).scaleb(-MICRO_PLACES)
_CENT = Decimal("0.01")
_FOUR = Decimal("0.0001")
_ONE = Decimal(1)


def to_micros(amount: Decimal) -> int:
    """``amount`` in whole millionths, as the store keeps it.

    Exact for any amount of at most six decimals (every price the provider documents); a finer
    one is rounded half-even to the nearest millionth.
    """
    try:
        return int(Decimal(amount).quantize(_MICRO, rounding=ROUND_HALF_EVEN).scaleb(MICRO_PLACES))
    except InvalidOperation:
        raise ValueError(f"not an amount of money: {amount!r}") from None


def from_micros(micros: int) -> Decimal:
    """The ``Decimal`` amount of ``micros`` millionths, without trailing zeros."""
    return _tidy(Decimal(int(micros)).scaleb(-MICRO_PLACES))


def _tidy(amount: Decimal) -> Decimal:
    """``amount`` with no trailing zeros and no exponent (``0.0474``, ``152.28``, ``0``)."""
    if amount == 0:
        return Decimal(0)
    normal = amount.normalize()
    if normal.as_tuple().exponent > 0:  # type: ignore[operator]
        normal = normal.quantize(_ONE)
    return normal


def exact(amount: Decimal) -> str:
    """The exact amount as a plain decimal string with at least two decimals: ``"0.0474"``,
    ``"152.28"``, ``"0.00"``, for JSON and CSV (never an exponent, never float noise)."""
    tidy = _tidy(amount)
    exponent = tidy.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent > -2:
        tidy = tidy.quantize(_CENT)
    return f"{tidy:f}"


def format_money(amount: Decimal, *, unit: bool = False, estimate: bool = False) -> str:
    """How an amount reads on every surface (see the module docstring for the rules).

    A cost is always shown as positive (the provider sends charges negative).
    """
    value = abs(amount)
    if not unit and value == 0:
        text = "$0.00"
    elif unit or value < _ONE:
        text = f"${value.quantize(_FOUR, rounding=ROUND_HALF_UP):,f}"
        if not unit and value and value >= _CENT:
            # 4 decimals below a dollar, but "$0.50" rather than "$0.5000" when the cents say all.
            cents = value.quantize(_CENT, rounding=ROUND_HALF_UP)
            if cents == value:
                text = f"${cents:,f}"
    else:
        text = f"${value.quantize(_CENT, rounding=ROUND_HALF_UP):,f}"
    return f"≈ {text}" if estimate else text
