"""When to try again: the step retry policy of fetching assets, and the vendor timings the
gap sensor waits for (finalisation delay after a close).

Three layers retry, each for its own kind of failure:
- the vendor clients retry single requests (429/5xx/timeouts, Retry-After honoured);
- the step RetryPolicy below re-runs a fetching step that still failed (a database that
  dropped the connection, a vendor outage of a few minutes), with exponential backoff and
  jitter so parallel runs do not retry in lockstep;
- the gap sensor re-requests partitions whose last fetch failed, once per retry bucket and
  up to an attempt cap, and rate-limited ones only after a cool-down.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.specs import vendor_spec

# The offline demo vendor computes its bars locally: it cannot fail transiently, and its
# injected failures (fail_symbols) would only be repeated, so its steps are not retried.
_NO_STEP_RETRY = frozenset({"demo"})


def fetch_retry_policy(settings: Settings, vendor: str) -> dg.RetryPolicy | None:
    """RetryPolicy of the assets that fetch from `vendor` (None: no step retries)."""
    config = settings.automation
    if vendor in _NO_STEP_RETRY or config.fetch_retries == 0:
        return None
    return dg.RetryPolicy(
        max_retries=config.fetch_retries,
        delay=config.fetch_retry_delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def finalization_delay(vendor: str) -> pd.Timedelta:
    """How long after a session's close the vendor's bars are final (vendors/specs.py; the
    demo's is DemoVendorResource's default finalization_delay_minutes, 0)."""
    return vendor_spec(vendor).finalization_delay
