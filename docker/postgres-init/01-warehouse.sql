-- The warehouse (bars, fetch log, vendor requests, shared rate-limiter state) lives in its
-- own database on the same server as the Dagster instance. BACKFILL_WAREHOUSE_URL in .env
-- names it. Runs only when the PostgreSQL data volume is first initialised.
CREATE DATABASE warehouse;
