"""The sandbox's JSON against Twilio's own OpenAPI description of the Messages API.

The description lives in the shared reference folder (``../shared/reference`` beside the
repository, or ``$NOTIFY_SHARED_DIR/reference``); it is read in place, never copied here.
OpenAPI 3.0 marks optional nulls with ``nullable: true``, which JSON Schema does not know: the
schemas are converted (``type: T`` becomes ``type: [T, "null"]``) before validation, and a test
shows the conversion is needed and not a blanket pass.
"""

from __future__ import annotations

import copy
import json
import os
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator, ValidationError

from notify_tui.provider.sandbox import SandboxApp

from .support import FROM, MESSAGES_PATH, FakeClock, number_with

MESSAGE_SCHEMA = "api.v2010.account.message"
REPOSITORY = Path(__file__).resolve().parents[2]


def spec_path() -> Path:
    shared = os.environ.get("NOTIFY_SHARED_DIR")
    base = Path(shared) if shared else REPOSITORY.parent / "shared"
    return base / "reference" / "twilio_api_v2010.json"


@cache
def spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.skip(f"Twilio's OpenAPI description is not at {path} (set NOTIFY_SHARED_DIR)")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (draft 4): ``nullable`` becomes a null type."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "x-twilio", "example", "examples"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = to_json_schema(value)
    if node.get("nullable") is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def converted_components() -> dict[str, Any]:
    converted: dict[str, Any] = to_json_schema(spec()["components"]["schemas"])
    return converted


def validator(schema: dict[str, Any], *, convert: bool = True) -> Draft4Validator:
    components = spec()["components"]["schemas"]
    if convert:
        components = converted_components()
        schema = to_json_schema(schema)
    root = {**schema, "components": {"schemas": components}}
    return Draft4Validator(root)


@cache
def message_validator(*, convert: bool = True, strict: bool = False) -> Draft4Validator:
    schema = copy.deepcopy(spec()["components"]["schemas"][MESSAGE_SCHEMA])
    if strict:
        # Twilio sends every field, even when null: hold the sandbox to that too.
        schema["required"] = sorted(schema["properties"])
        schema["additionalProperties"] = False
    return validator(schema, convert=convert)


def list_operation() -> dict[str, Any]:
    operation: dict[str, Any] = spec()["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]
    return operation


def list_validator() -> Draft4Validator:
    content = list_operation()["get"]["responses"]["200"]["content"]["application/json"]
    schema = copy.deepcopy(content["schema"])
    schema["required"] = sorted(schema["properties"])
    schema["additionalProperties"] = False
    return validator(schema)


# ------------------------------------------------------ the conversion itself


def test_twilio_examples_pass_the_converted_schema() -> None:
    create = list_operation()["post"]["responses"]["201"]["content"]["application/json"]
    example = create["examples"]["create"]["value"]
    message_validator().validate(example)
    page = list_operation()["get"]["responses"]["200"]["content"]["application/json"]
    for case in page["examples"].values():
        validator(page["schema"]).validate(case["value"])


def test_nullable_needs_converting() -> None:
    create = list_operation()["post"]["responses"]["201"]["content"]["application/json"]
    example = create["examples"]["create"]["value"]
    assert example["price"] is None
    with pytest.raises(ValidationError):
        message_validator(convert=False).validate(example)


@pytest.mark.parametrize(
    "change",
    [
        {"sid": "XX0123"},
        {"error_code": "30003"},
        {"status": "lost-in-space"},
        {"num_segments": 1},
        {"price": -0.0079},
        {"direction": None},
        {"account_sid": "AC123"},
    ],
)
def test_the_converted_schema_still_rejects_wrong_fields(change: dict[str, Any]) -> None:
    create = list_operation()["post"]["responses"]["201"]["content"]["application/json"]
    example = {**create["examples"]["create"]["value"], **change}
    with pytest.raises(ValidationError):
        message_validator().validate(example)


# ------------------------------------------------------------- the sandbox


def assert_twilio_message(message: dict[str, Any]) -> None:
    message_validator(strict=True).validate(message)
    for key in ("date_created", "date_sent", "date_updated"):
        if message[key] is not None:
            assert message[key].endswith(" +0000")
            assert parsedate_to_datetime(message[key]).utcoffset() is not None


async def test_every_stage_of_every_outcome_matches_the_schema(
    raw: httpx.AsyncClient, clock: FakeClock
) -> None:
    numbers = [
        number_with("delivered"),
        number_with("undelivered", 30003),
        number_with("failed", 30034),
        number_with("sent"),
    ]
    sids = []
    for to in numbers:
        response = await raw.post(MESSAGES_PATH, data={"To": to, "From": FROM, "Body": "hi"})
        assert response.status_code == 201
        assert_twilio_message(response.json())
        sids.append(response.json()["sid"])
    service = {"To": numbers[0], "MessagingServiceSid": "MG" + "1" * 32, "Body": "via service"}
    response = await raw.post(MESSAGES_PATH, data=service)
    assert response.json()["status"] == "accepted"
    assert_twilio_message(response.json())
    sids.append(response.json()["sid"])
    seen = set()
    for _ in range(100):
        clock.advance(0.1)
        for sid in sids:
            fetched = await raw.get(f"{MESSAGES_PATH[: -len('.json')]}/{sid}.json")
            assert fetched.status_code == 200
            assert_twilio_message(fetched.json())
            seen.add(fetched.json()["status"])
    assert seen >= {"queued", "sending", "sent", "delivered", "undelivered", "failed"}


async def test_list_pages_match_the_schema(raw: httpx.AsyncClient, clock: FakeClock) -> None:
    for i in range(5):
        to = number_with("delivered", prefix=f"+1{202 + i}555")
        await raw.post(MESSAGES_PATH, data={"To": to, "From": FROM, "Body": f"m{i}"})
        clock.advance(1)
    pages = 0
    url: str | None = f"{MESSAGES_PATH}?PageSize=2"
    while url:
        body = (await raw.get(url)).json()
        list_validator().validate(body)
        for message in body["messages"]:
            assert_twilio_message(message)
        url = body["next_page_uri"]
        pages += 1
    assert pages == 3
    empty = (await raw.get(MESSAGES_PATH, params={"To": "+19999999999"})).json()
    list_validator().validate(empty)
    assert empty["messages"] == [] and empty["next_page_uri"] is None


async def test_error_bodies_have_twilios_shape(app: SandboxApp, raw: httpx.AsyncClient) -> None:
    response = await raw.post(MESSAGES_PATH, data={"From": FROM, "Body": "no to"})
    Draft4Validator(
        {
            "type": "object",
            "required": ["code", "message", "more_info", "status"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "more_info": {"type": "string", "pattern": "^https://www.twilio.com/docs/errors/"},
                "status": {"type": "integer", "enum": [response.status_code]},
            },
        }
    ).validate(response.json())


def test_the_description_is_found_through_notify_shared_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOTIFY_SHARED_DIR", str(tmp_path))
    assert spec_path() == tmp_path / "reference" / "twilio_api_v2010.json"
    monkeypatch.delenv("NOTIFY_SHARED_DIR")
    assert spec_path() == REPOSITORY.parent / "shared" / "reference" / "twilio_api_v2010.json"
