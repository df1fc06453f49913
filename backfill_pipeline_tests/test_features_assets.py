"""Feature assets through Dagster on SQLite and PostgreSQL: a single partition and a ranged run
equal a computation over the whole stored history (lookback), re-runs leave identical rows,
split-adjusted prices, the checks, and the graph (lookback mapping, corporate actions)."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.corporate_actions.adjust import adjust_bars
from backfill_pipeline.corporate_actions.store import load_events
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.features.compute import compute_features
from backfill_pipeline.features.lookback import bars_per_year
from backfill_pipeline.markets import MARKETS, Market
from backfill_pipeline.names import corporate_actions_key, features_key, ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.actions_source import ActionsResult, empty_dividends
from backfill_pipeline.warehouse.features import read_features
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, features_by_series
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.instances import shipped_instance

EQ = MARKETS["us_equities"]
SPLIT_DAY = dt.date(2023, 6, 15)


class OneSplitResource(dg.ConfigurableResource):
    """A corporate-actions source with one 2-for-1 split of AAPL and nothing else."""

    def source(self, market: Market) -> "OneSplit":
        return OneSplit()


class OneSplit:
    vendor = "test"

    def list_splits(self, symbol: str, start: dt.date, end: dt.date) -> ActionsResult:
        rows = [(symbol, pd.Timestamp(SPLIT_DAY), 1.0, 2.0, 2.0)] if symbol == "AAPL" else []
        frame = pd.DataFrame(rows, columns=["symbol", "execution_date", "split_from", "split_to", "ratio"])
        frame["execution_date"] = pd.to_datetime(frame["execution_date"]).astype("datetime64[ns]")
        return ActionsResult(frame, requests=1)

    def list_dividends(self, symbol: str, start: dt.date, end: dt.date) -> ActionsResult:
        return ActionsResult(empty_dividends(), requests=1)

    def close(self) -> None:
        pass


def run(instance, url, keys, *, partition_key=None, start=None, end=None, settings=None, **resources):
    defs = build_definitions(settings or Settings())
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end} if start else {}
    return dg.materialize(
        list(defs.assets),  # type: ignore[arg-type]
        selection=keys,
        instance=instance,
        resources={**(defs.resources or {}), "warehouse": WarehouseResource(url=url), **resources},
        partition_key=partition_key,
        tags=tags,
        raise_on_error=False,
    )


def checks(result) -> dict:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        inst.add_dynamic_partitions("crypto_symbols", ["BTC-USD"])
        yield inst


def whole_history(url: str, timeframe: str, symbol: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Features computed over every stored bar from `first`, indexed by ts (the reference)."""
    wh = Warehouse(url)
    bars = wh.read_bars("us_equities", timeframe, symbol, first, last)
    bars = adjust_bars(bars, load_events(wh, "us_equities", symbol), "splits")
    wh.dispose()
    out = compute_features(bars, Settings().features, bars_per_year(EQ, timeframe))
    return out.set_index(bars["ts"])


def stored(url: str, timeframe: str, symbol: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    wh = Warehouse(url)
    frame = read_features(wh, "us_equities", timeframe, symbol, first, last).set_index("ts")
    wh.dispose()
    return frame


def test_daily_features_single_partition_ranged_run_rerun_and_split(instance, warehouse_url):
    history = {"start": "2023-01-03|AAPL", "end": "2024-03-08|MSFT"}  # 295 sessions: more than the lookback
    assert run(instance, warehouse_url, [ohlcv_key("us_equities", "1d")], **history).success
    actions = run(instance, warehouse_url, [corporate_actions_key("us_equities")], start="AAPL", end="MSFT",
                  corporate_actions=OneSplitResource())
    assert actions.success and checks(actions)[("corporate_actions/us_equities", "actions_valid")].passed
    key = features_key("us_equities", "1d")
    reference = whole_history(warehouse_url, "1d", "AAPL", dt.date(2023, 1, 3), dt.date(2024, 3, 8))

    single = run(instance, warehouse_url, [key], partition_key="2024-03-08|AAPL")
    assert single.success
    found = checks(single)
    assert found[("features/us_equities/1d", "features_finite")].passed
    assert found[("features/us_equities/1d", "lookback_available")].passed
    one = stored(warehouse_url, "1d", "AAPL", dt.date(2024, 3, 8), dt.date(2024, 3, 8))
    assert len(one) == 1 and one[list(FEATURE_COLUMNS)].notna().all().all()
    np.testing.assert_allclose(one[list(FEATURE_COLUMNS)], reference.loc[one.index], rtol=1e-6)

    ranged = {"start": "2024-02-01|AAPL", "end": "2024-03-08|MSFT"}
    result = run(instance, warehouse_url, [key], **ranged)
    assert result.success and len(result.get_asset_materialization_events()) == 2 * 26
    aapl = stored(warehouse_url, "1d", "AAPL", dt.date(2024, 2, 1), dt.date(2024, 3, 8))
    assert len(aapl) == 26
    # the first bar of the range is as good as the last: both equal the whole-history value
    np.testing.assert_allclose(aapl[list(FEATURE_COLUMNS)], reference.loc[aapl.index], rtol=1e-6)
    msft_ref = whole_history(warehouse_url, "1d", "MSFT", dt.date(2023, 1, 3), dt.date(2024, 3, 8))
    msft = stored(warehouse_url, "1d", "MSFT", dt.date(2024, 2, 1), dt.date(2024, 3, 8))
    np.testing.assert_allclose(msft[list(FEATURE_COLUMNS)], msft_ref.loc[msft.index], rtol=1e-6)

    first = table_rows(warehouse_url, features_by_series)
    assert run(instance, warehouse_url, [key], **ranged).success
    assert table_rows(warehouse_url, features_by_series) == first  # re-materialising leaves identical rows

    # before the split the features use split-adjusted prices; the lookback there is short
    early = run(instance, warehouse_url, [key], partition_key="2023-06-14|AAPL")
    assert early.success
    short = checks(early)[("features/us_equities/1d", "lookback_available")]
    assert not short.passed and short.severity == dg.AssetCheckSeverity.WARN
    assert short.metadata["short_lookback_list"].value == ["AAPL: 112/279 bars before 2023-06-14"]
    assert checks(early)[("features/us_equities/1d", "features_finite")].passed  # NaNs only in the warm-up
    wh = Warehouse(warehouse_url)
    raw = wh.read_bars("us_equities", "1d", "AAPL", dt.date(2023, 6, 14), dt.date(2023, 6, 14))
    wh.dispose()
    adjusted = stored(warehouse_url, "1d", "AAPL", dt.date(2023, 6, 14), dt.date(2023, 6, 14))
    assert adjusted["close_adj"].iloc[0] == pytest.approx(raw["close"].iloc[0] / 2)


def test_first_intraday_bars_of_a_partition_read_the_previous_session(instance, warehouse_url):
    assert run(instance, warehouse_url, [ohlcv_key("us_equities", "1m")], start="2024-03-06|AAPL",
               end="2024-03-08|AAPL").success
    result = run(instance, warehouse_url, [features_key("us_equities", "1m")], partition_key="2024-03-08|AAPL")
    assert result.success
    assert checks(result)[("features/us_equities/1m", "lookback_available")].passed
    part = stored(warehouse_url, "1m", "AAPL", dt.date(2024, 3, 8), dt.date(2024, 3, 8))
    assert len(part) == 390
    reference = whole_history(warehouse_url, "1m", "AAPL", dt.date(2024, 3, 6), dt.date(2024, 3, 8))
    np.testing.assert_allclose(part[list(FEATURE_COLUMNS)], reference.loc[part.index], rtol=1e-6)


def test_graph_declares_the_lookback_and_the_corporate_actions_dependency(instance):
    from backfill_pipeline.dagster_private import partition_loading_context

    graph = build_definitions(Settings()).get_repository_def().asset_graph
    key = features_key("us_equities", "1d")
    assert set(graph.get(key).parent_keys) == {ohlcv_key("us_equities", "1d"), corporate_actions_key("us_equities")}
    assert set(graph.get(features_key("crypto", "1h")).parent_keys) == {ohlcv_key("crypto", "1h")}
    with partition_loading_context(dynamic_partitions_store=instance):
        parents = graph.get_parent_partition_keys_for_child("2024-03-08|AAPL", ohlcv_key("us_equities", "1d"), key)
        keys = sorted(parents.partitions_subset.get_partition_keys())
        assert len(keys) == 280 and keys[-1] == "2024-03-08|AAPL" and all(k.endswith("|AAPL") for k in keys)
        children = graph.get_child_partition_keys_of_parent("AAPL", corporate_actions_key("us_equities"), key)
        assert "2024-03-08|AAPL" in children and "2020-01-02|AAPL" in children
        assert not any(k.endswith("|MSFT") for k in children)
