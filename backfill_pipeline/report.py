"""Completeness reports from a gap scan: per-series table, matrix, Markdown, JSON, heatmap."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from backfill_pipeline.gaps import GAP_CLASSES, SEVERITY
from backfill_pipeline.timeframes import duration_rank, get_timeframe

REPORT_COLUMNS = ["market", "symbol", "timeframe", "expected", "present", "missing", "completeness_pct",
                  "first_ts", "last_ts", *GAP_CLASSES]


def series_report(table: pd.DataFrame, bounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (market, symbol, timeframe) of a scan table."""
    if table.empty:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    frame = table.assign(missing=(table["expected"] - table["present"]).clip(lower=0))
    keys = ["market", "symbol", "timeframe"]
    out = frame.groupby(keys, sort=False).agg(expected=("expected", "sum"), missing=("missing", "sum"))
    out["present"] = out["expected"] - out["missing"]
    out["completeness_pct"] = (100 * out["present"] / out["expected"].where(out["expected"] > 0)).fillna(100).round(2)
    classes = pd.crosstab([frame[k] for k in keys], frame["gap_class"]).reindex(columns=list(GAP_CLASSES), fill_value=0)
    out = out.join(classes).fillna(dict.fromkeys(GAP_CLASSES, 0)).reset_index()
    if bounds is not None and not bounds.empty:
        out = out.merge(bounds, on=["market", "symbol", "timeframe"], how="left")
    else:
        out["first_ts"], out["last_ts"] = pd.NaT, pd.NaT
    for cls in GAP_CLASSES:
        out[cls] = out[cls].astype("int64")
    return out[REPORT_COLUMNS]


def matrix(report: pd.DataFrame) -> pd.DataFrame:
    """Symbols as rows, timeframes as columns, completeness % as values."""
    if report.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(report["timeframe"]))
    wide = report.pivot_table(index=["market", "symbol"], columns="timeframe", values="completeness_pct", sort=False)
    return wide[order]


def markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no data_\n"
    index_names = [n or "" for n in frame.index.names]
    header = index_names + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in frame.iterrows():
        idx_cells = list(idx) if isinstance(idx, tuple) else [idx]
        cells = [str(c) for c in idx_cells] + [f"{v:.1f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_markdown(report: pd.DataFrame, header: Mapping[str, object]) -> str:
    parts = ["# Completeness report", ""] + [f"- {k}: {v}" for k, v in header.items()]
    parts += ["", "## Completeness % (symbol x timeframe)", "", markdown_table(matrix(report)), "## Per series", ""]
    detail = report.assign(
        first_ts=report["first_ts"].map(lambda t: "" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M}"),
        last_ts=report["last_ts"].map(lambda t: "" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M}"),
    ).set_index(["market", "symbol", "timeframe"])
    parts.append(markdown_table(detail))
    return "\n".join(parts)


def to_json(report: pd.DataFrame, header: Mapping[str, object]) -> str:
    rows = report.assign(
        first_ts=report["first_ts"].map(lambda t: None if pd.isna(t) else t.isoformat()),
        last_ts=report["last_ts"].map(lambda t: None if pd.isna(t) else t.isoformat()),
    ).to_dict(orient="records")
    totals = {"expected": int(report["expected"].sum()), "missing": int(report["missing"].sum())}
    return json.dumps({"header": dict(header), "totals": totals, "series": rows}, indent=1, default=str) + "\n"


class ReportFileError(ValueError):
    pass


def _load(path: Path) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text())
        frame = pd.DataFrame(data["series"])
        frame = frame[["market", "symbol", "timeframe", "expected", "missing"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportFileError(f"{path}: not a JSON report written by `report --format json` ({exc})") from None
    return frame


def compare(before_path: Path, after_path: Path) -> str:
    before, after = _load(before_path), _load(after_path)
    keys = ["market", "symbol", "timeframe"]
    merged = before.merge(after, on=keys, how="outer", suffixes=("_before", "_after")).fillna(0)
    by_tf = merged.groupby("timeframe", sort=False)[["missing_before", "missing_after"]].sum()
    by_tf = by_tf.loc[sorted(by_tf.index, key=duration_rank)]
    lines = [f"{'timeframe':<10} {'missing before':>15} {'missing after':>14} {'reduction':>10}"]
    for tf, row in by_tf.iterrows():
        lines.append(f"{tf:<10} {int(row.missing_before):>15} {int(row.missing_after):>14} "
                     f"{_pct(row.missing_before, row.missing_after):>10}")
    b, a = merged["missing_before"].sum(), merged["missing_after"].sum()
    lines.append(f"{'total':<10} {int(b):>15} {int(a):>14} {_pct(b, a):>10}")
    lines.append(f"missing bars reduced by {int(b - a)} ({_pct(b, a)})")
    return "\n".join(lines)


def _pct(before: float, after: float) -> str:
    return f"{100 * (before - after) / before:.1f}%" if before else "n/a"


def heatmap(table: pd.DataFrame, path: Path) -> Path:
    """PNG: symbols x sessions, the share of expected bars present (worst timeframe)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = table.assign(share=(table["present"] / table["expected"]).clip(upper=1.0),
                         sev=table["gap_class"].map(SEVERITY))
    frame = frame[~frame["timeframe"].map(lambda name: get_timeframe(name).weekly)]
    grid = frame.groupby([frame["market"] + " " + frame["symbol"], "session"])["share"].min().unstack("session")
    fig_w = min(24, 4 + 0.08 * grid.shape[1])
    fig, ax = plt.subplots(figsize=(fig_w, 1.5 + 0.35 * grid.shape[0]))
    image = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    step = max(1, grid.shape[1] // 12)
    ax.set_xticks(range(0, grid.shape[1], step), [f"{d:%Y-%m-%d}" for d in grid.columns[::step]], rotation=45, ha="right")
    ax.set_title("Share of expected bars present (worst timeframe per symbol and session)")
    fig.colorbar(image, ax=ax, fraction=0.025)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

