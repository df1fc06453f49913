"""The bar frame: the one schema every vendor client returns and every store reads and writes.

Columns BAR_COLUMNS; `ts` a tz-aware UTC datetime64 column holding the bar's start (for 1d
bars: the session date at 00:00 UTC), sorted ascending and unique.
"""

from __future__ import annotations

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
