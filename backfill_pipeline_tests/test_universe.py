"""universe_sync_sensor: the universe file drives the symbol partitions and new symbols' history."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from backfill_pipeline.automation.build import build_automation
from backfill_pipeline.automation.universe import UniverseFileError, load
from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.settings import Settings
from backfill_pipeline_tests.instances import shipped_instance

REPO = Path(__file__).resolve().parent.parent
NOW = pd.Timestamp("2024-06-03T12:00", tz="UTC")  # Monday: last closed sessions Fri 05-31 (XNYS), Sun 06-02 (crypto)
INTRADAY_1M = ("15m", "1h", "1m", "30m", "4h", "5m")


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        yield inst


@pytest.fixture
def universe(tmp_path):
    return tmp_path / "universe.yaml"


def settings_for(path: Path, **changes) -> Settings:
    return Settings(automation=AutomationConfig(universe_file=path, **changes))


def tick(instance, settings: Settings):
    sensor = next(s for s in build_automation(settings, clock=lambda: NOW).sensors if s.name == "universe_sync_sensor")
    return sensor(dg.build_sensor_context(instance=instance))


def apply(instance, result) -> None:
    """What the daemon does with the sensor's dynamic partition requests."""
    for request in result.dynamic_partitions_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def requested(result) -> list[tuple[str, str, str, str | tuple[str, ...]]]:
    out = []
    for r in result.run_requests:
        tfs = "*" if r.asset_selection is None else tuple(sorted(k.path[-1] for k in r.asset_selection))
        out.append((r.job_name, r.tags["dagster/asset_partition_range_start"],
                    r.tags["dagster/asset_partition_range_end"], tfs))
    return sorted(out)


def symbols(instance, market: str) -> list[str]:
    return list(instance.get_dynamic_partitions(f"{market}_symbols"))


def test_the_example_file_is_valid():
    universe = load(REPO / "universe.example.yaml")
    assert [e.symbol for e in universe["us_equities"]] == ["AAPL", "MSFT", "NVDA", "JPM", "SPY", "GE"]
    assert [e.symbol for e in universe["us_equities"] if not e.active] == ["GE"]
    assert universe["us_equities"][4].asset_class == "etf" and universe["crypto"][0].symbol == "BTC-USD"


def test_adding_symbols_registers_them_and_starts_their_history_backfill(instance, universe):
    universe.write_text("markets:\n  us_equities:\n    - {symbol: aapl, asset_class: stock}\n"
                        "    - {symbol: SPY, asset_class: etf}\n  crypto:\n    - {symbol: BTC-USD, asset_class: crypto}\n")
    result = tick(instance, settings_for(universe))
    assert [(r.partitions_def_name, list(r.partition_keys)) for r in result.dynamic_partitions_requests] == [
        ("us_equities_symbols", ["AAPL", "SPY"]), ("crypto_symbols", ["BTC-USD"])]
    # 2 years of 1m (derived intraday in the same run), 5 years of 1d clamped to BACKFILL_PARTITIONS_START
    assert requested(result) == [
        ("crypto_ohlcv_job", "2020-01-01|BTC-USD", "2024-06-02|BTC-USD", ("1d",)),
        ("crypto_ohlcv_job", "2022-06-03|BTC-USD", "2024-06-02|BTC-USD", INTRADAY_1M),
        ("us_equities_ohlcv_job", "2020-01-02|AAPL", "2024-05-31|SPY", ("1d",)),
        ("us_equities_ohlcv_job", "2022-06-01|AAPL", "2024-05-31|SPY", INTRADAY_1M),
    ]
    assert all(r.tags["backfill_pipeline/origin"] == "universe_sync" for r in result.run_requests)
    apply(instance, result)
    assert symbols(instance, "us_equities") == ["AAPL", "SPY"]
    again = tick(instance, settings_for(universe))
    assert again.skip_reason.skip_message.endswith("in sync (us_equities 2 active, crypto 1 active)")
    # depth is configuration
    universe.write_text("markets:\n  crypto:\n    - {symbol: BTC-USD, asset_class: crypto}\n"
                        "    - {symbol: ETH-USD, asset_class: crypto}\n")
    shallow = tick(instance, Settings.from_env({"BACKFILL_UNIVERSE_FILE": str(universe),
                                                "BACKFILL_NEW_SYMBOL_DEPTH_1M_DAYS": "10",
                                                "BACKFILL_NEW_SYMBOL_DEPTH_1D_DAYS": "30"}))
    assert requested(shallow) == [
        ("crypto_ohlcv_job", "2024-05-03|ETH-USD", "2024-06-02|ETH-USD", ("1d",)),
        ("crypto_ohlcv_job", "2024-05-23|ETH-USD", "2024-06-02|ETH-USD", INTRADAY_1M),
    ]
    assert symbols(instance, "us_equities") == ["AAPL", "SPY"]  # a market the file no longer lists is left alone


def test_deactivating_unregisters_keeps_the_data_and_stops_requests(instance, universe, tmp_path):
    from backfill_pipeline.bench.sensor_tick import grid_bars
    from backfill_pipeline.markets import MARKETS, sessions_in_range
    from backfill_pipeline.warehouse.store import Warehouse

    instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "GE", "SPY"])
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    days = sessions_in_range(MARKETS["us_equities"], dt.date(2024, 5, 30), dt.date(2024, 5, 31))
    wh.replace_bars("us_equities", "1d", "GE", [d.date() for d in days], grid_bars(MARKETS["us_equities"], "1d", days))
    universe.write_text("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock}\n"
                        "    - {symbol: GE, asset_class: stock, active: false}\n    - {symbol: NVDA, asset_class: stock}\n")
    result = tick(instance, settings_for(universe))
    assert [(type(r).__name__, list(r.partition_keys)) for r in result.dynamic_partitions_requests] == [
        ("DeleteDynamicPartitionsRequest", ["GE", "SPY"]), ("AddDynamicPartitionsRequest", ["NVDA"])]
    assert {r.tags["dagster/asset_partition_range_start"].split("|")[1] for r in result.run_requests} == {"NVDA"}
    apply(instance, result)
    assert symbols(instance, "us_equities") == ["AAPL", "NVDA"]
    assert len(wh.read_bars("us_equities", "1d", "GE", dt.date(2024, 5, 30), dt.date(2024, 5, 31))) == 2
    wh.dispose()
    daily = next(s for s in build_automation(Settings()).schedules if s.name == "us_equities_daily_schedule")
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2024, 6, 1, 2, tzinfo=dt.UTC))
    (request,) = daily(context)
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == (
        "2024-05-31|AAPL", "2024-05-31|NVDA")


def test_no_file_changes_nothing(instance, universe):
    instance.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
    result = tick(instance, settings_for(universe))
    assert "no universe file at" in result.skip_reason.skip_message and str(universe) in result.skip_reason.skip_message
    assert symbols(instance, "us_equities") == ["AAPL"]


@pytest.mark.parametrize(("body", "problem"), [
    ("markets:\n  forex:\n    - {symbol: EURUSD, asset_class: fx}\n", "line 2: unknown market 'forex'"),
    ("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: bond}\n",
     "line 3: us_equities AAPL: field 'asset_class': 'bond' is not one of stock, etf"),
    ("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock, active: maybe}\n",
     "line 3: us_equities AAPL: field 'active' must be true or false, not 'maybe'"),
    ("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock}\n    - {symbol: AAPL, asset_class: stock}\n",
     "line 4: us_equities: symbol AAPL is listed twice (first on line 3)"),
    ("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock, sector: tech}\n",
     "line 3: us_equities: unknown field 'sector'"),
    ("markets:\n  us_equities:\n    - {asset_class: stock}\n", "line 3: us_equities: missing field 'symbol'"),
    ("markets:\n  us_equities:\n    - {symbol: 'BR K', asset_class: stock}\n",
     "line 3: us_equities: field 'symbol': invalid symbol 'BR K'"),
    ("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock\n", "line 4: not valid YAML"),
    ("symbols: [AAPL]\n", "line 1: unknown key 'symbols' (expected 'markets')"),
    ("markets:\n  us_equities: AAPL\n", "line 2: us_equities: expected a list"),
])
def test_a_malformed_file_names_the_line_and_field_and_changes_nothing(instance, universe, body, problem):
    instance.add_dynamic_partitions("us_equities_symbols", ["MSFT"])
    universe.write_text(body)
    with pytest.raises(UniverseFileError) as caught:
        tick(instance, settings_for(universe))
    assert f"{universe} {problem}" in str(caught.value), str(caught.value)
    assert "nothing changed" in str(caught.value)
    assert symbols(instance, "us_equities") == ["MSFT"]


def test_every_problem_is_reported_at_once(universe):
    universe.write_text("markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: bond}\n"
                        "    - {symbol: MSFT, asset_class: stock, active: 2}\n  crypto: {}\n")
    with pytest.raises(UniverseFileError) as caught:
        load(universe)
    assert [p.split(": ", 1)[0] for p in caught.value.problems] == [f"{universe} line {n}" for n in (3, 4, 5)]
