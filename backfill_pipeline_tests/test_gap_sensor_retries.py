"""Step retries of the fetching assets: exponential backoff with jitter, for network vendors."""

import warnings
from pathlib import Path

import dagster as dg
import pandas as pd

from backfill_pipeline.assets.ohlcv import build_ohlcv_assets
from backfill_pipeline.assets.retries import fetch_retry_policy, finalization_delay
from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.markets import MARKETS, Market
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.base import BarsClient, FetchResult, VendorError
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline_tests.helpers import fetch_rows
from backfill_pipeline_tests.instances import shipped_instance

BINANCE_CRYPTO = {"us_equities": "demo", "crypto": "binance"}


class _FailsOnce:
    """A client whose first fetch fails (a vendor outage), then serves the demo bars."""

    def __init__(self, inner: BarsClient, marker: Path):
        self.inner, self.marker = inner, marker
        self.vendor, self.finalization_delay = inner.vendor, inner.finalization_delay

    def fetch_bars(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        if not self.marker.exists():
            self.marker.write_text("failed once")
            raise VendorError("binance", symbol, f"{start}..{end}", "HTTP 503 after 5 attempts")
        return self.inner.fetch_bars(symbol, timeframe, start, end)

    def close(self) -> None:
        self.inner.close()


class FlakyVendorResource(DemoVendorResource):
    marker: str

    def client(self, market: Market) -> BarsClient:
        return _FailsOnce(super().client(market), Path(self.marker))


def _policies(settings: Settings) -> dict[str, dg.RetryPolicy | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assets = build_ohlcv_assets(list(MARKETS.values()), settings)
    return {k.to_user_string(): a.op.retry_policy for a in assets for k in a.keys}


def test_only_assets_that_fetch_from_a_network_vendor_retry():
    policies = _policies(Settings(vendors=BINANCE_CRYPTO))
    policy = policies["ohlcv/crypto/1m"]
    assert policy == dg.RetryPolicy(max_retries=3, delay=30.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    assert policies["ohlcv/crypto/1d"] == policy
    assert policies["ohlcv/crypto/5m"] == policy  # resampled in the step that fetches 1m
    assert policies["ohlcv/crypto/1w"] is None  # resampled from stored 1d in its own step: no vendor
    assert policies["ohlcv/us_equities/1m"] is None  # the offline demo vendor cannot fail transiently
    off = _policies(Settings(vendors=BINANCE_CRYPTO, automation=AutomationConfig(fetch_retries=0)))
    assert off["ohlcv/crypto/1m"] is None
    env = Settings.from_env({"BACKFILL_VENDOR_CRYPTO": "binance", "BACKFILL_FETCH_RETRIES": "5",
                             "BACKFILL_FETCH_RETRY_DELAY_SECONDS": "2.5"})
    assert fetch_retry_policy(env, "binance") == dg.RetryPolicy(
        max_retries=5, delay=2.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def test_a_transient_failure_is_retried_and_the_run_succeeds(tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    settings = Settings(vendors=BINANCE_CRYPTO, automation=AutomationConfig(fetch_retries=2, fetch_retry_delay_seconds=0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assets = build_ohlcv_assets([MARKETS["crypto"]], settings)
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("crypto_symbols", ["BTC-USD"])
        result = dg.materialize(
            assets, selection=[dg.AssetKey(["ohlcv", "crypto", "1d"])], instance=instance,
            resources={"warehouse": WarehouseResource(url=url),
                       "bars_crypto": FlakyVendorResource(marker=str(tmp_path / "failed"))},
            tags={"dagster/asset_partition_range_start": "2024-03-09|BTC-USD",
                  "dagster/asset_partition_range_end": "2024-03-10|BTC-USD"},
            raise_on_error=False)
    assert result.success
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 1
    log = [(r["status"], r["session"].isoformat(), r["bars"]) for r in fetch_rows(url)]
    assert log == [("error", "2024-03-09", 0), ("error", "2024-03-10", 0), ("ok", "2024-03-09", 1), ("ok", "2024-03-10", 1)]


def test_finalisation_delays_are_the_clients_own():
    assert finalization_delay("polygon") == pd.Timedelta(hours=4, minutes=30)
    assert finalization_delay("demo") == pd.Timedelta(0)
    assert finalization_delay("binance") == pd.Timedelta(minutes=1)
