"""reports/backfill_status: the last backfill of each market, as asset metadata in the UI.

The same figures as `backfill-pipeline status` (automation/status.py). Unpartitioned and
cheap (run records, a few event logs, two fetch-log queries); materialise it from the UI.
"""

import dagster as dg

from backfill_pipeline.automation.status import recent_batches
from backfill_pipeline.markets import MARKETS
from backfill_pipeline.names import BACKFILL_STATUS_KEY

_COLUMNS = ("kind", "title", "created", "runs_ok", "runs_failed", "runs_running", "symbols_ok", "symbols_failed",
            "bars_written", "requests", "rate_limit_waits", "rate_limited_runs")


@dg.asset(
    key=BACKFILL_STATUS_KEY,
    group_name="reports",
    required_resource_keys={"warehouse"},
    kinds={"pandas"},
    description="The last backfill (asset backfill, or the runs of one schedule/sensor tick) of each market: "
    "when, runs ok/failed, symbols ok/failed, bars written, vendor requests, rate-limit waits. "
    "The same figures as `backfill-pipeline status`.",
)
def backfill_status(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    warehouse = context.resources.warehouse.get()
    metadata: dict[str, dg.RawMetadataValue] = {}
    lines = ["| market | " + " | ".join(_COLUMNS) + " |", "|" + "---|" * (len(_COLUMNS) + 1)]
    for market in MARKETS:
        batches = recent_batches(context.instance, warehouse, market, limit=1)
        if not batches:
            lines.append(f"| {market} | no backfill yet |" + " |" * (len(_COLUMNS) - 1))
            continue
        row = batches[0].as_dict()
        lines.append(f"| {market} | " + " | ".join(str(row[c]) for c in _COLUMNS) + " |")
        for name in ("runs_ok", "runs_failed", "symbols_ok", "symbols_failed", "bars_written", "requests",
                     "rate_limit_waits"):
            metadata[f"{market}/{name}"] = int(row[name])  # type: ignore[call-overload]
        metadata[f"{market}/last_batch"] = f"{row['kind']}: {row['title']} at {row['created']}"
    metadata["last_backfills"] = dg.MetadataValue.md("\n".join(lines))
    return dg.MaterializeResult(metadata=metadata)
