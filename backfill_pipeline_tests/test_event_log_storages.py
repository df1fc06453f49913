"""The project's event log storages (dagster_private/) against Dagster's own, on SQLite and on
PostgreSQL: the same ranged runs leave the same partition statuses, materialised partitions,
latest events, records and latest run per partition (what the UI, the asset status cache and
the sensors read), with far fewer rows written.

Dagster's own storages run with their defaults (one planned event per partition), where a
failed run's partitions show as failed: that is the behaviour to keep.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pytest
import sqlalchemy as sa

from backfill_pipeline import dagster_private as dp
from backfill_pipeline_tests.conftest import DEFAULT_PG_ADMIN_URL

_DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")
_KEYS = _DAYS.get_partition_keys()
_OURS = {"sqlite": "BatchedSqliteEventLogStorage", "postgres": "BatchedPostgresEventLogStorage"}
_DAGSTERS = {"sqlite": "SqliteEventLogStorage", "postgres": "PostgresEventLogStorage"}


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


def _range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _run_ranged(instance: dg.DagsterInstance, first: str, last: str, fail: bool = False) -> str:
    result = dg.materialize(_ranged_assets(fail), instance=instance, tags=_range_tags(first, last),
                            raise_on_error=False)
    assert result.success is not fail
    return result.run_id


def _queue_ranged(instance: dg.DagsterInstance, first: str, last: str) -> str:
    """A ranged run created (its planned events written) and not started: in progress."""
    defs = dg.Definitions(assets=_ranged_assets(False), jobs=[dg.define_asset_job("both", selection="*")])
    run = instance.create_run_for_job(defs.resolve_job_def("both"), tags=_range_tags(first, last))
    return run.run_id


def _scenario(instance: dg.DagsterInstance) -> dict[str, str]:
    """Run id -> what it did: a success over 01-02..01-08, a failure over 01-06..01-09 (which
    Dagster shows as failed, materialised before or not), a pending run over 01-10..01-11."""
    return {
        _run_ranged(instance, "2024-01-02", "2024-01-08"): "ok",
        _run_ranged(instance, "2024-01-06", "2024-01-09", fail=True): "failed",
        _queue_ranged(instance, "2024-01-10", "2024-01-11"): "pending",
    }


def _partition_view(instance: dg.DagsterInstance, runs: dict[str, str]) -> dict:
    out = {}
    for name in ("days", "derived"):
        key = dg.AssetKey(name)
        statuses = instance.get_status_by_partition(key, _KEYS, _DAYS)
        latest = instance.get_latest_materialization_event(key)
        records = instance.fetch_materializations(key, limit=100).records
        planned = {p: instance.event_log_storage.get_latest_planned_materialization_info(key, p) for p in _KEYS}
        out[name] = {
            "status": {k: str(v) for k, v in (statuses or {}).items()},
            "materialized": sorted(instance.get_materialized_partitions(key)),
            "latest": latest.dagster_event.partition if latest and latest.dagster_event else None,
            "records": sorted(r.partition_key or "" for r in records),
            "latest_run": {p: runs.get(info.run_id) if info else None for p, info in planned.items()},
        }
    return out


def _planned_rows(instance: dg.DagsterInstance) -> int:
    records = instance.fetch_planned_materializations(dg.AssetKey("days"), limit=1000).records
    return len(records)


@contextmanager
def _instance(kind: str, ours: bool, home: str) -> Iterator[dg.DagsterInstance]:
    if kind == "sqlite":
        overrides = ({"event_log_storage": {"module": "backfill_pipeline.dagster_private", "class": _OURS[kind]}}
                     if ours else None)
        with dg.instance_for_test(temp_dir=home, overrides=overrides) as instance:
            yield instance
        return
    from backfill_pipeline.bench.backfill import production_instance_storage
    from backfill_pipeline.bench.pg import throwaway_database

    admin = os.environ.get("BACKFILL_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
    try:
        database = throwaway_database(admin, "bp_test_events")
        url = database.__enter__()
    except sa.exc.OperationalError as exc:
        if os.environ.get("BACKFILL_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    try:
        storage_url = sa.engine.make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
        overrides = (production_instance_storage(storage_url) if ours
                     else {"storage": {"postgres": {"postgres_url": storage_url}}})
        with dg.instance_for_test(temp_dir=home, overrides=overrides) as instance:
            yield instance
    finally:
        database.__exit__(None, None, None)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_our_event_log_reads_back_what_dagsters_own_does(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    views, planned = {}, {}
    for ours in (False, True):
        home = tmp_path / ("ours" if ours else "dagster")
        home.mkdir()
        with _instance(kind, ours, str(home)) as instance:
            assert type(instance.event_log_storage).__name__ == (_OURS if ours else _DAGSTERS)[kind]
            runs = _scenario(instance)
            views[ours] = _partition_view(instance, runs)
            planned[ours] = _planned_rows(instance)
    assert views[True] == views[False]
    days = views[True]["days"]
    assert days["materialized"] == [f"2024-01-0{d}" for d in range(2, 9)]
    assert days["status"]["2024-01-09"] == "AssetPartitionStatus.FAILED"
    assert days["status"]["2024-01-10"] == "AssetPartitionStatus.IN_PROGRESS"
    assert days["status"]["2024-01-02"] == "AssetPartitionStatus.MATERIALIZED"
    assert days["status"]["2024-01-07"] == "AssetPartitionStatus.FAILED"  # its newest attempt failed
    assert days["latest_run"]["2024-01-07"] == "failed" and days["latest_run"]["2024-01-02"] == "ok"
    assert views[True]["derived"]["status"]["2024-01-09"] == "AssetPartitionStatus.FAILED"
    # Dagster's: one planned event per partition (7 + 4 + 2); ours: one per run
    assert (planned[False], planned[True]) == (13, 3)


def test_batched_sqlite_event_log_writes_each_partition_once_per_shard(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with _instance("sqlite", True, str(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, dp.BatchedSqliteEventLogStorage)
        assert storage._base_dir.rstrip("/") == str(tmp_path / "history" / "runs")  # Dagster's own place
        run_id = _run_ranged(instance, "2024-01-02", "2024-01-08")
        with storage.index_connection() as conn:
            rows = conn.exec_driver_sql(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type='ASSET_MATERIALIZATION'").scalar()
        with storage.run_connection(run_id) as conn:
            in_run = conn.exec_driver_sql(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type='ASSET_MATERIALIZATION'").scalar()
        assert rows == in_run == 14  # 7 partitions x 2 assets, in the run shard and mirrored in the index


def test_batched_sqlite_event_log_after_a_wipe(tmp_path, monkeypatch):
    """A wipe (run shard files deleted, index emptied) leaves a storage that stores and reads
    back the runs after it, through its kept index engine."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with _instance("sqlite", True, str(tmp_path)) as instance:
        runs = {_run_ranged(instance, "2024-01-02", "2024-01-08"): "ok"}
        instance.wipe()
        assert _partition_view(instance, runs)["days"]["materialized"] == []
        runs = {_run_ranged(instance, "2024-01-02", "2024-01-08"): "ok"}
        assert len(_partition_view(instance, runs)["days"]["materialized"]) == 7
        assert len(instance.get_runs()) == 1  # the wipe removed the first run


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_our_event_logs_turn_dagster_batching_on(kind, tmp_path, monkeypatch):
    for name in dp.EVENT_BATCHING_ENV:
        monkeypatch.delenv(name, raising=False)
    with _instance(kind, True, str(tmp_path)) as instance:
        _ = instance.event_log_storage
        assert {k: os.environ.get(k) for k in dp.EVENT_BATCHING_ENV} == dp.EVENT_BATCHING_ENV
