"""Macro indicators: series configuration, sources with vintages (demo, FRED), point-in-time and latest daily views (no Dagster)."""
