"""Macro indicators: series configuration, sources (demo, FRED), as-of daily table (no Dagster)."""
