import dagster as dg
import pytest

from backfill_pipeline.definitions import build_definitions, defs
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.timeframes import TIMEFRAME_NAMES

MARKET_NAMES = ("us_equities", "crypto")


def _graph(definitions: dg.Definitions):
    return definitions.get_repository_def().asset_graph


def test_definitions_load_with_exact_assets_checks_schedules_and_sensors():
    loaded = defs()  # the @dg.definitions entry point `dagster dev` uses
    graph = _graph(loaded)
    expected_assets = {f"ohlcv/{m}/{tf}" for m in MARKET_NAMES for tf in TIMEFRAME_NAMES}
    feature_assets = {f"features/{m}/{tf}" for m in MARKET_NAMES for tf in TIMEFRAME_NAMES}
    other_assets = {"corporate_actions/us_equities", "macro/fred_observations", "macro/daily", "reports/completeness",
                    "reports/backfill_status"}
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == expected_assets | feature_assets | other_assets
    expected_checks = {(a, c) for a in expected_assets
                       for c in ("ohlc_valid", "unique_timestamps", "inside_session", "complete", "fresh")}
    expected_checks |= {(a, c) for a in feature_assets for c in ("features_finite", "lookback_available")}
    expected_checks |= {("corporate_actions/us_equities", "actions_valid"), ("macro/daily", "required_fields"),
                        ("macro/daily", "point_in_time")}
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == expected_checks
    repo = loaded.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"us_equities_daily_schedule", "crypto_daily_schedule"}
    assert {s.name for s in repo.sensor_defs} == {"gap_fill_48h_sensor", "universe_sync_sensor", "weekly_rollup_sensor",
                                                 "symbol_rule_sensor"}
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == {
        f"{m}_ohlcv{kind}_job" for m in MARKET_NAMES for kind in ("", "_weekly")}
    assert len(expected_assets) == 16


def test_derived_assets_depend_on_their_source_and_fetched_ones_use_the_vendor_pool():
    definitions = build_definitions(Settings())
    graph = _graph(definitions)
    pools = {k.to_user_string(): a.op.pool for a in definitions.assets for k in a.keys}
    steps = {k.to_user_string(): a.op.name for a in definitions.assets for k in a.keys}
    assert pools["ohlcv/us_equities/1m"] == pools["ohlcv/crypto/1d"] == "vendor_demo"
    assert pools["ohlcv/crypto/1w"] is None  # resampled from stored 1d in its own step
    # the timeframes resampled from 1m share its step (and so its pool): one fetch, no re-reads
    for market in MARKET_NAMES:
        assert {steps[f"ohlcv/{market}/{tf}"] for tf in ("1m", "5m", "15m", "30m", "1h", "4h")} == {f"ohlcv_{market}_1m_and_derived"}
        assert len({steps[f"ohlcv/{market}/1m"], steps[f"ohlcv/{market}/1d"], steps[f"ohlcv/{market}/1w"]}) == 3
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    for market in MARKET_NAMES:
        assert parents[f"ohlcv/{market}/1m"] == set()
        assert parents[f"ohlcv/{market}/1d"] == set()
        for tf in ("5m", "15m", "30m", "1h", "4h"):
            assert parents[f"ohlcv/{market}/{tf}"] == {f"ohlcv/{market}/1m"}
        assert parents[f"ohlcv/{market}/1w"] == {f"ohlcv/{market}/1d"}


def test_fetched_timeframes_are_configuration(monkeypatch):
    monkeypatch.setenv("BACKFILL_FETCHED_TIMEFRAMES_US_EQUITIES", "1m,5m,1h")
    graph = _graph(defs())
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["ohlcv/us_equities/5m"] == set()
    assert parents["ohlcv/us_equities/15m"] == {"ohlcv/us_equities/5m"}
    assert parents["ohlcv/us_equities/4h"] == {"ohlcv/us_equities/1h"}
    assert parents["ohlcv/us_equities/1d"] == {"ohlcv/us_equities/1m"}
    assert parents["ohlcv/crypto/5m"] == {"ohlcv/crypto/1m"}


def test_no_trades_tolerance_is_per_market_and_timeframe():
    settings = Settings.from_env({
        "BACKFILL_NO_TRADES_TOLERANCE": "0.1",
        "BACKFILL_NO_TRADES_TOLERANCE_CRYPTO": "0.2",
        "BACKFILL_NO_TRADES_TOLERANCE_US_EQUITIES_1M": "0.3",
    })
    assert settings.tolerance("us_equities", "1m") == 0.3
    assert settings.tolerance("us_equities", "5m") == 0.1
    assert settings.tolerance("crypto", "1m") == 0.2
    assert Settings().tolerance("crypto", "1m") == 0.05


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BACKFILL_PARTITION_GRAIN", "hourly", "BACKFILL_PARTITION_GRAIN"),
        ("BACKFILL_PARTITIONS_START", "2020-13-01", "not a date"),
        ("BACKFILL_PARTITIONS_START", "1999-01-01", "before the calendar start"),
        ("BACKFILL_FETCHED_TIMEFRAMES", "1m,7m", "unknown timeframe '7m'"),
        ("BACKFILL_FETCHED_TIMEFRAMES", "1w", "1w cannot be fetched"),
        ("BACKFILL_VENDOR_CRYPTO", "kraken", "BACKFILL_VENDOR_CRYPTO"),
        ("BACKFILL_NO_TRADES_TOLERANCE", "1.5", "between 0 and 1"),
        ("BACKFILL_NO_TRADES_TOLERANCE_FOREX", "0.1", "unknown market"),
        ("BACKFILL_NO_TRADES_TOLERANCE_CRYPTO_2M", "0.1", "unknown timeframe '2m'"),
        ("BACKFILL_FRESHNESS_SESSIONS", "soon", "whole number"),
    ],
)
def test_bad_settings_are_named(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})
