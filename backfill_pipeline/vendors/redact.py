"""Keep API keys out of everything we log, raise or store.

Vendors take keys in the query string (apiKey, api_token, api_key) or an Authorization
header, so every URL and message leaving a client goes through `Redactor.scrub`: it masks
those parameters by name and, belt and braces, any occurrence of a known key's value.
httpx itself logs full request URLs at INFO, so its loggers get a redacting filter too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
SENSITIVE_PARAMS: tuple[str, ...] = ("apikey", "api_key", "api_token", "token", "apitoken", "access_token")

_NAMES = "|".join(re.escape(p) for p in SENSITIVE_PARAMS)
_PARAM_RE = re.compile(r"(?i)(?P<name>\b(?:" + _NAMES + r"))(?P<sep>=|%3D)(?P<value>[^&#\s'\"<>]*)")
_AUTH_RE = re.compile(r"(?i)(?P<name>authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|token|basic)\s+)?[^\s\"',}]+")


def redact_url(text: str) -> str:
    """Mask the values of sensitive query parameters (and Authorization headers) in `text`."""
    text = _PARAM_RE.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", text)
    return _AUTH_RE.sub(lambda m: f"{m.group('name')}{MASK}", text)


class Redactor:
    """Masks sensitive parameters and the exact values of the keys it was given."""

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a key that contains another key is masked whole. Values under
        # 6 characters are not scrubbed by value (they would mask ordinary words); the
        # parameter-name rule still masks them wherever they travel as a parameter.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        text = redact_url(text)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with sensitive query parameters masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  a malformed record is not ours to fix; leave it alone
            return True
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# httpx logs "HTTP Request: GET <full url>" at INFO; httpcore's loggers are listed too in
# case a future version starts logging URLs. Filters on a logger only see records created
# by that exact logger, hence the explicit list.
_THIRD_PARTY_LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection")
_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Idempotently attach the redacting filter to httpx's loggers."""
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
