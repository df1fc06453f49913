"""The offline demo vendor, a first-class implementation: spec (facts), client (seeded bars),
paths (the seeded price paths, shared with the demo corporate-actions and macro sources) and
resource (the Dagster resource; the only module importing Dagster)."""
