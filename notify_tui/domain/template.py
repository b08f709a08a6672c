"""Personal messages (mail-merge): a body with fields, parsed once, rendered per recipient.

Syntax: ``{first_name}``, ``{name}`` or any contact attribute column (``{city}``, matched
without regard to case) is replaced by the recipient's value; ``{first_name|there}`` uses
``there`` when the recipient has none. ``{{`` and ``}}`` are a literal ``{`` and ``}``. Anything
else with a brace is a ``TemplateError`` naming the column (1-based) and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from notify_tui.errors import NotifyError

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(NotifyError):
    """The message's template is not valid: says where (column) and what is wrong."""

    def __init__(self, column: int, problem: str) -> None:
        super().__init__(f"message template, column {column}: {problem}")
        self.column = column
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Field:
    """One ``{name}`` or ``{name|fallback}`` of a template."""

    name: str
    """As typed."""
    fallback: str | None
    column: int

    @property
    def key(self) -> str:
        """The name matched against a recipient's values (lower case)."""
        return self.name.lower()

    def __str__(self) -> str:
        return "{" + self.name + ("" if self.fallback is None else "|" + self.fallback) + "}"


Part = str | Field


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed message body: literal text and fields, in order."""

    source: str
    parts: tuple[Part, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))

    @property
    def personal(self) -> bool:
        """Whether recipients get different texts (the template has fields)."""
        return bool(self.fields)

    def missing(self, values: Mapping[str, str]) -> list[Field]:
        """The fields without a fallback that ``values`` has no (non-blank) value for."""
        return [f for f in self.fields if f.fallback is None and not _value(values, f)]

    def render(self, values: Mapping[str, str]) -> str:
        """The body for one recipient; a field it lacks takes its fallback (or nothing: check
        ``missing`` first)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_value(values, part) or part.fallback or "")
        return "".join(out)


def _value(values: Mapping[str, str], field: Field) -> str:
    return (values.get(field.key) or "").strip()


def parse(source: str) -> Template:
    """Parse a message body into literal text and fields, or raise ``TemplateError``."""
    parts: list[Part] = []
    text: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "}":
            if source.startswith("}}", i):
                text.append("}")
                i += 2
                continue
            raise TemplateError(i + 1, "a '}' with no '{' before it (write }} for a literal brace)")
        if ch != "{":
            text.append(ch)
            i += 1
            continue
        if source.startswith("{{", i):
            text.append("{")
            i += 2
            continue
        close = source.find("}", i + 1)
        opened = source.find("{", i + 1)
        if close < 0:
            raise TemplateError(i + 1, "a '{' that is never closed (write {{ for a literal brace)")
        if 0 <= opened < close:
            raise TemplateError(opened + 1, "a '{' inside a field (write {{ for a literal brace)")
        inner = source[i + 1 : close]
        name, bar, fallback = inner.partition("|")
        stripped = name.strip()
        if not stripped:
            raise TemplateError(i + 1, "a field with no name: write {first_name}, {name} or {city}")
        if not _FIELD_NAME.fullmatch(stripped):
            raise TemplateError(
                i + 2,
                f"{stripped!r} is not a field name (letters, digits and _; "
                "write {{ for a literal brace)",
            )
        if text:
            parts.append("".join(text))
            text = []
        parts.append(Field(stripped, fallback if bar else None, i + 1))
        i = close + 1
    if text:
        parts.append("".join(text))
    return Template(source, tuple(parts))


def recipient_values(name: str, attributes: Mapping[str, str] | None) -> dict[str, str]:
    """What a recipient's fields read: their attributes (keys in lower case), ``name`` and
    ``first_name`` (the name's first word)."""
    values = {key.lower(): value for key, value in (attributes or {}).items()}
    name = (name or "").strip()
    values["name"] = name
    values["first_name"] = name.split()[0] if name else ""
    return values


def unknown_fields(template: Template, audience: Iterable[Mapping[str, str]]) -> list[Field]:
    """The fields without a fallback that no recipient of ``audience`` has a value for."""
    open_ = {f.key: f for f in template.fields if f.fallback is None}
    for values in audience:
        for key in [k for k in open_ if (values.get(k) or "").strip()]:
            del open_[key]
        if not open_:
            break
    return list(open_.values())


def template_note(body: str) -> str | None:
    """What a body's fields do, for the one writing it: the syntax error (with its column), or
    which fields each recipient's text fills in; ``None`` for a body without fields."""
    try:
        template = parse(body)
    except TemplateError as exc:
        return str(exc)
    if not template.personal:
        return None
    fields = ", ".join(dict.fromkeys(str(f) for f in template.fields))
    return (
        f"Personal message: {fields} filled in for each recipient (the review shows their "
        "segments; {{ and }} are literal braces)"
    )


def sent_text(body: str) -> str:
    """What a body without fields sends (``{{`` and ``}}`` as single braces); a body with
    fields, or with a syntax error, as it is (each recipient's text is measured on its own)."""
    try:
        template = parse(body)
    except TemplateError:
        return body
    return body if template.personal else template.render({})
