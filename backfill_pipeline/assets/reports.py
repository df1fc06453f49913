"""reports/completeness: the completeness matrix of every registered symbol, shown in the UI."""

import dagster as dg
import pandas as pd

from backfill_pipeline.gaps import scan
from backfill_pipeline.markets import MARKETS, last_closed_sessions
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.report import markdown_table, matrix, series_report
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES, derivation_sources

COMPLETENESS_REPORT_KEY = dg.AssetKey(["reports", "completeness"])


def build_report_assets(settings: Settings, sessions: int = 20) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=COMPLETENESS_REPORT_KEY,
        group_name="reports",
        deps=[ohlcv_key(m, tf) for m in MARKETS for tf in TIMEFRAME_NAMES],
        required_resource_keys={"warehouse"},
        kinds={"pandas"},
        description=f"Completeness % of every registered symbol x timeframe over the last {sessions} closed "
        "sessions of its market, with missing bars by gap class (the matrix is in the metadata). "
        "The same figures as `backfill-pipeline report`.",
    )
    def completeness_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        warehouse = context.resources.warehouse.get()
        tables = []
        for market in settings.markets():
            symbols = list(context.instance.get_dynamic_partitions(market.symbols_partitions_name))
            if symbols:
                tables.append(scan(warehouse, market, symbols, list(TIMEFRAME_NAMES), last_closed_sessions(market, sessions),
                                   derivation_sources(settings.fetched_timeframes(market.name))))
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
            columns=["market", "symbol", "timeframe", "session", "expected", "present", "gap_class"])
        report = series_report(table)
        return dg.MaterializeResult(metadata={
            "completeness_matrix": dg.MetadataValue.md(markdown_table(matrix(report))),
            "missing_bars": int(report["missing"].sum()) if len(report) else 0,
            "series": len(report),
            "sessions": sessions,
        })

    return [completeness_report]
