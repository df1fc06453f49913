"""FRED's facts: macro series (not bars), 100,000 observations a page, one request per series."""

from __future__ import annotations

import pandas as pd

from ..limits import Rate, VendorLimits
from ..spec import VendorSpec

SPEC = VendorSpec(
    "fred", (), 100_000, pd.Timedelta(0), "FRED_API_KEYS", None,
    "400 'api_key is not registered' = refused key; any other 400 (unknown series) = an error with FRED's error_message",
    VendorLimits((Rate(120, 60.0),)),  # 120 requests per minute per key (no paid tier)
)
