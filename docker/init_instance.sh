#!/bin/sh
# One-shot setup of the Dagster instance before the webserver and daemon start (service
# `dagster_init`): create or migrate the instance schema in PostgreSQL, then size the
# per-vendor concurrency pools (pool limits are instance state; dagster.yaml can only set a
# default). Pools cap concurrent fetch steps per vendor; request rates are enforced by the
# shared rate limiter in the warehouse database. Limits set here win over edits in the UI at
# the next start: change them in .env.
set -eu

dagster instance migrate

set_pool() {
    dagster instance concurrency set "vendor_$1" "$2"
}

set_pool demo "${BACKFILL_POOL_LIMIT_DEMO:-4}"
set_pool polygon "${BACKFILL_POOL_LIMIT_POLYGON:-2}"
set_pool eodhd "${BACKFILL_POOL_LIMIT_EODHD:-4}"
set_pool binance "${BACKFILL_POOL_LIMIT_BINANCE:-4}"
set_pool fred "${BACKFILL_POOL_LIMIT_FRED:-2}"
