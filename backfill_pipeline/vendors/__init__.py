"""Vendor clients: plain Python (no Dagster), one package per vendor, shared machinery beside them.

One unit per vendor, each a package folder:

    vendors/<vendor>/spec.py       its facts: timeframes served, page size, free-tier limits,
                                   finalisation delay, ticker mapping, error semantics
    vendors/<vendor>/client.py     its client (the BarsClient interface; FRED: a MacroSource)
    vendors/polygon/wire.py        wire models (Polygon's typed aggregates page)
    vendors/<vendor>/reference.py  reference data (Polygon, EODHD: splits and dividends)
    vendors/<vendor>/resource.py   its Dagster resource(s): configuration only; with
                                   http_resource.py (their shared base) the ONLY modules
                                   under vendors/ that import Dagster
    vendors/demo/paths.py          the offline vendor's seeded price paths

with <vendor> one of polygon, eodhd, binance, fred, demo. `specs.py` is the registry that
collects every vendor's spec (SPECS: the bar vendors a market can use; SERIES_SPECS: FRED;
DEFAULT_LIMITS: the free tiers), and `spec.py` the VendorSpec type.

Shared machinery stays flat here (no `common/` subpackage: these modules are what every
vendor's client is built from, and their import paths stay stable for the rest of the
project): base (the interface and errors), client (the HTTP client base), http (requests,
retries, key rotation), responses (error semantics hooks), keys, limits, ratelimit and
ratelimit_store (the cross-process limiter), retry, redact, results, trace, windows and
symbols (our symbology), config (base URLs and key pools from the environment), and the
interfaces of the other sources, actions_source (corporate actions) and series_source
(macro series), which vendor clients implement and corporate_actions/ and macro/ consume.
The shared base of the networked vendors' Dagster resources is http_resource.py.

Package `__init__` files import nothing, so reading a spec never loads an HTTP client or
Dagster.
"""
