"""The interface every vendor client implements, real or offline.

Clients are plain Python (no Dagster imports). They return bars as the typed frame of
`backfill_pipeline.bars` (BAR_COLUMNS, UTC `ts`, sorted and unique).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd


@dataclass
class FetchResult:
    bars: pd.DataFrame
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)


class VendorError(RuntimeError):
    """A fetch that failed for good; the message names vendor, symbol and window, never a key.

    `records` holds the requests the failed fetch made (trace.RequestRecord, redacted), so
    the audit counts them too: they cost budget like any other request.
    """

    permanent = False  # True: re-running the same request cannot help (retrying wastes budget)

    def __init__(self, vendor: str, symbol: str, window: str, reason: str):
        self.vendor, self.symbol, self.window, self.reason = vendor, symbol, window, reason
        self.records: list = []  # list[trace.RequestRecord]; typed loosely: trace imports nothing from here
        super().__init__(f"{vendor}: {symbol} {window}: {reason}")


class RateLimitedError(VendorError):
    """Every key's budget stayed spent past the configured wait bound."""


class AuthError(VendorError):
    """Every key of the pool was refused (401/403 meaning "this key is not valid"); the
    message names keys by position only and quotes the vendor's (redacted) words."""

    permanent = True


class PlanError(VendorError):
    """The key is valid but its plan does not cover this request (Polygon 403 "not
    entitled", EODHD 403 "Only EOD data allowed for free users", EODHD 402 for a product
    outside the plan, EODHD's 200 answer cut to one year with a `warning`). The message
    quotes the vendor. Other keys are not burnt on it: they share the plan."""

    permanent = True


class BarsClient(Protocol):
    vendor: str
    # How long after a session's close the vendor's bars are final (corrections applied).
    finalization_delay: pd.Timedelta

    def fetch_bars(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        """Bars of `symbol` with start <= ts < end (UTC instants; for 1d, session labels)."""
        ...

    def close(self) -> None: ...
