"""A handler speaking FRED's `fred/series/observations` JSON with vintages (ALFRED), for
pytest-httpserver (`respond_with_handler(fake.handle)`).

Each series is a list of vintage rows as FRED sends them: {"realtime_start", "realtime_end",
"date", "value"} strings, value "." for no observation, realtime_end "9999-12-31" for the
vintage in force. Like FRED it filters by observation_start/observation_end, answers for
the requested real-time window (default: today only, so without realtime parameters a
client sees today's vintage alone) with each period clipped to it, sorts by date then
realtime_start, and pages with limit/offset and `count`. It refuses a key it does not know
with FRED's HTTP 400 error body, and counts requests per series.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from werkzeug import Request, Response

OPEN_END = "9999-12-31"


def rows_from_frame(frame: pd.DataFrame) -> list[dict[str, str]]:
    """FRED rows from a vintage frame (date, value, realtime_start, realtime_end; NaT = open)."""
    return [
        {"realtime_start": f"{rs:%Y-%m-%d}", "realtime_end": OPEN_END if pd.isna(re) else f"{re:%Y-%m-%d}",
         "date": f"{d:%Y-%m-%d}", "value": "." if np.isnan(v) else repr(float(v))}
        for d, v, rs, re in zip(frame["date"], frame["value"], frame["realtime_start"], frame["realtime_end"],
                                strict=True)
    ]


@dataclass
class FakeFred:
    series: dict[str, list[dict[str, str]]]
    api_key: str
    today: dt.date = dt.date(2025, 1, 31)
    requests: Counter[str] = field(default_factory=Counter)
    offsets: list[tuple[str, int]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        if request.args.get("api_key") != self.api_key:
            body = {"error_code": 400,
                    "error_message": "Bad Request.  The value for variable api_key is not registered."}
            return Response(json.dumps(body), status=400, content_type="application/json")
        series_id = request.args["series_id"]
        self.requests[series_id] += 1
        if series_id not in self.series:
            body = {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}
            return Response(json.dumps(body), status=400, content_type="application/json")
        args = request.args
        lo, hi = args.get("observation_start", "1776-07-04"), args.get("observation_end", OPEN_END)
        rt_lo = args.get("realtime_start", self.today.isoformat())
        rt_hi = args.get("realtime_end", self.today.isoformat())
        limit, offset = int(args.get("limit", 100000)), int(args.get("offset", 0))
        self.offsets.append((series_id, offset))
        rows = [
            {**r, "realtime_start": max(r["realtime_start"], rt_lo), "realtime_end": min(r["realtime_end"], rt_hi)}
            for r in self.series[series_id]
            if lo <= r["date"] <= hi and r["realtime_start"] <= rt_hi and r["realtime_end"] >= rt_lo
        ]
        rows.sort(key=lambda r: (r["date"], r["realtime_start"]))
        body = {
            "realtime_start": rt_lo, "realtime_end": rt_hi, "observation_start": lo, "observation_end": hi,
            "units": "lin", "output_type": 1, "file_type": "json", "order_by": "observation_date",
            "sort_order": "asc", "count": len(rows), "offset": offset, "limit": limit,
            "observations": rows[offset : offset + limit],
        }
        return Response(json.dumps(body), content_type="application/json")
