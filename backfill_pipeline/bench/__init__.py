"""Benchmarks: commands that measure the pipeline against local servers (not tests)."""
