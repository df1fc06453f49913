"""A backfill of this week's sessions with 1w selected: Dagster must not refuse it because
the days still to come do not exist yet as 1d partitions (a UI backfill of the week in
progress failed from Monday to Thursday with "depends on non-existent partitions")."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from backfill_pipeline.markets import get_market
from backfill_pipeline.partitions import ohlcv_partitions, source_mapping

MARKET = get_market("us_equities")
WEDNESDAY = dt.datetime(2026, 12, 2, 22, 0, tzinfo=dt.UTC)  # after Wednesday's close


def _mapped(instance: dg.DagsterInstance, week: str):
    daily = ohlcv_partitions(MARKET, "daily", dt.date(2026, 1, 1))
    weekly = ohlcv_partitions(MARKET, "weekly", dt.date(2026, 1, 1))
    downstream = weekly.empty_subset().with_partition_keys([f"{week}|AAPL"])
    return source_mapping().get_upstream_mapped_partitions_result_for_partitions(
        downstream, weekly, daily, current_time=WEDNESDAY, dynamic_partitions_store=instance)


def test_the_week_in_progress_maps_to_its_sessions_so_far_and_requires_none_to_come() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(MARKET.symbols_partitions_name, ["AAPL"])
        result = _mapped(instance, "2026-11-30")
    # Monday to Wednesday exist (at 17:00 New York Wednesday's is the one end_offset=1 adds)
    assert sorted(result.partitions_subset.get_partition_keys()) == [
        "2026-11-30|AAPL", "2026-12-01|AAPL", "2026-12-02|AAPL"]
    assert not result.required_but_nonexistent_subset.get_partition_keys()  # Friday may not exist yet


def test_a_finished_week_still_maps_to_all_five_sessions() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(MARKET.symbols_partitions_name, ["AAPL"])
        result = _mapped(instance, "2026-11-16")
    assert sorted(result.partitions_subset.get_partition_keys()) == [
        f"2026-11-{d}|AAPL" for d in ("16", "17", "18", "19", "20")]
    assert not result.required_but_nonexistent_subset.get_partition_keys()
