"""The registry of vendor specs: each vendor package's spec.py, collected in one place.

A spec is one vendor's facts (vendors/spec.py's VendorSpec): the timeframes it serves, its
page size or request windows and how its client splits a window into requests, its
free-tier limits, when its bars are final, how it names tickers, and what its errors mean. Settings, the launch planner, the sensors and the clients read them here
or from the vendor's own spec module; nothing else holds a vendor fact.
"""

from __future__ import annotations

from .binance.spec import SPEC as BINANCE
from .demo.spec import SPEC as DEMO
from .eodhd.spec import SPEC as EODHD
from .fred.spec import SPEC as FRED
from .limits import VendorLimits
from .polygon.spec import SPEC as POLYGON
from .spec import INTRADAY, VendorSpec

__all__ = ["DEFAULT_LIMITS", "FRED", "INTRADAY", "SERIES_SPECS", "SPECS", "VendorSpec", "vendor_spec"]

# Vendors a market can take its bars from (BACKFILL_VENDOR_<MARKET>).
SPECS: dict[str, VendorSpec] = {spec.name: spec for spec in (DEMO, POLYGON, EODHD, BINANCE)}
# Vendors of series that are not bars (FRED: macro observations).
SERIES_SPECS: dict[str, VendorSpec] = {FRED.name: FRED}
# Each networked vendor's documented free tier, per key (Binance: per IP).
DEFAULT_LIMITS: dict[str, VendorLimits] = {
    name: spec.limits for name, spec in {**SPECS, **SERIES_SPECS}.items() if spec.limits is not None
}


def vendor_spec(name: str) -> VendorSpec:
    """The spec of a bar vendor; a ValueError naming the known ones otherwise."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown vendor {name!r}; expected one of {', '.join(SPECS)}") from None
