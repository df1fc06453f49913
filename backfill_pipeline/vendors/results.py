"""Typed results of the real clients: FetchResult plus the per-request records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import pandas as pd

from .base import FetchResult
from .trace import FetchTrace, RequestRecord


@dataclass
class VendorFetchResult(FetchResult):
    """A FetchResult that also carries each request's record (redacted URL, status, rows)."""

    records: list[RequestRecord] = field(default_factory=list)

    @classmethod
    def from_trace(cls, bars: pd.DataFrame, trace: FetchTrace) -> VendorFetchResult:
        return cls(bars=bars, requests=trace.requests, request_ids=trace.request_ids, records=list(trace.records))


@dataclass
class FrameResult:
    """A typed frame from a non-bar endpoint (FRED series, splits, dividends)."""

    frame: pd.DataFrame
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)

    @classmethod
    def from_trace(cls, frame: pd.DataFrame, trace: FetchTrace) -> Self:
        return cls(frame=frame, requests=trace.requests, request_ids=trace.request_ids, records=list(trace.records))


@dataclass
class SeriesResult(FrameResult):
    """FRED observations, every vintage: columns date (datetime64 naive), value (float64,
    NaN = missing), realtime_start and realtime_end (datetime64 naive; NaT = still in force)."""
