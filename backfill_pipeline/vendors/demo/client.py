"""The offline demo vendor: synthetic but realistic bars on the market's real calendar.

It is the pipeline's default vendor, so everything runs with no API key and no network.
Bars exist only inside sessions in the market's hours (XNYS regular or extended hours, with
early closes and DST; crypto UTC days), never in the future of `now`, and a (seed, symbol,
minute) always yields the same bar, so fetching a window whole or in chunks gives identical
rows. Coarser timeframes are aggregates of the 1m bars on the calendar's bins, as the
pipeline derives them. With extended hours, pre- and after-market minutes trade thinly
(paths.OFF_HOURS_ACTIVITY).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backfill_pipeline.bars import empty_bars, normalize_bars
from backfill_pipeline.markets import Market, schedule_bounds, with_hours
from backfill_pipeline.resample import resample_bars
from backfill_pipeline.timeframes import TIMEFRAMES
from backfill_pipeline.vendors.base import FetchResult, VendorError
from backfill_pipeline.vendors.demo.paths import (
    MINUTE_NORMALS,
    MinuteBars,
    daily_walk,
    minute_bars,
    session_totals,
    stable_seed,
    symbol_profile,
)

_MINUTE_NS = 60 * 10**9
# Sessions generated per numpy pass: bounds memory (a crypto session is 1440 minutes).
_BATCH_SESSIONS = 64
SERVED_TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")


@dataclass
class DemoConfig:
    seed: int = 0
    # Minutes without trades have no bar at all, as with Polygon.
    illiquid_symbols: frozenset[str] = frozenset()
    no_trade_share: float = 0.3
    # (symbol, 'YYYY-MM-DD') sessions the vendor knows nothing about, to exercise gap handling.
    drop_sessions: frozenset[tuple[str, str]] = frozenset()
    fail_symbols: frozenset[str] = frozenset()
    finalization_delay_minutes: int = 0


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class DemoClient:
    vendor = "demo"

    def __init__(
        self,
        market: Market,
        config: DemoConfig | None = None,
        now: Callable[[], pd.Timestamp] | None = None,
    ) -> None:
        self.market = market
        self.config = config or DemoConfig()
        self.finalization_delay = pd.Timedelta(minutes=self.config.finalization_delay_minutes)
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        opens, closes = schedule_bounds(market)
        self._labels = opens.index.to_numpy().astype("datetime64[D]")
        self._opens, self._closes = _ns(opens), _ns(closes)
        # minutes since the session open at which the regular session starts and ends
        self._regular: tuple[np.ndarray, np.ndarray] | None = None
        if market.extended_hours:
            regular_opens, regular_closes = (_ns(s) for s in schedule_bounds(with_hours(market, "regular")))
            self._regular = ((regular_opens - self._opens) // _MINUTE_NS, (regular_closes - self._opens) // _MINUTE_NS)
        self._walks: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        self._walks.clear()

    def fetch_bars(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        start, end = _utc(start), _utc(end)
        window = f"{timeframe} {start.isoformat()}..{end.isoformat()}"
        if timeframe not in SERVED_TIMEFRAMES:
            raise VendorError(
                self.vendor, symbol, window, f"unsupported timeframe; served: {', '.join(SERVED_TIMEFRAMES)}"
            )
        if symbol in self.config.fail_symbols:
            raise VendorError(self.vendor, symbol, window, "injected failure")
        now = _utc(self._now()).value
        if TIMEFRAMES[timeframe].daily:
            bars = self._daily(symbol, start, end, now)
        else:
            bars = self._intraday(symbol, timeframe, start, end, now)
        request_id = hashlib.blake2b(f"{self.config.seed}|{symbol}|{window}".encode(), digest_size=6).hexdigest()
        return FetchResult(bars=bars, requests=1, request_ids=[f"demo-{request_id}"])

    def _intraday(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp, now: int) -> pd.DataFrame:
        # whole sessions overlapping the window: minutes are seeded per session, and a
        # coarser bin needs all of its minutes
        first = int(np.searchsorted(self._closes, start.value, side="right"))
        stop = int(np.searchsorted(self._opens, min(end.value, now), side="left"))
        rows = np.arange(first, max(first, stop))
        minutes = self._minutes(symbol, rows, self._bin_cutoff(now, TIMEFRAMES[timeframe].minutes or 1))
        bars = minutes if timeframe == "1m" else resample_bars(self.market, minutes, timeframe)
        keep = (bars["ts"] >= start) & (bars["ts"] < end)
        return bars.loc[keep].reset_index(drop=True)

    def _daily(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp, now: int) -> pd.DataFrame:
        labels = self._labels.astype("datetime64[ns]")
        first = int(np.searchsorted(labels, start.tz_localize(None).to_datetime64(), side="left"))
        stop = int(np.searchsorted(labels, end.tz_localize(None).to_datetime64(), side="left"))
        rows = np.arange(first, max(first, stop))
        rows = rows[self._closes[rows] <= now]  # a daily bar exists once its session has closed
        # aggregated in numpy rather than by resample_bars: decades of 1d would cost seconds
        frames = []
        for batch, minutes in self._batches(symbol, rows):
            days = session_totals(minutes)
            ts = self._labels[batch][days.session].astype("datetime64[ns]").view("int64")
            frames.append(_frame(ts, days))
        return normalize_bars(pd.concat(frames, ignore_index=True)) if frames else empty_bars()

    def _bin_cutoff(self, now: int, width_minutes: int) -> int:
        """Earliest bar start not yet complete at `now`: the open of its bin in the live session."""
        row = int(np.searchsorted(self._opens, now, side="right")) - 1
        if row < 0 or now >= self._closes[row]:
            return now - _MINUTE_NS + 1  # between sessions every generated bar has ended
        width = width_minutes * _MINUTE_NS
        return int(self._opens[row] + (now - self._opens[row]) // width * width)

    def _walk(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        if symbol not in self._walks:
            profile = symbol_profile(symbol, self.market.is_24_7, symbol in self.config.illiquid_symbols)
            self._walks[symbol] = daily_walk(profile, self.config.seed, symbol, self._labels)
        return self._walks[symbol]

    def _minutes(self, symbol: str, rows: np.ndarray, cutoff: int) -> pd.DataFrame:
        """1m bars of the calendar sessions at `rows` that start before `cutoff` (ns)."""
        frames = []
        for batch, minutes in self._batches(symbol, rows):
            ts = self._opens[batch][minutes.session] + minutes.minute * _MINUTE_NS
            frames.append(_frame(ts, minutes, ts < cutoff))
        return normalize_bars(pd.concat(frames, ignore_index=True)) if frames else empty_bars()

    def _batches(self, symbol: str, rows: np.ndarray) -> Iterator[tuple[np.ndarray, MinuteBars]]:
        """Minute bars of the sessions at `rows`, a bounded batch of sessions at a time."""
        dropped = {day for sym, day in self.config.drop_sessions if sym == symbol}
        days = np.datetime_as_string(self._labels[rows], unit="D")
        rows = rows[np.array([day not in dropped for day in days], dtype=bool)]
        if len(rows) == 0:
            return
        illiquid = symbol in self.config.illiquid_symbols
        profile = symbol_profile(symbol, self.market.is_24_7, illiquid)
        log_open, log_close = self._walk(symbol)
        share = self.config.no_trade_share if illiquid else 0.0
        for batch in np.array_split(rows, -(-len(rows) // _BATCH_SESSIONS)):
            lengths = ((self._closes[batch] - self._opens[batch]) // _MINUTE_NS).astype("int64")
            regular = None if self._regular is None else (self._regular[0][batch], self._regular[1][batch])
            width = int(lengths.max())
            normals = np.zeros((len(batch), MINUTE_NORMALS, width))
            uniforms = np.ones((len(batch), width))
            # one generator per session, so a session's minutes ignore which others were asked for
            for k, (row, n) in enumerate(zip(batch, lengths, strict=True)):
                day = np.datetime_as_string(self._labels[row], unit="D")
                rng = np.random.default_rng(stable_seed(self.config.seed, symbol, day))
                normals[k, :, :n] = rng.standard_normal((MINUTE_NORMALS, n))
                uniforms[k, :n] = rng.random(n)
            yield batch, minute_bars(profile, log_open[batch], log_close[batch], lengths, normals, uniforms, share,
                                     regular)


def _ns(instants: pd.Series) -> np.ndarray:
    """UTC instants as int64 ns: searchsorted on tz-aware columns goes through objects."""
    return instants.dt.tz_localize(None).to_numpy("datetime64[ns]").view("int64")


def _frame(ts: np.ndarray, bars: MinuteBars, keep: np.ndarray | None = None) -> pd.DataFrame:
    keep = np.ones(len(ts), dtype=bool) if keep is None else keep
    columns = {name: getattr(bars, name)[keep] for name in ("open", "high", "low", "close", "volume", "vwap", "trades")}
    return pd.DataFrame({"ts": pd.to_datetime(ts[keep], utc=True), **columns})
