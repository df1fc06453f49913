"""Feature window lengths (configuration) and the warm-up and lookback they imply.

Warm-up: the leading bars of a series on which some feature is still undefined (NaN).
Lookback: the bars read before a partition's first bar. EMAs and Wilder's ATR are
recursive, so their value depends on the whole past; after `n` bars the seed's weight
has decayed to (1 - alpha)^n. The default lookback makes that weight < CONVERGENCE, so a
partition's first bar equals the value computed over the whole history to ~1e-8 relative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

CONVERGENCE = 1e-8
ENV_WINDOWS = "BACKFILL_FEATURE_WINDOWS"
ENV_LOOKBACK = "BACKFILL_FEATURE_LOOKBACK_BARS"


@dataclass(frozen=True)
class FeatureWindows:
    vol: int = 20  # realised volatility: rolling sd of log returns
    atr: int = 14  # Wilder's average true range
    ema_fast: int = 12
    ema_slow: int = 26
    slope: int = 5  # bars over which the slow EMA's slope is measured
    volume: int = 20  # volume z-score window
    lookback: int | None = None  # bars read before a partition; None derives it

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "lookback" and (not isinstance(value, int) or value < 1):
                raise ValueError(f"feature window {f.name}={value!r} must be a whole number >= 1")
        if min(self.vol, self.volume) < 2:
            raise ValueError("feature windows vol and volume must be >= 2 (a standard deviation needs two bars)")
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"ema_fast ({self.ema_fast}) must be shorter than ema_slow ({self.ema_slow})")
        if self.lookback is not None and self.lookback < self.warmup_bars:
            raise ValueError(f"feature lookback {self.lookback} is shorter than the warm-up of {self.warmup_bars} bars")

    @property
    def warmup_bars(self) -> int:
        """Leading bars of a series on which some feature may be NaN."""
        return max(self.vol, self.atr - 1, self.ema_slow - 1 + self.slope, self.volume - 1, 1)

    @property
    def lookback_bars(self) -> int:
        if self.lookback is not None:
            return self.lookback
        slowest = max(_decay_bars(2.0 / (self.ema_slow + 1)), _decay_bars(1.0 / self.atr))
        return self.warmup_bars + slowest

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FeatureWindows:
        """BACKFILL_FEATURE_WINDOWS="vol=20,atr=14,..." and BACKFILL_FEATURE_LOOKBACK_BARS=300."""
        values: dict[str, int | None] = {}
        names = {f.name for f in fields(cls)} - {"lookback"}
        for item in (env.get(ENV_WINDOWS) or "").split(","):
            if not item.strip():
                continue
            name, _, raw = item.partition("=")
            name = name.strip().lower()
            if name not in names:
                raise ValueError(f"{ENV_WINDOWS}: unknown window {name!r}; known: {', '.join(sorted(names))}")
            values[name] = _int(ENV_WINDOWS, name, raw)
        if (env.get(ENV_LOOKBACK) or "").strip():
            values["lookback"] = _int(ENV_LOOKBACK, "lookback", env[ENV_LOOKBACK])
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{ENV_WINDOWS}/{ENV_LOOKBACK}: {exc}") from None


def _decay_bars(alpha: float) -> int:
    return math.ceil(math.log(CONVERGENCE) / math.log(1.0 - alpha))


def _int(var: str, name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{var}: {name}={raw.strip()!r} is not a whole number") from None
