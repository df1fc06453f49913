"""The partitions a date x symbol run was given, checked before anything is fetched or written.

Two inputs reach an asset without passing the CLI's checks: a key range typed into
`dagster asset materialize --partition-range` (a reversed one selects no partition at all)
and a symbol partition added in the UI (it may break the symbol rule of markets.py). Both
are permanent errors: the step fails with a message that names them and is not retried.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from backfill_pipeline.markets import SYMBOL_RULE, Market, is_valid_symbol
from backfill_pipeline.names import RANGE_END_TAG, RANGE_START_TAG
from backfill_pipeline.partitions import split_key


def checked_partition_keys(context: dg.AssetExecutionContext, market: Market) -> tuple[list[str], list[str]]:
    """(keys whose symbol is valid, the invalid symbols, sorted). Raises a non-retried
    dg.Failure when the run selects no partition or only invalid symbols."""
    keys = list(context.partition_keys)
    if not keys:
        tags = context.run.tags
        order = list(context.instance.get_dynamic_partitions(market.symbols_partitions_name))
        raise dg.Failure(empty_range_message(tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG), order),
                         allow_retries=False)
    valid, invalid = [], set()
    for key in keys:
        symbol = split_key(key)[1]
        if is_valid_symbol(symbol):
            valid.append(key)
        else:
            invalid.add(symbol)
    if not valid:
        raise dg.Failure(invalid_symbols_message(market, sorted(invalid)), allow_retries=False)
    return valid, sorted(invalid)


def invalid_symbols_message(market: Market, symbols: Sequence[str]) -> str:
    shown = ", ".join(repr(s) for s in symbols)
    return (f"invalid symbol partition(s) of {market.name}: {shown}; nothing fetched or written for them. "
            f"A symbol holds {SYMBOL_RULE}: remove the partition (backfill-pipeline symbols remove) "
            "and add the right one")


def empty_range_message(start: str | None, end: str | None, order: Sequence[str]) -> str:
    if not start or not end or "|" not in start or "|" not in end:
        return "the run selects no partition"
    (first_date, first_symbol), (last_date, last_symbol) = start.split("|", 1), end.split("|", 1)
    reasons = []
    if first_date > last_date:
        reasons.append(f"its first date {first_date} is after its last date {last_date}")
    positions = {s: i for i, s in enumerate(order)}
    for symbol in (first_symbol, last_symbol):
        if symbol not in positions:
            reasons.append(f"{symbol!r} is not a registered symbol")
    if first_symbol in positions and last_symbol in positions and positions[first_symbol] > positions[last_symbol]:
        reasons.append(f"{first_symbol} is registered after {last_symbol} (symbols range in registration order: "
                       f"{', '.join(order[:10])}{', ...' if len(order) > 10 else ''})")
    why = "; ".join(reasons) or "no session or symbol lies between its ends"
    return f"the partition range {start}...{end} selects no partition: {why}. Nothing was fetched or written."
