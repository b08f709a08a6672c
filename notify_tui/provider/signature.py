"""Twilio's request signature (``X-Twilio-Signature``), as pure functions.

Twilio signs each webhook (a message status callback among them) with the account's auth token:
base64 of HMAC-SHA1 over the URL it called, exactly as given (scheme, host, port, path and query
string), followed by every POST parameter's name and value, names sorted, nothing between them.
The sandbox signs its callbacks with ``twilio_signature``; a receiver checks with
``signature_matches`` against the URL Twilio was given (its configured public URL, never the
Host header it sees behind a proxy).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["SIGNATURE_HEADER", "signature_matches", "twilio_signature"]

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
"""POST parameters: a mapping (a value may be a list, for a repeated name) or (name, value)
pairs, as a form parser gives them."""


def twilio_signature(auth_token: str, url: str, params: Params = ()) -> str:
    """The ``X-Twilio-Signature`` Twilio sends when it POSTs ``params`` to ``url``.

    Names are sorted; a repeated name contributes each of its values, sorted, as Twilio's
    helper libraries do.
    """
    payload = url + "".join(name + value for name, value in _sorted_pairs(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(auth_token: str, url: str, params: Params, signature: str | None) -> bool:
    """True when ``signature`` is Twilio's for this request; compared in constant time."""
    if not signature or not auth_token:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def _sorted_pairs(params: Params) -> list[tuple[str, str]]:
    values: dict[str, list[str]] = {}
    items: Iterable[tuple[str, str | Sequence[str]]] = (
        params.items() if isinstance(params, Mapping) else params
    )
    for name, value in items:
        bucket = values.setdefault(name, [])
        if isinstance(value, str):
            bucket.append(value)
        else:
            bucket.extend(value)
    return [(name, value) for name in sorted(values) for value in sorted(values[name])]
