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
    """A fetch that failed for good; the message names vendor, symbol and window, never a key."""

    def __init__(self, vendor: str, symbol: str, window: str, reason: str):
        self.vendor, self.symbol, self.window, self.reason = vendor, symbol, window, reason
        super().__init__(f"{vendor}: {symbol} {window}: {reason}")


class RateLimitedError(VendorError):
    """Every key's budget stayed spent past the configured wait bound."""


class AuthError(VendorError):
    """The vendor refused a key (401/403); the message names the key by position only."""


class BarsClient(Protocol):
    vendor: str
    # How long after a session's close the vendor's bars are final (corrections applied).
    finalization_delay: pd.Timedelta

    def fetch_bars(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        """Bars of `symbol` with start <= ts < end (UTC instants; for 1d, session labels)."""
        ...

    def close(self) -> None: ...
