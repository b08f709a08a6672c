"""Smart encoding: characters with a GSM-7 lookalike, replaced so one curly quote does not
switch a whole message to UCS-2 (70 characters a segment instead of 160).

``LOOKALIKES`` is Twilio's Smart Encoding table (the characters its Messaging Services replace,
reference/delivery-status.md): typographic quotes and apostrophes, dashes, the ellipsis, Unicode
spaces, full-width forms and a few symbols. Characters with no lookalike (emoji, most scripts,
accented letters outside GSM-7) are never changed: ``smart_encode`` lists them, since they keep
the message in UCS-2 whatever is replaced.

Every body in this app is a template (``domain.template``), so replacing works on its literal
text and its fallbacks, never on a field's name: a full-width brace becomes ``{{`` (a literal
brace), not the start of a field.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from notify_tui.domain.money import format_money
from notify_tui.domain.segments import GSM7_BASIC, GSM7_EXTENSION, SegmentInfo, count_segments
from notify_tui.domain.template import Field, TemplateError, parse

_SPACES = "\u00a0" + "".join(map(chr, range(0x2000, 0x200C))) + "\u202f\u205f\u3000\ufeff"
"""No-break, en, em, thin, hair, zero-width and the other Unicode spaces."""


def _table() -> dict[str, str]:
    table: dict[str, str] = {}

    def each(chars: str, to: str) -> None:
        for char in chars:
            table[char] = to

    each("«»“”„‟″ʺˮ❝❞〝〞＂", '"')
    each("‘’‚‛′´`ʹʻʼʽˈˊˋ❛❜＇", "'")
    each("‐‑‒–—―−﹣－⁃˗⎼⎽﹘", "-")
    each(_SPACES, " ")
    each("ǃ︕﹗！", "!")
    each("﹟＃", "#")
    each("﹩＄", "$")
    each("﹪％", "%")
    each("﹠＆", "&")
    each("❨❪﹙（⟮⦅", "(")
    each("❩❫﹚）⟯⦆", ")")
    each("⁎∗⊛✢✣✤✥✱✲✳✺✻✼✽❃❉❊❋⧆﹡＊", "*")
    each("˖﹢＋", "+")
    each("、﹐﹑，､", ",")
    each("。﹒．｡", ".")
    each("⁄∕⧸／÷", "/")
    each("ː˸⦂꞉︓：", ":")
    each("⁏︔﹔；", ";")
    each("‹﹤＜", "<")
    each("꞊﹦＝", "=")
    each("›﹥＞", ">")
    each("︖﹖？", "?")
    each("﹫＠", "@")
    each("﹝［", "[")
    each("⧵⧹﹨＼", "\\")
    each("﹞］", "]")
    each("＾ˆ", "^")
    each("＿", "_")
    each("﹛｛", "{")
    each("∣｜⎸⎹⏐⎜⎟", "|")
    each("﹜｝", "}")
    each("～˜", "~")
    table["…"] = "..."
    table["¼"] = "1/4"
    table["½"] = "1/2"
    table["¾"] = "3/4"
    for offset in range(10):
        table[chr(0xFF10 + offset)] = chr(0x30 + offset)  # full-width digits
    for offset in range(26):
        table[chr(0xFF21 + offset)] = chr(0x41 + offset)  # full-width capitals
        table[chr(0xFF41 + offset)] = chr(0x61 + offset)  # full-width small letters
    return table


LOOKALIKES: dict[str, str] = _table()
"""A character outside GSM-7 → the GSM-7 text that stands for it."""

_GSM7 = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(char: str) -> bool:
    """Whether ``char`` is in the GSM-7 alphabet (its extension included)."""
    return char in _GSM7


@dataclass(frozen=True, slots=True)
class Replacement:
    """One kind of character replaced: which, by what, how many times."""

    char: str
    by: str
    times: int

    def __str__(self) -> str:
        shown = {" ": "space"}.get(self.by, self.by)
        return f"{self.char} → {shown}" + (f" (×{self.times})" if self.times > 1 else "")


@dataclass(frozen=True, slots=True)
class SmartEncoding:
    """What replacing the lookalikes of a body changes: the new body, what was replaced, what
    was left (no lookalike) and the segments before and after."""

    body: str
    """The body as written (a template)."""
    encoded: str
    """The body with its lookalikes replaced (still a template)."""
    replaced: tuple[Replacement, ...]
    kept: tuple[str, ...]
    """Characters outside GSM-7 with no lookalike, left alone (each once, in order)."""
    before: SegmentInfo
    after: SegmentInfo

    @property
    def changes(self) -> int:
        """Characters replaced."""
        return sum(r.times for r in self.replaced)

    @property
    def segments_saved(self) -> int:
        """Segments a message saves (of the template's text; never negative)."""
        return max(self.before.segments - self.after.segments, 0)


def _replace(text: str, *, literal: bool) -> str:
    """``text`` with its lookalikes replaced; ``literal``: it is a template's literal text, so a
    brace is doubled (``{{``), else (a fallback) a replacement with a brace is left out."""
    out: list[str] = []
    for char in text:
        by = LOOKALIKES.get(char)
        if literal:
            # Parsed text: its braces (typed {{) and any a replacement brings are literal ones.
            out.append((by or char).replace("{", "{{").replace("}", "}}"))
        elif by is None or "{" in by or "}" in by:
            out.append(char)
        else:
            out.append(by)
    return "".join(out)


def replace_lookalikes(body: str) -> str:
    """``body`` (a template) with every lookalike in its text and fallbacks replaced; field
    names are left as they are. A body that is not a valid template is replaced as plain text
    minus the braces (its syntax error stays where it was)."""
    try:
        template = parse(body)
    except TemplateError:
        return _replace(body, literal=False)
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, Field):
            fallback = None if part.fallback is None else _replace(part.fallback, literal=False)
            out.append(str(Field(part.name, fallback, part.column)))
        else:
            out.append(_replace(part, literal=True))
    return "".join(out)


def _sent(body: str) -> str:
    """What a body sends when it has no fields ({{ as {), else the template as written."""
    try:
        template = parse(body)
    except TemplateError:
        return body
    return body if template.personal else template.render({})


def smart_encode(body: str) -> SmartEncoding:
    """What replacing ``body``'s lookalikes does (see ``SmartEncoding``); nothing is changed
    when it has none."""
    encoded = replace_lookalikes(body)
    replaced = tuple(
        Replacement(char, LOOKALIKES[char], times)
        for char in dict.fromkeys(c for c in body if c in LOOKALIKES)
        if (times := body.count(char) - encoded.count(char)) > 0
    )
    kept = tuple(dict.fromkeys(c for c in encoded if not is_gsm7(c)))
    return SmartEncoding(
        body=body,
        encoded=encoded,
        replaced=replaced,
        kept=kept,
        before=count_segments(_sent(body)),
        after=count_segments(_sent(encoded)),
    )


def segments_change(before: int, after: int) -> str:
    """``2 → 1 segment``, or ``1 segment`` when replacing changes nothing."""
    unit = "segment" if max(before, after) == 1 else "segments"
    return f"{before} {unit}" if before == after else f"{before} → {after} {unit}"


def saving(before_segments: int, after_segments: int, price_per_segment: Decimal) -> str:
    """``saves $19.25`` (``before_segments`` and ``after_segments`` of every message), or
    ``saves nothing``; money through ``format_money``, exact."""
    saved = max(before_segments - after_segments, 0) * abs(price_per_segment)
    return f"saves {format_money(saved)}" if saved else "saves nothing"


def replaced_line(encoding: SmartEncoding) -> str:
    """What was replaced and what was left, in one line of plain text."""
    if not encoding.replaced:
        line = "nothing to replace: no character with a GSM-7 lookalike"
    else:
        n = encoding.changes
        line = f"{n} character{'' if n == 1 else 's'} replaced: " + ", ".join(
            str(r) for r in encoding.replaced
        )
    if encoding.kept:
        line += "; left as they are (no GSM-7 lookalike, still UCS-2): " + " ".join(encoding.kept)
    return line
