"""FRED / ALFRED: spec (facts), client (series observations with vintages) and resource
(the macro Dagster resource; the only module importing Dagster)."""
