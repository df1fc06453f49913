"""Every private Dagster name the project uses still exists and still behaves as relied on.

A Dagster upgrade that moves or changes one fails here, by name, instead of in a sensor
tick or a CLI command at run time.
"""

import datetime as dt
import inspect
import os

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
    from backfill_pipeline.automation.run_liveness import worker_pid

    with dg.instance_for_test() as instance:
        run = instance.add_run(dg.DagsterRun(job_name="j", status=dg.DagsterRunStatus.STARTED))
        assert worker_pid(instance, run.run_id) is None
        instance.report_engine_event("Started process for run (pid: 4321).", run, dp.EngineEventData.in_process(4321))
        pid, reported_at = worker_pid(instance, run.run_id)
        assert pid == 4321 and reported_at > 0
# --- BatchedSqliteEventLogStorage: the embedded instance's event log (dagster.yaml) ---

_DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")


def _ranged_assets(fail: bool) -> list[dg.AssetsDefinition]:
    @dg.asset(partitions_def=_DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        if fail:
            raise dg.Failure("vendor down")
        return dg.MaterializeResult(metadata={"run_rows": len(context.partition_keys)})

    @dg.asset(partitions_def=_DAYS, deps=[days], backfill_policy=dg.BackfillPolicy.single_run())
    def derived(context: dg.AssetExecutionContext) -> None:
        return None

    return [days, derived]


def _run_ranged(instance: dg.DagsterInstance, fail: bool = False) -> bool:
    first, last = ("2024-01-09", "2024-01-10") if fail else ("2024-01-02", "2024-01-08")
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return dg.materialize(_ranged_assets(fail), instance=instance, tags=tags, raise_on_error=False).success


def _batched_instance(home: str) -> dg.DagsterInstance:
    config = {"module": "backfill_pipeline.dagster_private", "class": "BatchedSqliteEventLogStorage"}
    return dg.instance_for_test(temp_dir=home, overrides={"event_log_storage": config})


def _partition_view(instance: dg.DagsterInstance) -> dict:
    keys = _DAYS.get_partition_keys()
    out = {}
    for name in ("days", "derived"):
        key = dg.AssetKey(name)
        statuses = instance.get_status_by_partition(key, keys, _DAYS)
        latest = instance.get_latest_materialization_event(key)
        records = instance.fetch_materializations(key, limit=100).records
        out[name] = {
            "status": {k: str(v) for k, v in (statuses or {}).items()},
            "materialized": sorted(instance.get_materialized_partitions(key)),
            "latest": latest.dagster_event.partition if latest and latest.dagster_event else None,
            "records": sorted(r.partition_key or "" for r in records),
        }
    return out


def test_batched_sqlite_event_log_stores_what_dagsters_own_does(tmp_path, monkeypatch):
    """Same ranged runs (one succeeding, one failing) on Dagster's SqliteEventLogStorage and
    on ours (per-partition planned events, batched): the partition statuses, materialised partitions, latest event and records that
    the UI and sensors read are the same; and ours wrote the batch in one index transaction
    (every partition's row and tags present)."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)  # failed shows as failed
    views = []
    for kind in ("dagster", "batched"):
        home = str(tmp_path / kind)
        os.makedirs(home)
        context = dg.instance_for_test(temp_dir=home) if kind == "dagster" else _batched_instance(home)
        with context as instance:
            storage = instance.event_log_storage
            assert type(storage).__name__ == ("SqliteEventLogStorage" if kind == "dagster" else "BatchedSqliteEventLogStorage")
            assert _run_ranged(instance)
            assert not _run_ranged(instance, fail=True)
            views.append(_partition_view(instance))
            if kind == "batched":
                assert isinstance(storage, dp.BatchedSqliteEventLogStorage)
                assert storage._base_dir.rstrip("/") == str(tmp_path / kind / "history" / "runs")  # Dagster's own place
                with storage.index_connection() as conn:
                    rows = conn.exec_driver_sql(
                        "SELECT count(*) FROM event_logs WHERE dagster_event_type='ASSET_MATERIALIZATION'").scalar()
                assert rows == 14  # 7 partitions x 2 assets, each mirrored in the index shard
    dagster_view, batched_view = views
    assert batched_view == dagster_view
    assert batched_view["days"]["materialized"] == [f"2024-01-0{d}" for d in range(2, 9)]
    assert batched_view["days"]["latest"] == "2024-01-08"
    assert batched_view["days"]["status"]["2024-01-09"] == "AssetPartitionStatus.FAILED"


def test_batched_sqlite_event_log_after_a_wipe(tmp_path, monkeypatch):
    """A wipe (run shard files deleted, index emptied) leaves a storage that stores and reads
    back the runs after it, through its kept index engine."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with _batched_instance(str(tmp_path)) as instance:
        assert _run_ranged(instance)
        instance.wipe()
        assert _partition_view(instance)["days"]["materialized"] == []
        assert _run_ranged(instance)
        assert len(_partition_view(instance)["days"]["materialized"]) == 7
        assert len(instance.get_runs()) == 1  # the wipe removed the first run


def test_batched_sqlite_event_log_turns_dagster_batching_on(tmp_path, monkeypatch):
    for name in dp.EVENT_BATCHING_ENV:
        monkeypatch.delenv(name, raising=False)
    with _batched_instance(str(tmp_path)) as instance:
        _ = instance.event_log_storage
        assert {k: os.environ.get(k) for k in dp.EVENT_BATCHING_ENV} == dp.EVENT_BATCHING_ENV


def test_repo_dagster_yaml_selects_the_batched_storage():
    config = repo_instance_config()
    assert config["event_log_storage"] == {"module": "backfill_pipeline.dagster_private",
                                           "class": "BatchedSqliteEventLogStorage"}
    dp.dagster_instance_config(str(repo_instance_yaml().parent))  # validates against Dagster's schema


def test_batched_storage_relies_on_these_dagster_internals():
    """The private members the subclass calls or replaces; a Dagster upgrade that renames or
    reshapes one fails here (and the pinned release is the one it was written against)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    assert dg.__version__ == "1.13.27", "re-check BatchedSqliteEventLogStorage against the new SqliteEventLogStorage"
    for name in ("_connect", "_initdb", "_event_to_row", "_store_asset_event_tags", "_store_asset_event",
                 "conn_string_for_shard", "index_transaction", "store_event_batch"):
        assert callable(getattr(SqliteEventLogStorage, name)), name
    assert list(inspect.signature(SqliteEventLogStorage._connect).parameters) == ["self", "shard"]
    assert list(inspect.signature(SqliteEventLogStorage._store_asset_event_tags).parameters) == [
        "self", "conn", "events", "event_ids"]


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
