"""The reviewable gap file: written by `scan`, edited by a person, read by `backfill`.

Text format: `#` starts a comment, blank lines are ignored, and every other line is
`<market> <timeframe> <symbol> <YYYY-MM-DD>` naming one session partition. JSON (same
entries under "gaps") is accepted too. Parsing reports every bad line with its number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from backfill_pipeline.gaps import COMPLETE, NO_TRADES
from backfill_pipeline.markets import InvalidSymbolError, UnknownMarketError, get_market, is_session, validate_symbol
from backfill_pipeline.timeframes import UnknownTimeframeError, duration_rank, get_timeframe

HEADER_TITLE = "backfill-pipeline gaps"


@dataclass(frozen=True)
class GapEntry:
    market: str
    timeframe: str
    symbol: str
    session: dt.date


class GapFileError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    gaps = table[table["gap_class"] != COMPLETE]
    return gaps.assign(_rank=gaps["timeframe"].map(duration_rank)).sort_values(
        ["market", "_rank", "symbol", "session"]).drop(columns="_rank")


def format_text(table: pd.DataFrame, header: Mapping[str, object]) -> str:
    lines = [f"# {HEADER_TITLE}"] + [f"# {k}: {v}" for k, v in header.items()]
    lines.append("# one partition per line: market timeframe symbol session  # class present/expected")
    lines.append("# no_trades lines are commented out (the vendor had no trades); uncomment to fetch again")
    for r in _rows(table).itertuples():
        missing = max(0, r.expected - r.present)
        prefix = "# " if r.gap_class == NO_TRADES else ""
        lines.append(f"{prefix}{r.market} {r.timeframe} {r.symbol} {r.session:%Y-%m-%d}  "
                     f"# {r.gap_class} {missing}/{r.expected} missing")
    return "\n".join(lines) + "\n"


def format_json(table: pd.DataFrame, header: Mapping[str, object]) -> str:
    rows = [
        {"market": r.market, "timeframe": r.timeframe, "symbol": r.symbol, "session": f"{r.session:%Y-%m-%d}",
         "gap_class": r.gap_class, "expected": int(r.expected), "present": int(r.present)}
        for r in _rows(table).itertuples()
    ]
    gaps = [r for r in rows if r["gap_class"] != NO_TRADES]
    tolerated = [r for r in rows if r["gap_class"] == NO_TRADES]
    return json.dumps({"header": dict(header), "gaps": gaps, "tolerated": tolerated}, indent=1, default=str) + "\n"


# (market, timeframe, session) -> why the session has no partition of that asset, or None
PartitionCheck = Callable[[str, str, dt.date], str | None]


def _check(market: str, timeframe: str, symbol: str, day: str, registered: Callable[[str], set[str]],
           in_partitions: PartitionCheck | None) -> tuple[GapEntry | None, str | None]:
    try:
        mkt = get_market(market)
        get_timeframe(timeframe)
        validate_symbol(symbol)
    except (UnknownMarketError, UnknownTimeframeError, InvalidSymbolError) as exc:
        return None, str(exc)
    if symbol not in registered(mkt.name):
        return None, f"symbol {symbol!r} is not in the {mkt.name} partition set (backfill-pipeline symbols add)"
    try:
        session = dt.date.fromisoformat(day)
    except ValueError:
        return None, f"{day!r} is not a date (YYYY-MM-DD)"
    try:
        if not is_session(mkt, session):
            return None, f"{day} is not a {mkt.calendar_name} session of {mkt.name}"
    except ValueError as exc:
        return None, str(exc)
    problem = in_partitions(mkt.name, timeframe, session) if in_partitions else None
    if problem:
        return None, problem
    return GapEntry(mkt.name, timeframe, symbol, session), None


def parse(text: str, registered: Callable[[str], set[str]], in_partitions: PartitionCheck | None = None) -> list[GapEntry]:
    """Entries of a gap file; GapFileError lists every bad line ("line N: ..."), including
    sessions `in_partitions` says have no partition (before the first, after the last)."""
    problems: list[str] = []
    entries: list[GapEntry] = []
    if text.lstrip().startswith("{"):
        try:
            items = json.loads(text)["gaps"]
            fields: list[tuple[int, tuple[str, ...]]] = [(i + 1, (g["market"], g["timeframe"], g["symbol"], g["session"])) for i, g in enumerate(items)]
        except (ValueError, KeyError, TypeError) as exc:
            raise GapFileError([f"malformed JSON gap file: {exc}"]) from None
        label = "entry"
    else:
        fields = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 4:
                problems.append(f"line {number}: expected 'market timeframe symbol YYYY-MM-DD', got {line!r}")
                continue
            fields.append((number, tuple(parts)))
        label = "line"
    for number, (market, timeframe, symbol, day) in fields:
        entry, problem = _check(str(market), str(timeframe), str(symbol), str(day), registered, in_partitions)
        if problem:
            problems.append(f"{label} {number}: {problem}")
        elif entry:
            entries.append(entry)
    if problems:
        raise GapFileError(problems)
    if not entries:
        raise GapFileError(["the gap file names no partitions"])
    return list(dict.fromkeys(entries))
