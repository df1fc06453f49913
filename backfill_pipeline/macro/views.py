"""The two views of the daily macro table as read by users (read_macro, `backfill-pipeline macro`).

- view="pit", as_of=None: the stored point-in-time table, exactly as `macro/daily`
  materialised it (sessions not materialised have no rows).
- view="pit" with as_of, and view="latest": computed on read from the stored vintages for
  the XNYS sessions of the range and the configured fields (no materialisation needed).
  as_of=D means nothing released after D is known: a pit session after D shows what was
  known on D; `latest` shows the vintage in force on D (ALFRED's "as of D" series).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from backfill_pipeline.macro.asof import DAILY_COLUMNS, VIEWS, daily_table
from backfill_pipeline.macro.series import MacroConfig, MacroField, parse_entry
from backfill_pipeline.markets import MARKETS, OutsideCalendarError, sessions_in_range
from backfill_pipeline.warehouse.macro import read_pit_daily, read_vintages
from backfill_pipeline.warehouse.store import Warehouse


def select_fields(config: MacroConfig, series: Sequence[str] | None) -> list[MacroField]:
    """The configured fields matching `series` (FRED ids or field names, any case); all when
    None. An entry that matches nothing raises ValueError naming it and the choices."""
    fields = config.fields()
    if not series:
        return fields
    wanted = [s.strip() for s in series if s.strip()]
    unknown = [s for s in wanted if not any(s.upper() == f.series_id or s.lower() == f.field for f in fields)]
    if unknown:
        choices = ", ".join(f"{f.series_id} ({f.field})" for f in fields)
        raise ValueError(f"unknown macro series {', '.join(unknown)}: configured are {choices}")
    return [f for f in fields if any(s.upper() == f.series_id or s.lower() == f.field for s in wanted)]


def macro_view(warehouse: Warehouse, config: MacroConfig, first: dt.date, last: dt.date, *, view: str = "pit",
               as_of: dt.date | None = None, series: Sequence[str] | None = None) -> pd.DataFrame:
    """Long daily table (DAILY_COLUMNS) of sessions first..last in `view`, optionally as of a date."""
    if view not in VIEWS:
        raise ValueError(f"unknown macro view {view!r}: expected one of {', '.join(VIEWS)}")
    fields = select_fields(config, series)
    names = {f.field for f in fields}
    if view == "pit" and as_of is None:
        table = read_pit_daily(warehouse, first, last)
        return table[table["field"].isin(names)].reset_index(drop=True) if series else table
    try:
        sessions = sessions_in_range(MARKETS["us_equities"], first, last)
    except OutsideCalendarError as exc:
        raise ValueError(str(exc)) from None
    chosen = MacroConfig(config.vendor, tuple(e for e in config.required if _entry_field(e, True) in names),
                         tuple(e for e in config.optional if _entry_field(e, False) in names), config.staleness_days)
    ids = list(chosen.series())
    lookback = max((chosen.fetch_lookback_days(s) for s in ids), default=0)
    vintages = read_vintages(warehouse, ids, first - dt.timedelta(days=lookback), last)
    table = daily_table(vintages, chosen, pd.DatetimeIndex(sessions), view=view, as_of=as_of)
    return table.sort_values(["date", "field"], kind="stable").reset_index(drop=True).loc[:, list(DAILY_COLUMNS)]


def _entry_field(entry: str, required: bool) -> str:
    return parse_entry(entry, required).field


def wide(table: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """One row per session: for each field (in `order`, then any others by name) its value,
    `<field>_date` (observation date) and `<field>_released` (release date of that value)."""
    present = set(table["field"])
    fields = [f for f in order if f in present] + sorted(present - set(order))
    parts = {
        "": table.pivot(index="date", columns="field", values="value"),
        "_date": table.pivot(index="date", columns="field", values="observation_date"),
        "_released": table.pivot(index="date", columns="field", values="release_date"),
    }
    out = pd.concat([p.reindex(columns=fields).add_suffix(suffix) for suffix, p in parts.items()], axis=1)
    ordered = [f"{f}{suffix}" for f in fields for suffix in parts]
    return out.loc[:, ordered].rename_axis(columns=None).reset_index()
