"""The offline demo vendor's facts: every timeframe, no paging, no key, no limits."""

from __future__ import annotations

import pandas as pd

from ..spec import INTRADAY, VendorSpec

SPEC = VendorSpec("demo", (*INTRADAY, "1d"), 0, pd.Timedelta(0), None, None,
                  "offline: fails only where told to (fail_symbols)")
