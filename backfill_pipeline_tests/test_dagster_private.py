"""Every private Dagster name the project uses still exists and still behaves as relied on.

A Dagster upgrade that moves or changes one fails here, by name, instead of in a sensor
tick or a CLI command at run time.
"""

import datetime as dt

import dagster as dg

from backfill_pipeline import dagster_private as dp


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
