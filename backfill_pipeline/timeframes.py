"""Bar timeframes and which of them are fetched from a vendor or derived by resampling."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeframe:
    name: str
    minutes: int | None  # bin length for intraday timeframes; None for 1d and 1w

    @property
    def intraday(self) -> bool:
        return self.minutes is not None


TIMEFRAMES: dict[str, Timeframe] = {
    tf.name: tf
    for tf in (
        Timeframe("1m", 1),
        Timeframe("5m", 5),
        Timeframe("15m", 15),
        Timeframe("30m", 30),
        Timeframe("1h", 60),
        Timeframe("4h", 240),
        Timeframe("1d", None),
        Timeframe("1w", None),
    )
}
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
    if "1w" in fetched:
        raise ValueError("1w cannot be fetched: it is always derived from 1d by exchange week")
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
        elif tf.name == "1d":
            if not fetched_intraday:
                raise ValueError("1d must be fetched when no intraday timeframe is fetched")
            sources["1d"] = fetched_intraday[0].name
        else:
            sources["1w"] = "1d"
    return sources
