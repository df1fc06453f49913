"""Series ids: registered in one write for a whole step, the same ids a first write would get."""

from __future__ import annotations

import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import series
from backfill_pipeline.warehouse.store import Warehouse


def _rows(url: str) -> list[tuple[int, str, str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(series.c.id, series.c.market, series.c.timeframe, series.c.symbol)
                            .order_by(series.c.id)).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_register_series_writes_each_missing_series_once_in_one_transaction(warehouse_url):
    wh = Warehouse(warehouse_url)
    try:
        known = wh.series_id("us_equities", "1m", "AAPL")  # registered earlier, one by one
        writes = []
        original = wh.transaction

        def counted():
            writes.append(1)
            return original()

        wh.transaction = counted  # type: ignore[method-assign]
        keys = [(tf, sym) for sym in ("AAPL", "MSFT", "NVDA") for tf in ("1m", "5m", "1d")]
        wh.register_series("us_equities", keys)
        assert len(writes) == 1  # eight new series, one write transaction
        wh.register_series("us_equities", keys)
        assert len(writes) == 1  # all known now: no write at all
    finally:
        wh.dispose()
    rows = _rows(warehouse_url)
    assert len(rows) == 9 and len({r[1:] for r in rows}) == 9  # each series once
    # a fresh process (no cache) finds the same ids, and the one registered first kept its id
    other = Warehouse(warehouse_url)
    try:
        by_key = {r[1:]: r[0] for r in rows}
        assert other.series_id("us_equities", "1m", "AAPL") == known == by_key[("us_equities", "1m", "AAPL")]
        other.register_series("us_equities", [("5m", "NVDA"), ("1h", "NVDA")])
        assert other.series_id("us_equities", "5m", "NVDA") == by_key[("us_equities", "5m", "NVDA")]
        assert other.series_id("us_equities", "1h", "NVDA") not in by_key.values()
    finally:
        other.dispose()
    assert len(_rows(warehouse_url)) == 10
