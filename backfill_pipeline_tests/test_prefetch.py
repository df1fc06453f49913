"""Prefetcher: the next symbol is fetched while the caller works on this one, in order, on one thread."""

from __future__ import annotations

import threading

import pytest

from backfill_pipeline.prefetch import Prefetcher


def test_the_next_symbol_is_fetched_while_the_caller_writes_this_one() -> None:
    started: list[str] = []
    second_started = threading.Event()

    def fetch(symbol: str) -> str:
        started.append(symbol)
        if symbol == "BBB":
            second_started.set()
        return symbol.lower()

    with Prefetcher(fetch, ["AAA", "BBB", "CCC"]) as ahead:
        assert ahead.get("AAA") == "aaa"
        # BBB's fetch was started before AAA's result was handed back, and runs without the caller
        assert second_started.wait(10)
        assert ahead.get("BBB") == "bbb"
        assert ahead.get("CCC") == "ccc"
    assert started == ["AAA", "BBB", "CCC"]  # one thread, the callers' order: the vendor sees the same sequence


def test_fetches_run_one_at_a_time_on_one_thread() -> None:
    threads: set[int] = set()
    running = 0
    most = 0
    guard = threading.Lock()

    def fetch(symbol: str) -> str:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
            threads.add(threading.get_ident())
        with guard:
            running -= 1
        return symbol

    symbols = [f"S{i:02d}" for i in range(20)]
    with Prefetcher(fetch, symbols) as ahead:
        assert [ahead.get(s) for s in symbols] == symbols
    assert most == 1
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_a_fetch_error_is_raised_to_the_caller_of_that_symbol() -> None:
    def fetch(symbol: str) -> str:
        if symbol == "BAD":
            raise RuntimeError("vendor exploded for BAD")
        return symbol

    with Prefetcher(fetch, ["AAA", "BAD", "CCC"]) as ahead:
        assert ahead.get("AAA") == "AAA"
        with pytest.raises(RuntimeError, match="vendor exploded for BAD"):
            ahead.get("BAD")
        assert ahead.get("CCC") == "CCC"


def test_close_waits_for_the_running_fetch_and_drops_the_rest() -> None:
    release = threading.Event()
    running = threading.Event()
    finished: list[str] = []

    def fetch(symbol: str) -> str:
        if symbol == "BBB":
            running.set()
            release.wait(10)
        finished.append(symbol)
        return symbol

    ahead = Prefetcher(fetch, ["AAA", "BBB", "CCC"])
    assert ahead.get("AAA") == "AAA"  # submits BBB, which blocks once its thread picks it up
    assert running.wait(10)  # BBB is running (not merely queued, which close would cancel)
    threading.Timer(0.05, release.set).start()
    ahead.close()  # returns only once BBB's fetch is done; CCC was never asked for
    assert finished == ["AAA", "BBB"]
