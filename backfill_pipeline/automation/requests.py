"""Ranged RunRequests: a date range x a contiguous block of symbols, for one job.

A multi-partition range is the product of a date range and a symbol range in the order the
symbols were registered, so a request may only name symbols that are adjacent in that
order (otherwise the range would also cover the symbols in between). Blocks are capped at
`symbols_per_run` so that one market's day is a few runs that can proceed in parallel,
not one long run, and not one run per symbol-day (a run costs ~2-4 s of overhead).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import dagster as dg

from backfill_pipeline.automation.jobs import JobGroup
from backfill_pipeline.names import RANGE_END_TAG, RANGE_START_TAG, TAG_BATCH, TAG_MARKET, TAG_ORIGIN


def symbol_blocks(order: Sequence[str], wanted: Iterable[str], max_size: int) -> list[list[str]]:
    """`wanted` split into blocks that are contiguous in `order`, each at most `max_size` long."""
    position = {s: i for i, s in enumerate(order)}
    blocks: list[list[str]] = []
    last = -2
    for pos in sorted({position[s] for s in wanted if s in position}):
        if blocks and pos == last + 1 and len(blocks[-1]) < max_size:
            blocks[-1].append(order[pos])
        else:
            blocks.append([order[pos]])
        last = pos
    return blocks


def date_runs(keys: Iterable[str], universe: Sequence[str]) -> list[tuple[str, str]]:
    """(first, last) of each run of `keys` that is consecutive in `universe` (sorted date keys)."""
    position = {k: i for i, k in enumerate(universe)}
    runs: list[list[str]] = []
    for key in sorted(set(keys), key=position.__getitem__):
        if runs and position[key] == position[runs[-1][-1]] + 1:
            runs[-1].append(key)
        else:
            runs.append([key])
    return [(r[0], r[-1]) for r in runs]


def ranged_request(
    group: JobGroup,
    timeframes: Iterable[str] | None,
    first_date: str,
    last_date: str,
    block: Sequence[str],
    origin: str,
    batch: str,
    run_key_prefix: str,
    extra_tags: Mapping[str, str] | None = None,
) -> dg.RunRequest:
    """One run of `group.name` over [first_date, last_date] x [block[0], block[-1]].

    `timeframes` None runs the whole job; otherwise only those assets (and their checks).
    """
    selection = group.keys(None if timeframes is None else frozenset(timeframes))
    start, end = f"{first_date}|{block[0]}", f"{last_date}|{block[-1]}"
    digest = hashlib.sha1("|".join([start, end, *(k.to_user_string() for k in selection)]).encode()).hexdigest()[:12]
    return dg.RunRequest(
        run_key=f"{run_key_prefix}:{digest}",
        job_name=group.name,
        asset_selection=None if timeframes is None else selection,
        tags={
            RANGE_START_TAG: start,
            RANGE_END_TAG: end,
            TAG_ORIGIN: origin,
            TAG_BATCH: batch,
            TAG_MARKET: group.market.name,
            **(extra_tags or {}),
        },
    )


def grouped_requests(
    group: JobGroup,
    wanted: Mapping[tuple[str, str], frozenset[str]],
    date_universe: Sequence[str],
    order: Sequence[str],
    max_symbols: int,
    origin: str,
    batch: str,
    run_key_prefix: str,
    tags_for: Callable[[frozenset[str], str, str, list[str]], Mapping[str, str]] | None = None,
) -> list[dg.RunRequest]:
    """Cover exactly the partitions `wanted` ((date key, symbol) -> timeframes) with few
    ranged requests: symbols that need the same timeframes over the same date run share one
    request per contiguous block."""
    per_symbol: dict[tuple[frozenset[str], str], list[str]] = defaultdict(list)
    for (date_key, symbol), tfs in wanted.items():
        per_symbol[(tfs, symbol)].append(date_key)
    shared: dict[tuple[frozenset[str], str, str], list[str]] = defaultdict(list)
    for (tfs, symbol), keys in per_symbol.items():
        for first, last in date_runs(keys, date_universe):
            shared[(tfs, first, last)].append(symbol)
    requests = []
    for (tfs, first, last), symbols in sorted(shared.items(), key=lambda kv: (kv[0][1], kv[0][2], sorted(kv[0][0]))):
        whole_job = tfs == frozenset(group.timeframes)
        for block in symbol_blocks(order, symbols, max_symbols):
            tags = tags_for(tfs, first, last, block) if tags_for else None
            requests.append(ranged_request(group, None if whole_job else tfs, first, last, block, origin, batch,
                                           run_key_prefix, tags))
    return requests
