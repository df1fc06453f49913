"""Vendor configuration read from the environment, checked before any request (no Dagster).

A key list with no key or a base URL that is not an http(s) URL is a permanent
configuration error: retrying the step (30 s+ backoff, three times) cannot fix it, so the
resources fail the step at once with a message naming the variable, and `backfill` checks
the variables it can see before launching anything. Messages never show a key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from backfill_pipeline.env import EnvReader
from backfill_pipeline.vendors.keys import parse_key_list

# Vendors whose requests carry an API key from <VENDOR>_API_KEYS.
KEYED_VENDORS = ("polygon", "eodhd", "fred")


class VendorConfigError(ValueError):
    pass


def key_list(vendor: str, raw: str | None) -> list[str]:
    keys = parse_key_list(raw)
    if not keys:
        what = "is empty" if not (raw or "").strip() else "holds only commas and blanks"
        raise VendorConfigError(f"{vendor.upper()}_API_KEYS {what}: no API key for {vendor} "
                                "(expected a comma-separated list of keys)")
    return keys


def check_base_url(name: str, url: str) -> str:
    """`url` if it is an absolute http(s) URL with a host; `name` says where it was set."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        shown = url if parts is None or not parts.username else "(a URL with credentials)"
        raise VendorConfigError(f"{name}={shown!r} is not a base URL (expected http(s)://host[:port][/path])")
    return url


def env_problems(vendors: Iterable[str], env: Mapping[str, str] | None = None) -> list[str]:
    """Problems of the variables set in `env` for `vendors` (an unset variable is not a
    problem here: the process that runs the steps may hold it)."""
    read = EnvReader(env)
    problems = []
    for vendor in sorted(set(vendors)):
        keys_var, url_var = f"{vendor.upper()}_API_KEYS", f"{vendor.upper()}_BASE_URL"
        if vendor in KEYED_VENDORS and keys_var in read.env:  # set but blank is a problem here
            problems += _problem(key_list, vendor, read.env[keys_var])
        url = read.raw(url_var)
        if url is not None:
            problems += _problem(check_base_url, url_var, url)
    return problems


def _problem(check: Callable[[str, str], object], name: str, value: str) -> list[str]:
    try:
        check(name, value)
    except VendorConfigError as exc:
        return [str(exc)]
    return []
