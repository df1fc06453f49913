"""What a vendor's response means: the decoded body, the rows it holds, the vendor's own
words in an error body, and the verdict a vendor's error semantics give about the key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True)
class Verdict:
    """What an error response means for the key that sent it.

    refused: the key itself is not valid (park it everywhere, move to the next key);
    plan: the key is valid but its plan does not cover this (fail, park nothing);
    quota: this key's quota is spent (park it for `park_s` seconds, other keys carry on).
    """

    kind: str
    park_s: float | None = None


# A vendor's reading of an error response (status, the vendor's redacted words) -> Verdict;
# None falls back to: 401/403 refused, 429 throttled, 5xx retried, other 4xx fatal.
ResponseJudge = Callable[[httpx.Response, str], Verdict | None]


def vendor_words(response: httpx.Response, scrub: Callable[[str], str]) -> str:
    """What the vendor said in an error body, scrubbed and cut to 300 characters: the
    message field of a JSON body (message / error / error_message / msg / warning), else
    the body's text."""
    text = response.text.strip()
    try:
        body = orjson.loads(response.content) if text else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for name in ("message", "error", "error_message", "msg", "warning", "errors"):
            if body.get(name):
                text = str(body[name])
                if name == "msg" and "code" in body:
                    text = f"{text} (code {body['code']})"
                break
    elif text.startswith("<"):
        text = "an HTML page"  # a proxy's or WAF's page says nothing useful, whole
    return scrub(" ".join(text.split()))[:300]


def decode_body(response: httpx.Response, decoder: Callable[[bytes], Any] | None = None) -> tuple[Any, str | None]:
    content = response.content
    if not content.strip():
        return None, "empty body"
    try:
        return (decoder or orjson.loads)(content), None
    except (ValueError, UnicodeDecodeError) as exc:
        # a typed decoder names the field (`Expected float, got str - at $.results[3].o`), never a value
        where = f"at byte {exc.pos} of {len(content)}" if hasattr(exc, "pos") else f"{exc} ({len(content)} bytes)"
        return None, f"undecodable JSON body ({type(exc).__name__} {where})"


def count_rows(body: Any, rows_key: str | None) -> int | None:
    if isinstance(body, list):
        return len(body)
    if rows_key and isinstance(body, dict) and isinstance(body.get(rows_key), list):
        return len(body[rows_key])
    return 0 if rows_key and isinstance(body, dict) else None
