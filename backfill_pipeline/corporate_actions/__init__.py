"""Corporate actions: sources, storage and price adjustment (no Dagster)."""
