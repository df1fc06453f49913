"""One unit per vendor: each vendor package holds its spec, client and resource; the plain
modules load without Dagster, and the registry collects every package's spec."""

import importlib
import subprocess
import sys

import pytest

from backfill_pipeline.vendors import specs

# Every module of a vendor package but resource.py, which is the Dagster side.
PLAIN_MODULES = {
    "polygon": ("spec", "client", "wire", "reference"),
    "eodhd": ("spec", "client", "reference"),
    "binance": ("spec", "client"),
    "fred": ("spec", "client"),
    "demo": ("spec", "client", "paths"),
}
# The shared modules beside the vendor packages that the clients and the plain domain code use.
SHARED_PLAIN_MODULES = ("base", "client", "http", "limits", "ratelimit", "config", "actions_source", "series_source")

_FIRST_TO_LOAD_DAGSTER = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    if any(m == "dagster" or m.startswith("dagster.") for m in sys.modules):
        print(name)
        break
"""


def test_polygon_client_imports_no_dagster():
    """The exact check: a fresh interpreter that imports the Polygon client has no Dagster."""
    code = "import sys, backfill_pipeline.vendors.polygon.client; print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_plain_vendor_module_imports_dagster():
    """Each plain module (and the registry) in turn, in one fresh interpreter: the first that
    brings Dagster in is named, so the failure says which module broke the rule."""
    names = ["backfill_pipeline.vendors.specs", *(f"backfill_pipeline.vendors.{m}" for m in SHARED_PLAIN_MODULES)] + [
        f"backfill_pipeline.vendors.{vendor}.{module}" for vendor, modules in PLAIN_MODULES.items() for module in modules
    ]
    out = subprocess.run([sys.executable, "-c", _FIRST_TO_LOAD_DAGSTER, *names], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "", f"{out.stdout.strip()} imports dagster"


@pytest.mark.parametrize("vendor", sorted(PLAIN_MODULES))
def test_each_vendor_package_holds_its_spec_client_and_resource(vendor):
    spec = importlib.import_module(f"backfill_pipeline.vendors.{vendor}.spec").SPEC
    assert spec.name == vendor
    # the registry holds the package's own spec object, not a copy that could drift
    assert (specs.SPECS | specs.SERIES_SPECS)[vendor] is spec
    resource = importlib.import_module(f"backfill_pipeline.vendors.{vendor}.resource")
    client = importlib.import_module(f"backfill_pipeline.vendors.{vendor}.client")
    clients = [c for c in vars(client).values() if isinstance(c, type) and getattr(c, "vendor", None) == vendor
               and c.__module__ == client.__name__]
    assert len(clients) == 1, f"vendors/{vendor}/client.py should define one client of vendor {vendor!r}"
    if spec.timeframes:  # a bar vendor: its client's finalisation delay is its spec's (demo: configurable)
        assert vendor == "demo" or clients[0].finalization_delay == spec.finalization_delay
    resources = [r for r in vars(resource).values() if isinstance(r, type) and r.__module__ == resource.__name__]
    assert resources, f"vendors/{vendor}/resource.py defines no resource"


def test_free_tiers_are_the_specs_limits():
    from backfill_pipeline.vendors.limits import default_limits, limits_from_env

    networked = {name: spec for name, spec in (specs.SPECS | specs.SERIES_SPECS).items() if spec.limits}
    assert set(networked) == {"polygon", "eodhd", "binance", "fred"}
    for name, spec in networked.items():
        assert default_limits(name) is spec.limits
        assert limits_from_env({})[name] == spec.limits
    assert set(specs.SPECS) == {"demo", "polygon", "eodhd", "binance"}  # FRED serves series, not bars
    with pytest.raises(ValueError, match="unknown vendor 'fred'"):
        specs.vendor_spec("fred")
