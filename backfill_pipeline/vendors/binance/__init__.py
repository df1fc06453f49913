"""Binance spot: spec (facts), client (klines) and resource (the Dagster resource; the only
module importing Dagster)."""
