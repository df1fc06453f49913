"""The interface every vendor client implements, real or offline.

Clients are plain Python (no Dagster imports). They return bars as a typed frame:
columns BAR_COLUMNS, `ts` a tz-aware UTC datetime64 column holding the bar's start
(for 1d bars: the session date at 00:00 UTC), sorted ascending and unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

BAR_COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume", "vwap", "trades")


def empty_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
            **{c: pd.Series([], dtype="float64") for c in ("open", "high", "low", "close", "volume", "vwap")},
            "trades": pd.Series([], dtype="Int64"),
        }
    )


def normalize_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a client's frame to the BAR_COLUMNS schema (missing vwap/trades become NA)."""
    out = pd.DataFrame({"ts": pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")})
    for col in ("open", "high", "low", "close", "volume"):
        out[col] = frame[col].astype("float64").to_numpy()
    out["vwap"] = frame["vwap"].astype("float64").to_numpy() if "vwap" in frame else np.nan
    out["trades"] = (
        pd.array(frame["trades"], dtype="Int64") if "trades" in frame else pd.array([pd.NA] * len(frame), dtype="Int64")
    )
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


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
