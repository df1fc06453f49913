"""Which macro series are fetched, what each is called in the daily table, how stale it may be.

The series list is configuration: BACKFILL_MACRO_REQUIRED and BACKFILL_MACRO_OPTIONAL are
comma-separated FRED series ids. An id outside the catalogue needs its frequency
(`DEXUSEU@daily`); `ID:yoy` adds the year-over-year change (%) of a monthly or quarterly
series as its own field. Staleness (BACKFILL_MACRO_STALENESS, calendar days per
frequency) bounds how far a value is carried forward in the daily table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FREQUENCIES: tuple[str, ...] = ("daily", "weekly", "monthly", "quarterly")
MACRO_VENDORS: tuple[str, ...] = ("demo", "fred")
DEFAULT_STALENESS: tuple[tuple[str, int], ...] = (("daily", 5), ("weekly", 12), ("monthly", 100), ("quarterly", 230))
# a year-over-year value needs the observation a year before the oldest one shown
YOY_EXTRA_DAYS = 370


@dataclass(frozen=True)
class SeriesInfo:
    field: str
    frequency: str
    description: str


CATALOGUE: dict[str, SeriesInfo] = {
    "DFF": SeriesInfo("fed_funds", "daily", "Effective federal funds rate, % (7 days a week)"),
    "VIXCLS": SeriesInfo("vix", "daily", "CBOE VIX close, index points"),
    # FRED has no ICE US Dollar Index (DXY); the Fed's broad trade-weighted index stands in.
    "DTWEXBGS": SeriesInfo("usd_broad", "daily", "Nominal broad US dollar index (Fed), Jan 2006 = 100"),
    "DGS2": SeriesInfo("ust_2y", "daily", "2-year Treasury constant-maturity yield, %"),
    "DGS10": SeriesInfo("ust_10y", "daily", "10-year Treasury constant-maturity yield, %"),
    "T10Y2Y": SeriesInfo("ust_10y_2y", "daily", "10-year minus 2-year Treasury spread, percentage points"),
    "BAMLC0A4CBBBEY": SeriesInfo("bbb_yield", "daily", "ICE BofA BBB US corporate index effective yield, %"),
    "A191RL1Q225SBEA": SeriesInfo("gdp_growth", "quarterly", "Real GDP growth, % annualised (quarter start)"),
    "CPIAUCSL": SeriesInfo("cpi", "monthly", "CPI, all urban consumers, SA, 1982-84 = 100 (month start)"),
}
DEFAULT_REQUIRED: tuple[str, ...] = ("DFF", "VIXCLS", "DTWEXBGS", "DGS2", "DGS10", "T10Y2Y", "BAMLC0A4CBBBEY")
DEFAULT_OPTIONAL: tuple[str, ...] = ("A191RL1Q225SBEA", "CPIAUCSL", "CPIAUCSL:yoy")


@dataclass(frozen=True)
class MacroField:
    """One column of the daily table: a series as fetched, or its year-over-year change."""

    series_id: str
    field: str
    frequency: str
    required: bool
    yoy: bool = False


@dataclass(frozen=True)
class MacroConfig:
    vendor: str = "demo"
    required: tuple[str, ...] = DEFAULT_REQUIRED
    optional: tuple[str, ...] = DEFAULT_OPTIONAL
    staleness_days: tuple[tuple[str, int], ...] = DEFAULT_STALENESS

    def __post_init__(self) -> None:
        if self.vendor not in MACRO_VENDORS:
            raise ValueError(f"BACKFILL_MACRO_VENDOR={self.vendor!r}: expected one of {', '.join(MACRO_VENDORS)}")
        fields = self.fields()  # validates every entry
        names = [f.field for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"macro series configured twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")

    def fields(self) -> list[MacroField]:
        return [parse_entry(e, True) for e in self.required] + [parse_entry(e, False) for e in self.optional]

    def series(self) -> dict[str, str]:
        """Fetched series id -> frequency (a yoy field fetches its base series)."""
        return {f.series_id: f.frequency for f in self.fields()}

    def staleness(self, frequency: str) -> int:
        return dict(self.staleness_days)[frequency]

    def fetch_lookback_days(self, series_id: str) -> int:
        """Days before the first session whose observations the daily table may need."""
        mine = [f for f in self.fields() if f.series_id == series_id]
        days = max(self.staleness(f.frequency) for f in mine)
        return days + (YOY_EXTRA_DAYS if any(f.yoy for f in mine) else 0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MacroConfig:
        vendor = env.get("BACKFILL_MACRO_VENDOR", "demo").strip().lower()
        required = _entries(env.get("BACKFILL_MACRO_REQUIRED"), DEFAULT_REQUIRED)
        optional = _entries(env.get("BACKFILL_MACRO_OPTIONAL"), DEFAULT_OPTIONAL)
        staleness = dict(DEFAULT_STALENESS)
        for item in (env.get("BACKFILL_MACRO_STALENESS") or "").split(","):
            if not item.strip():
                continue
            freq, _, raw = item.partition("=")
            freq = freq.strip().lower()
            if freq not in FREQUENCIES or not raw.strip().isdigit():
                raise ValueError(f"BACKFILL_MACRO_STALENESS: {item.strip()!r} is not FREQUENCY=DAYS "
                                 f"(frequencies: {', '.join(FREQUENCIES)})")
            staleness[freq] = int(raw)
        try:
            return cls(vendor, required, optional, tuple(staleness.items()))
        except ValueError as exc:
            raise ValueError(f"macro settings: {exc}") from None


def _entries(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    return tuple(e.strip() for e in raw.split(",") if e.strip())


def parse_entry(entry: str, required: bool) -> MacroField:
    """'DGS10', 'DEXUSEU@daily' or 'CPIAUCSL:yoy' -> MacroField."""
    body, _, suffix = entry.partition(":")
    series_id, _, frequency = body.partition("@")
    series_id, frequency = series_id.strip().upper(), frequency.strip().lower()
    if not series_id.replace("_", "").isalnum():
        raise ValueError(f"macro series {entry!r}: not a FRED series id")
    info = CATALOGUE.get(series_id)
    if not frequency:
        if info is None:
            raise ValueError(f"macro series {series_id!r} is not in the catalogue: give its frequency, "
                             f"e.g. {series_id}@daily ({', '.join(FREQUENCIES)})")
        frequency = info.frequency
    if frequency not in FREQUENCIES:
        raise ValueError(f"macro series {entry!r}: unknown frequency {frequency!r}")
    field = info.field if info else series_id.lower()
    if suffix:
        if suffix.strip().lower() != "yoy" or frequency not in ("monthly", "quarterly"):
            raise ValueError(f"macro series {entry!r}: only ':yoy' of a monthly or quarterly series is supported")
        return MacroField(series_id, f"{field}_yoy", frequency, required, yoy=True)
    return MacroField(series_id, field, frequency, required)
