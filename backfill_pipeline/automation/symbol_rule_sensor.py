"""symbol_rule_sensor: symbols registered outside the project (the UI's "Add a partition",
Dagster's Python API) follow the same rule as the CLI's `symbols add`.

Every tick looks at each market's symbol partitions. A symbol that is not in its normal form
is replaced by it when that form is a valid ticker (`nflx` -> `NFLX`: the partition `nflx` is
deleted, `NFLX` added unless already there); one that cannot be made valid (a space, a
leading dot: whatever `symbols add` refuses) is deleted. Each change is logged on the tick.
Until the tick runs, the OHLCV assets refuse such a partition (nothing is fetched or written under a bad key), and
`backfill-pipeline symbols remove` removes it by its exact name.
"""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.markets import InvalidSymbolError, Market, normalize_symbol
from backfill_pipeline.names import SYMBOL_RULE_SENSOR


def symbol_fixes(registered: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(to delete, to add, log lines) for a market's registered symbols."""
    current = set(registered)
    delete, add, lines = [], [], []
    for symbol in registered:
        try:
            normal = normalize_symbol(symbol)
        except InvalidSymbolError as exc:
            delete.append(symbol)
            lines.append(f"removed {symbol!r}: {exc}")
            continue
        if normal == symbol:
            continue
        delete.append(symbol)
        if normal in current or normal in add:
            lines.append(f"removed {symbol!r}: {normal} is already registered")
        else:
            add.append(normal)
            lines.append(f"renamed {symbol!r} to {normal}")
    return delete, add, lines


def build_symbol_rule_sensor(markets: list[Market], running: bool = True) -> dg.SensorDefinition:
    @dg.sensor(
        name=SYMBOL_RULE_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="Symbols added outside the CLI (the UI's 'Add a partition') follow the CLI's rule: upper-cased "
        "when that makes a valid ticker (nflx -> NFLX), else removed. Each change is logged on the tick.",
    )
    def symbol_rule_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        for market in markets:
            name = market.symbols_partitions_name
            delete, add, lines = symbol_fixes(list(context.instance.get_dynamic_partitions(name)))
            for line in lines:
                context.log.info(f"{market.name}: {line}")
            if delete:
                requests.append(dg.DeleteDynamicPartitionsRequest(name, delete))
            if add:
                requests.append(dg.AddDynamicPartitionsRequest(name, add))
        if not requests:
            return dg.SensorResult(skip_reason="every registered symbol follows the rule")
        return dg.SensorResult(dynamic_partitions_requests=requests)

    return symbol_rule_sensor
