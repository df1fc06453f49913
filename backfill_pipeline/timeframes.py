"""Bar timeframes and which of them are fetched from a vendor or derived by resampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TimeframeKind = Literal["intraday", "daily", "weekly"]
KINDS: tuple[TimeframeKind, ...] = ("intraday", "daily", "weekly")


@dataclass(frozen=True)
class Timeframe:
    """A bar timeframe and its kind: intraday bins of `minutes` inside a session, one bar per
    session (daily, labelled with the session date) or one bar per exchange week (weekly,
    labelled with the week's first session)."""

    name: str
    minutes: int | None  # bin length for intraday timeframes; None for daily and weekly
    kind: TimeframeKind = "intraday"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"timeframe {self.name}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if (self.minutes is not None) != (self.kind == "intraday"):
            raise ValueError(f"timeframe {self.name}: an intraday timeframe has minutes, a {self.kind} one none")

    @property
    def intraday(self) -> bool:
        return self.kind == "intraday"

    @property
    def daily(self) -> bool:
        return self.kind == "daily"

    @property
    def weekly(self) -> bool:
        return self.kind == "weekly"

    @property
    def dated(self) -> bool:
        """Daily or weekly: the bar's timestamp is a session date (00:00 UTC), not a time of day."""
        return not self.intraday


TIMEFRAMES: dict[str, Timeframe] = {
    tf.name: tf
    for tf in (
        Timeframe("1m", 1),
        Timeframe("5m", 5),
        Timeframe("15m", 15),
        Timeframe("30m", 30),
        Timeframe("1h", 60),
        Timeframe("4h", 240),
        Timeframe("1d", None, "daily"),
        Timeframe("1w", None, "weekly"),
    )
}
DAILY = next(tf for tf in TIMEFRAMES.values() if tf.daily)  # 1d: the source of the weekly bars
WEEKLY = next(tf for tf in TIMEFRAMES.values() if tf.weekly)  # 1w
TIMEFRAME_NAMES: tuple[str, ...] = tuple(TIMEFRAMES)  # by duration, 1m first


def duration_rank(name: str) -> int:
    """Sort key ordering timeframe names by duration (1m 5m 15m 30m 1h 4h 1d 1w), not text;
    unknown names last."""
    return TIMEFRAME_NAMES.index(name) if name in TIMEFRAMES else len(TIMEFRAME_NAMES)
DEFAULT_FETCHED: tuple[str, ...] = ("1m", "1d")


class UnknownTimeframeError(ValueError):
    pass


def get_timeframe(name: str) -> Timeframe:
    try:
        return TIMEFRAMES[name]
    except KeyError:
        raise UnknownTimeframeError(
            f"unknown timeframe {name!r}; known timeframes: {', '.join(TIMEFRAME_NAMES)}"
        ) from None


def derivation_sources(fetched: tuple[str, ...]) -> dict[str, str | None]:
    """Map every timeframe to the timeframe it is resampled from (None: fetched).

    An intraday timeframe comes from the coarsest fetched intraday timeframe whose bins
    nest inside its own; 1d from the finest fetched intraday timeframe; 1w from 1d.
    """
    for name in fetched:
        get_timeframe(name)
    if any(TIMEFRAMES[n].weekly for n in fetched):
        raise ValueError(f"{WEEKLY.name} cannot be fetched: it is always derived from {DAILY.name} by exchange week")
    fetched_intraday = sorted(
        (TIMEFRAMES[n] for n in fetched if TIMEFRAMES[n].intraday), key=lambda t: t.minutes or 0
    )
    sources: dict[str, str | None] = {}
    for tf in TIMEFRAMES.values():
        if tf.name in fetched:
            sources[tf.name] = None
        elif tf.intraday:
            assert tf.minutes is not None
            finer = [f for f in fetched_intraday if f.minutes and tf.minutes % f.minutes == 0 and f.minutes < tf.minutes]
            if not finer:
                raise ValueError(
                    f"timeframe {tf.name} is neither fetched nor derivable from a fetched "
                    f"timeframe (fetched: {', '.join(fetched)})"
                )
            sources[tf.name] = finer[-1].name
        elif tf.daily:
            if not fetched_intraday:
                raise ValueError(f"{tf.name} must be fetched when no intraday timeframe is fetched")
            sources[tf.name] = fetched_intraday[0].name
        else:
            sources[tf.name] = DAILY.name
    return sources
