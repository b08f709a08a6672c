"""Mail-merge templates: parsed once into text and fields, rendered per recipient."""

from __future__ import annotations

import pytest

from notify_tui.domain.template import (
    Field,
    TemplateError,
    parse,
    recipient_values,
    template_note,
    unknown_fields,
)
from notify_tui.errors import NotifyError, user_message


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("Hi there", ("Hi there",)),
        ("", ()),
        ("Hi {first_name}!", ("Hi ", Field("first_name", None, 4), "!")),
        ("{name}", (Field("name", None, 1),)),
        ("Hi {first_name|there}", ("Hi ", Field("first_name", "there", 4))),
        ("Hi {first_name|}", ("Hi ", Field("first_name", "", 4))),
        ("{ city }", (Field("city", None, 1),)),
        ("{{literal}} {{", ("{literal} {",)),
        ("a}}b", ("a}b",)),
        ("{{{city}}}", ("{", Field("city", None, 3), "}")),
        ("{City|your town, friend}", (Field("City", "your town, friend", 1),)),
    ],
)
def test_parse(source: str, parts: tuple[object, ...]) -> None:
    assert parse(source).parts == parts


@pytest.mark.parametrize(
    ("source", "column", "problem"),
    [
        ("Hi {first_name", 4, "a '{' that is never closed"),
        ("Hi first_name}", 14, "a '}' with no '{' before it"),
        ("Hi {}", 4, "a field with no name"),
        ("Hi {|there}", 4, "a field with no name"),
        ("Hi {first name}", 5, "'first name' is not a field name"),
        ("Price {1st}", 8, "'1st' is not a field name"),
        ("Hi {a{b}", 6, "a '{' inside a field"),
        ("ok {{ then {x", 12, "a '{' that is never closed"),
    ],
)
def test_invalid_syntax_names_the_column_and_the_problem(
    source: str, column: int, problem: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(source)

    assert caught.value.column == column
    assert caught.value.problem.startswith(problem)
    assert isinstance(caught.value, NotifyError)
    line = user_message(caught.value)
    assert line is not None and "\n" not in line
    assert line.startswith(f"message template, column {column}: {problem}")


def test_render_fills_fields_from_name_and_attributes_case_blind() -> None:
    template = parse("Hi {first_name|there}, {name} of {City|your town} {{ok}}")
    ann = recipient_values("Ann  Lee", {"city": "Oslo"})
    nobody = recipient_values("", {"City": " "})

    assert template.render(ann) == "Hi Ann, Ann  Lee of Oslo {ok}"
    assert template.missing(ann) == []
    assert template.render(nobody) == "Hi there,  of your town {ok}"
    assert [f.name for f in template.missing(nobody)] == ["name"]


def test_unknown_fields_are_those_no_recipient_has() -> None:
    template = parse("{first_name} {city} {zip|none} {plan}")
    audience = [recipient_values("Ann", {}), recipient_values("", {"plan": "gold"})]

    assert [f.name for f in unknown_fields(template, audience)] == ["city"]


def test_template_note_says_what_a_body_does() -> None:
    assert template_note("Hi all") is None
    assert template_note("Hi {x") == "message template, column 4: " + (
        "a '{' that is never closed (write {{ for a literal brace)"
    )
    note = template_note("Hi {first_name|there}, {first_name|there}")
    assert note is not None and note.startswith("Personal message: {first_name|there} filled in")
