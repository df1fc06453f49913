"""Polygon.io: spec (facts), client (aggregates), wire (typed page decoding), reference
(splits, dividends) and resource (the Dagster resources; the only module importing Dagster)."""
