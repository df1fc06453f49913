"""EODHD: spec (facts), client (intraday and EOD bars), reference (splits, dividends) and
resource (the Dagster resources; the only module importing Dagster)."""
