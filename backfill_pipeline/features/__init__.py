"""Features derived from stored bars (pure computations and their storage; no Dagster)."""
