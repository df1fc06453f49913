"""PostgreSQL's statement triggers plan their joins for each statement's rows (revision 0005).

PL/pgSQL caches a static query's plan per connection, made for the first statement's
transition table. Made for a big write, it joined a later 53-row write with the whole index
of `features` (or `bar_sessions`), a cost that grows with the table. Here a big write comes
first on one connection, then a small one; auto_explain reports the buffers the small
write's trigger queries touched, which must not grow with what is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.warehouse.bulk import prepare, prepare_bars, write
from backfill_pipeline.warehouse.features import feature_columns
from backfill_pipeline.warehouse.schema import bars
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, FEATURE_INSERT_COLUMNS, features
from backfill_pipeline.warehouse.store import Warehouse

_BUFFERS = re.compile(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?")


def _frame(sessions: int, per: int, first: str = "2024-01-02") -> pd.DataFrame:
    days = pd.bdate_range(first, periods=sessions)
    ts = (days.repeat(per).tz_localize("UTC") + pd.Timedelta(hours=14, minutes=30)
          + pd.to_timedelta(np.tile(np.arange(per), sessions), unit="min"))
    price = np.linspace(10, 20, len(ts))
    return pd.DataFrame({"ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price,
                         "volume": 1.0, "vwap": price, "trades": pd.array([1] * len(ts), dtype="Int64"),
                         "session": days.repeat(per)})


@pytest.fixture
def warehouse(pg_server_url: str) -> Iterator[Warehouse]:
    from backfill_pipeline_tests.conftest import empty_pg_database

    wh = Warehouse(pg_server_url)
    yield wh
    wh.dispose()
    empty_pg_database(pg_server_url)


def _touched(notices: list[str], table: str) -> int:
    """Buffers that the trigger queries joining `table` read (each plan's top node: all of it)."""
    total = 0
    for text in notices:
        if re.search(rf"\b{table} [a-z]\b", text):
            found = _BUFFERS.search(text)
            if found:
                total += int(found.group(1) or 0) + int(found.group(2) or 0)
    return total


def _explained(warehouse: Warehouse, big: list, small: list) -> tuple[list[str], int]:
    """Run the `big` loads, then the `small` ones with auto_explain on, all on one connection;
    returns the small loads' plans and the size of `features` (table + index) in pages."""
    with warehouse.engine.connect() as conn:
        for statements in big:
            with conn.begin():
                statements(conn)
        raw = conn.connection.driver_connection
        notices: list[str] = []
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        with conn.begin():
            conn.exec_driver_sql("LOAD 'auto_explain'")
            for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_analyze = on",
                            "log_buffers = on", "log_timing = off"):
                conn.exec_driver_sql(f"SET auto_explain.{setting}")
            conn.exec_driver_sql("SET client_min_messages = log")
            for statements in small:
                statements(conn)
            conn.exec_driver_sql("SET client_min_messages = notice")
        pages = conn.exec_driver_sql("SELECT pg_total_relation_size('features') / 8192").scalar_one()
    return [n for n in notices if "new_rows" in n or "old_rows" in n], int(pages or 0)


def test_a_small_feature_write_after_a_big_one_reads_only_its_sessions(warehouse: Warehouse) -> None:
    def load(symbol: str, frame: pd.DataFrame):
        sid = warehouse.series_id("us_equities", "1m", symbol)
        values = pd.DataFrame(np.ones((len(frame), len(FEATURE_COLUMNS))), columns=list(FEATURE_COLUMNS))
        return lambda conn: write(conn, prepare(conn, features, FEATURE_INSERT_COLUMNS,
                                                feature_columns(sid, frame, values)))

    big = [load(f"BIG{i}", _frame(100, 390)) for i in range(4)]  # 156,000 rows, the first plans big
    plans, pages = _explained(warehouse, big, [load("SMALL", _frame(53, 1, "2024-06-03"))])
    assert plans, "auto_explain reported no trigger query"
    touched = _touched(plans, "features")
    assert pages > 1000  # big enough for a whole-table plan to show
    # 53 sessions: an index descent and a heap page or two each, whatever the table holds
    assert touched <= 53 * 4, f"the small write's duplicate check touched {touched} buffers (table: {pages} pages)"


def test_a_small_bar_delete_after_a_big_one_reads_only_its_sessions(warehouse: Warehouse) -> None:
    ids = {s: warehouse.series_id("us_equities", "1m", s) for s in ("BIG0", "BIG1", "BIG2", "SMALL")}

    def insert(symbol: str, frame: pd.DataFrame):
        return lambda conn: write(conn, prepare_bars(conn, ids[symbol], frame))

    def delete(symbol: str):
        return lambda conn: conn.execute(bars.delete().where(bars.c.series_id == ids[symbol]))

    # 15,000 summary rows, then a 5,000-session delete plans first on the connection
    big = [insert(f"BIG{i}", _frame(5000, 2, "2000-01-03")) for i in range(3)] + [
        insert("SMALL", _frame(3, 5, "2024-06-03")), delete("BIG0")]
    plans, _ = _explained(warehouse, big, [delete("SMALL")])
    assert plans, "auto_explain reported no trigger query"
    touched = _touched(plans, "bar_sessions")
    # 3 sessions: an index descent and a page or two each, whatever the summary holds
    assert touched < 60, f"the small delete's summary update touched {touched} buffers"
    with warehouse.engine.connect() as conn:
        summary = conn.exec_driver_sql("SELECT count(*) FROM bar_sessions").scalar_one()
    assert summary == 10_000  # BIG1 and BIG2's sessions: the small delete left the others as they were
    assert warehouse.bar_counts("us_equities", "1m", dt.date(2024, 1, 1), dt.date(2026, 1, 1), ["SMALL"]).empty
