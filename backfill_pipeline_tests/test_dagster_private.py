"""Every private Dagster name the project uses still exists and still behaves as relied on.

A Dagster upgrade that moves or changes one fails here, by name, instead of in a sensor
tick or a CLI command at run time.
"""

import datetime as dt
import inspect

import dagster as dg

from backfill_pipeline import dagster_private as dp
from backfill_pipeline.instance import repo_instance_config, repo_instance_yaml


def test_every_private_name_imports():
    for name in dp.__all__:
        assert getattr(dp, name) is not None, name


def test_cron_arithmetic():
    tick = dt.datetime(2024, 3, 6, 2, 0, tzinfo=dt.UTC)
    previous = next(dp.cron_ticks_before("0 2 * * *", tick.timestamp() - 1))
    assert previous == dt.datetime(2024, 3, 5, 2, 0, tzinfo=dt.UTC)
    assert dp.is_valid_cron_string("0 2,14 * * *") and not dp.is_valid_cron_string("not a cron")


def test_define_asset_job_returns_the_private_job_class():
    assert isinstance(dg.define_asset_job("j", selection="*"), dp.AssetJob)


def test_asset_backfill_round_trip():
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
    def thing() -> None: ...

    defs = dg.Definitions(assets=[thing])
    with dg.instance_for_test() as instance:
        backfill_id = dp.add_asset_backfill(instance, defs, [(dg.AssetKey("thing"), "a")], tags={"t": "1"},
                                            title="t", description="d")
        targets = dp.requested_backfill_targets(instance)
        assert instance.get_backfill(backfill_id) is not None
        assert len(targets) == 1
        assert dp.AssetKeyPartitionKey(dg.AssetKey("thing"), "a") in targets[0]
        assert dp.AssetKeyPartitionKey(dg.AssetKey("thing"), "b") not in targets[0]


def test_a_run_worker_pid_reported_as_dagster_does_is_read_back():
    from backfill_pipeline.run_liveness import worker_pid

    with dg.instance_for_test() as instance:
        run = instance.add_run(dg.DagsterRun(job_name="j", status=dg.DagsterRunStatus.STARTED))
        assert worker_pid(instance, run.run_id) is None
        instance.report_engine_event("Started process for run (pid: 4321).", run, dp.EngineEventData.in_process(4321))
        pid, reported_at = worker_pid(instance, run.run_id)
        assert pid == 4321 and reported_at > 0
# --- the event log storages (behaviour: test_event_log_storages.py) ---


def test_repo_dagster_yaml_selects_the_batched_storage():
    config = repo_instance_config()
    assert config["event_log_storage"] == {"module": "backfill_pipeline.dagster_private",
                                           "class": "BatchedSqliteEventLogStorage"}
    dp.dagster_instance_config(str(repo_instance_yaml().parent))  # validates against Dagster's schema


def test_event_log_storages_rely_on_these_dagster_internals():
    """The private members the subclasses call or replace; a Dagster upgrade that renames or
    reshapes one fails here (and the pinned release is the one they were written against)."""
    from dagster._core.storage.event_log.base import EventLogStorage
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
    from dagster_postgres.event_log.event_log import PostgresEventLogStorage

    assert dg.__version__ == "1.13.27", "re-check dagster_private's event log storages against the new release"
    for name in ("_connect", "_initdb", "conn_string_for_shard", "index_transaction", "store_event_batch"):
        assert callable(getattr(SqliteEventLogStorage, name)), name
    for name in ("_event_to_row", "_store_asset_event_tags", "_store_asset_event", "_get_assets_details",
                 "_add_assets_wipe_filter_to_query", "_latest_event_ids_by_partition_subquery",
                 "get_latest_asset_partition_materialization_attempts_without_materializations",
                 "get_latest_planned_materialization_info"):
        assert callable(getattr(SqlEventLogStorage, name)), name
    for name in ("_connect", "_store_asset_event", "store_event_batch", "optimize_for_webserver"):
        assert callable(getattr(PostgresEventLogStorage, name)), name
    assert isinstance(EventLogStorage.supports_partition_subset_in_asset_materialization_planned_events, property)
    assert list(inspect.signature(SqliteEventLogStorage._connect).parameters) == ["self", "shard"]
    assert list(inspect.signature(SqlEventLogStorage._store_asset_event_tags).parameters) == [
        "self", "conn", "events", "event_ids"]
    assert list(inspect.signature(SqlEventLogStorage._latest_event_ids_by_partition_subquery).parameters) == [
        "self", "asset_key", "event_types", "asset_partitions", "before_cursor", "after_cursor"]
    assert list(inspect.signature(PostgresEventLogStorage.__init__).parameters) == [
        "self", "postgres_url", "should_autocreate_tables", "inst_data", "token_provider"]
    # the status cache asks the storage which planned events lack a materialisation: the reader
    # the ranged planned events are taught (planned_ranges.py)
    from dagster._core.storage import partition_status_cache

    assert "get_latest_asset_partition_materialization_attempts_without_materializations" in inspect.getsource(
        partition_status_cache.build_failed_and_in_progress_partition_subset)


def test_the_readmes_ui_selection_backfills_every_timeframe():
    """The selection the README gives for the UI selects the market's eight OHLCV assets, and a
    backfill launched with it and the picked sessions x symbols (what the launch dialog sends)
    targets those partitions of every timeframe, the 1w asset its weeks."""
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.names import ui_selection
    from backfill_pipeline.settings import Settings
    from backfill_pipeline.timeframes import TIMEFRAME_NAMES

    defs = build_definitions(Settings())
    keys = dg.AssetSelection.from_string(ui_selection("us_equities")).resolve(defs.resolve_asset_graph())
    assert sorted(k.to_user_string() for k in keys) == sorted(f"ohlcv/us_equities/{tf}" for tf in TIMEFRAME_NAMES)
    picked = ["2024-03-08|AAPL", "2024-03-11|AAPL"]  # a Friday and the Monday after
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        targets = dp.ui_backfill_targets(instance, defs, list(keys), picked)
    daily = {(f"ohlcv/us_equities/{tf}", pk) for tf in TIMEFRAME_NAMES if tf != "1w" for pk in picked}
    weekly = {("ohlcv/us_equities/1w", "2024-03-04|AAPL"), ("ohlcv/us_equities/1w", "2024-03-11|AAPL")}
    assert targets == daily | weekly
