"""Test servers and fakes that speak vendors' wire formats (used by the tests and the benchmarks, never by assets)."""
