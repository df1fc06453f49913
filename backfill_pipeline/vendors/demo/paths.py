"""Price and volume paths of the offline demo vendor: pure numpy, no calendar, no pandas.

A symbol's daily closes are a mean-reverting random walk around a drifting level, drawn
once over every calendar session; each session's minutes are a volatility-clustered
bridge from that session's open to its close. All randomness comes from generators seeded
by a stable hash, so a (seed, symbol, session) always yields the same minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# Draws per minute: return, log-volatility shock, high and low excursion, vwap position,
# volume noise, trade-count noise. Their order is part of the demo data's identity.
MINUTE_NORMALS = 7
# Daily closes revert to the drifting level with this half-life, which keeps a quarter
# century of walk inside a plausible price band (a pure walk would wander 100x).
REVERSION_HALF_LIFE_YEARS = 1.5
# The drifting level equals the symbol's base price on this date.
DRIFT_ANCHOR = np.datetime64("2020-01-01", "D")
# Minute log-volatility: AR(1) with this half-life (minutes) and stationary sd.
VOL_HALF_LIFE_MINUTES = 20.0
VOL_OF_VOL = 0.45
# Trading intensity of a pre- or after-market minute (extended hours), against ~0.7 for a
# quiet midday minute of the regular session: those hours carry ~7% of a session's volume.
OFF_HOURS_ACTIVITY = 0.05


def stable_seed(*parts: object) -> int:
    """A 64-bit seed that, unlike hash(), is the same in every process."""
    key = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


@dataclass(frozen=True)
class SymbolProfile:
    base_price: float  # level of the drifting mean on DRIFT_ANCHOR
    daily_vol: float  # sd of a session's log return
    drift: float  # log growth of the level per year
    dollar_volume: float  # typical traded value of one session
    trade_value: float  # typical value of one trade
    crypto: bool

    @property
    def sessions_per_year(self) -> int:
        return 365 if self.crypto else 252


def _log_uniform(u: float, low: float, high: float) -> float:
    return float(np.exp(np.log(low) + u * (np.log(high) - np.log(low))))


def symbol_profile(symbol: str, crypto: bool, illiquid: bool = False) -> SymbolProfile:
    """Deterministic traits of a symbol; independent of the seed so a symbol keeps its level."""
    u = np.random.default_rng(stable_seed("profile", symbol)).random(5)
    if crypto:
        price, vol = _log_uniform(u[0], 10_000, 70_000), 0.45 + 0.45 * u[1]
        drift, dollars, trade = 0.05 + 0.25 * u[2], _log_uniform(u[3], 5e8, 3e10), _log_uniform(u[4], 500, 5_000)
    else:
        price, vol = _log_uniform(u[0], 20, 500), 0.15 + 0.40 * u[1]
        drift, dollars, trade = 0.02 + 0.10 * u[2], _log_uniform(u[3], 2e8, 2e10), _log_uniform(u[4], 3_000, 20_000)
    if illiquid:
        # about one trade a minute, so a Poisson-like market leaves minutes empty
        dollars = trade * (1440 if crypto else 390) * 1.5
    periods = 365 if crypto else 252
    return SymbolProfile(price, vol / np.sqrt(periods), drift, dollars, trade, crypto)


def ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """x_t = phi * x_{t-1} + e_t along the last axis, by a log-depth prefix scan.

    A position only ever sums earlier shocks, so appending shocks (a longer calendar, a
    longer padded row) leaves every earlier value bit-identical.
    """
    x = shocks.astype("float64", copy=True)
    shift, weight = 1, phi
    while shift < x.shape[-1]:
        x[..., shift:] = x[..., shift:] + weight * x[..., :-shift]
        shift, weight = shift * 2, weight * weight
    return x


def daily_walk(profile: SymbolProfile, seed: int, symbol: str, sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log open and log close of every session (datetime64[D] labels, the whole calendar)."""
    n = len(sessions)
    z = np.random.default_rng(stable_seed(seed, symbol, "daily")).standard_normal((n, 2))
    phi = 0.5 ** (1.0 / (REVERSION_HALF_LIFE_YEARS * profile.sessions_per_year))
    shocks = profile.daily_vol * z[:, 0]
    if n:
        shocks[0] /= np.sqrt(1.0 - phi * phi)  # start in the stationary band, not at the level
    years = (sessions - DRIFT_ANCHOR).astype("float64") / 365.25
    level = np.log(profile.base_price) + profile.drift * years
    log_close = level + ar1(shocks, phi)
    # equities gap overnight; a crypto day ends where the next begins, give or take a tick
    gap = profile.daily_vol * (0.02 if profile.crypto else 0.25) * z[:, 1]
    prev_close = np.concatenate([level[:1], log_close[:-1]])
    return prev_close + gap, log_close


@dataclass
class MinuteBars:
    """Bars of a batch of sessions, flattened session by session, minute by minute."""

    session: np.ndarray  # row of the batch each bar belongs to
    minute: np.ndarray  # minutes since that session's open
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vwap: np.ndarray
    trades: np.ndarray


def _row_total(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    # cumsum is sequential, so a row's total does not depend on how much padding follows
    return np.cumsum(values, axis=1)[np.arange(len(lengths)), lengths - 1]


def _activity(
    profile: SymbolProfile, lengths: np.ndarray, width: int, regular: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Relative trading intensity per minute: a U for equities, a daily swell for crypto.

    `regular`: minutes since the open at which each session's regular hours start and end,
    when the session includes extended hours; the U spans the regular hours and the
    minutes outside them trade at OFF_HOURS_ACTIVITY.
    """
    i = np.arange(width, dtype="float64")[None, :]
    if profile.crypto:
        # busiest when Europe and America overlap (~15:00 UTC)
        return np.broadcast_to(1.0 + 0.35 * np.cos(2 * np.pi * (i / 1440.0 - 15.0 / 24.0)), (len(lengths), width))
    if regular is None:
        to_close = np.maximum((lengths[:, None] - 1) - i, 0)  # an early close gets its own closing rush
        return 0.7 + 2.2 * np.exp(-i / 25.0) + 1.5 * np.exp(-to_close / 15.0) + 2.0 * (to_close == 0)
    start, end = regular[0][:, None], regular[1][:, None]
    since_open = np.maximum(i - start, 0)
    to_close = np.maximum((end - 1) - i, 0)
    u = 0.7 + 2.2 * np.exp(-since_open / 25.0) + 1.5 * np.exp(-to_close / 15.0) + 2.0 * (i == end - 1)
    return np.where((i >= start) & (i < end), u, OFF_HOURS_ACTIVITY)


def minute_bars(
    profile: SymbolProfile,
    log_open: np.ndarray,
    log_close: np.ndarray,
    lengths: np.ndarray,
    normals: np.ndarray,
    uniforms: np.ndarray,
    no_trade_share: float,
    regular: tuple[np.ndarray, np.ndarray] | None = None,
) -> MinuteBars:
    """Minute bars of a batch of sessions.

    normals has shape (sessions, MINUTE_NORMALS, width) and uniforms (sessions, width), both
    padded past each session's length; a minute whose uniform falls below no_trade_share
    has no trades and so no bar. `regular`: see _activity (None: the whole session is regular).
    """
    rows, width = len(lengths), uniforms.shape[1]
    live = np.arange(width)[None, :] < lengths[:, None]
    z_ret, z_vol, z_hi, z_lo, z_vwap, z_volume, z_trades = (normals[:, k, :] for k in range(MINUTE_NORMALS))
    activity = _activity(profile, lengths, width, regular)

    phi = 0.5 ** (1.0 / VOL_HALF_LIFE_MINUTES)
    shocks = VOL_OF_VOL * np.sqrt(1.0 - phi * phi) * z_vol
    shocks[:, 0] = VOL_OF_VOL * z_vol[:, 0]  # the first minute already in the stationary band
    regime = np.exp(ar1(shocks, phi) - VOL_OF_VOL**2 / 2)
    minutes_per_day = 1440 if profile.crypto else 390
    sigma = profile.daily_vol / np.sqrt(minutes_per_day) * np.sqrt(activity) * regime * live

    # A bridge on the variance clock: ends exactly at the daily close, wiggles where sigma is high.
    walk = np.cumsum(sigma * z_ret, axis=1)
    clock = np.cumsum(sigma * sigma, axis=1)
    last = np.arange(rows), lengths - 1
    miss = (walk[last] - (log_close - log_open))[:, None]
    path = log_open[:, None] + walk - clock / clock[last][:, None] * miss
    points = np.concatenate([np.exp(log_open)[:, None], np.exp(path)], axis=1).round(2)
    o, c = points[:, :-1], points[:, 1:]
    hi = np.maximum(np.maximum(o, c) * np.exp(0.6 * sigma * np.abs(z_hi)), 0.01).round(2)
    lo = np.maximum(np.minimum(o, c) * np.exp(-0.6 * sigma * np.abs(z_lo)), 0.01).round(2)
    hi, lo = np.maximum(hi, np.maximum(o, c)), np.minimum(lo, np.minimum(o, c))
    vwap = np.clip(((o + c) / 2 + 0.2 * (hi - lo) * z_vwap).round(4), lo, hi)

    mid = np.exp((log_open + log_close) / 2)
    share = activity / _row_total(activity * live, lengths)[:, None]
    units = profile.dollar_volume / mid[:, None] * share * regime * np.exp(0.35 * z_volume - 0.35**2 / 2)
    units = np.maximum(units.round(0 if not profile.crypto else 4), 1.0 if not profile.crypto else 1e-4)
    trades = np.maximum(np.rint(units * vwap / profile.trade_value * np.exp(0.25 * z_trades)), 1.0)
    if not profile.crypto:
        trades = np.minimum(trades, units)  # a trade is at least one share

    keep = live & (uniforms >= no_trade_share)
    session, minute = np.nonzero(keep)
    return MinuteBars(
        session=session,
        minute=minute,
        open=o[keep],
        high=hi[keep],
        low=lo[keep],
        close=c[keep],
        volume=units[keep],
        vwap=vwap[keep],
        trades=trades[keep].astype("int64"),
    )


def session_totals(bars: MinuteBars) -> MinuteBars:
    """One bar per session present in `bars`, aggregated as resample.aggregate does."""
    if len(bars.session) == 0:
        return bars
    starts = np.flatnonzero(np.r_[True, bars.session[1:] != bars.session[:-1]])
    ends = np.r_[starts[1:], len(bars.session)] - 1
    volume = np.add.reduceat(bars.volume, starts)
    return MinuteBars(
        session=bars.session[starts],
        minute=np.zeros(len(starts), dtype="int64"),
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=bars.close[ends],
        volume=volume,
        vwap=np.add.reduceat(bars.vwap * bars.volume, starts) / volume,
        trades=np.add.reduceat(bars.trades, starts),
    )
