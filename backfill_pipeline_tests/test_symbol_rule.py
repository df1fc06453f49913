"""Symbols added outside the CLI (the UI's "Add a partition" writes the instance directly)
follow the CLI's rule: the sensor renames or removes them, the assets refuse them meanwhile,
and the CLI removes them by the name they were added with."""

import dagster as dg

from backfill_pipeline.automation.symbol_rule_sensor import build_symbol_rule_sensor, symbol_fixes
from backfill_pipeline.markets import MARKETS
from backfill_pipeline_tests.helpers import fetch_rows, materialize, table_rows
from backfill_pipeline_tests.instances import shipped_instance

NAME = MARKETS["us_equities"].symbols_partitions_name


def test_symbol_fixes_rename_to_the_normal_form_or_remove():
    delete, add, lines = symbol_fixes(["AAPL", "nflx", " msft", "MSFT", ".HIDDEN", "brk.b", "a b"])
    assert delete == ["nflx", " msft", ".HIDDEN", "brk.b", "a b"]
    assert add == ["NFLX", "BRK.B"]
    assert "renamed 'nflx' to NFLX" in lines and "removed ' msft': MSFT is already registered" in lines
    assert any(line.startswith("removed 'a b': invalid symbol 'A B'") for line in lines)


def test_the_sensor_normalises_what_the_ui_added():
    sensor = build_symbol_rule_sensor([MARKETS["us_equities"], MARKETS["crypto"]])
    with shipped_instance() as instance:
        instance.add_dynamic_partitions(NAME, ["AAPL", "nflx"])  # what "Add a partition" does
        result = sensor(dg.build_sensor_context(instance=instance))
        assert [(type(r).__name__, r.partitions_def_name, list(r.partition_keys))
                for r in result.dynamic_partitions_requests] == [
            ("DeleteDynamicPartitionsRequest", NAME, ["nflx"]), ("AddDynamicPartitionsRequest", NAME, ["NFLX"])]
        instance.delete_dynamic_partition(NAME, "nflx")
        instance.add_dynamic_partitions(NAME, ["NFLX"])
        again = sensor(dg.build_sensor_context(instance=instance))
        assert again.dynamic_partitions_requests == [] or again.dynamic_partitions_requests is None
        assert "every registered symbol follows the rule" in (again.skip_reason or "")


def test_the_assets_refuse_a_symbol_that_breaks_the_rule(warehouse_url):
    with shipped_instance() as instance:
        instance.add_dynamic_partitions(NAME, ["nflx"])
        result = materialize(instance, warehouse_url, "us_equities", ["1m"], partition_key="2024-03-06|nflx")
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "invalid symbol partition(s) of us_equities: 'nflx'" in str(failure.step_failure_data.error)
        assert table_rows(warehouse_url) == [] and fetch_rows(warehouse_url) == []


def test_the_cli_removes_what_the_ui_added(cli_run):
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(NAME, ["MSFT", "nflx"])
    removed = cli_run("symbols", "remove", "--market", "us_equities", "nflx", "msft")
    assert removed.exit_code == 0, removed.output
    assert "us_equities: removed nflx MSFT" in removed.output
    with dg.DagsterInstance.get() as instance:
        assert list(instance.get_dynamic_partitions(NAME)) == []
