"""Fetch the next symbol while this one is written: one background thread per step.

A step works symbol by symbol: fetch (vendor latency, then decoding) and resample, then
write (the warehouse). `Prefetcher` runs the fetch and resampling of the next symbol in one
worker thread while the current one is written, so the vendor's latency, the decoding and
the resampling overlap the writes (PostgreSQL works in its own process while the client
waits for a COPY; SQLite releases the GIL while it steps). One thread makes every request,
one symbol ahead, in the same order as without it: rate limits, key rotation and the
request audit see the same sequence. At most two symbols' bars are held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetcher(Generic[T]):
    """`get(symbol)` returns `fetch(symbol)`, asked for in `order`; the fetch of the symbol
    after it is started first, so it runs while the caller writes this one."""

    def __init__(self, fetch: Callable[[str], T], order: Sequence[str]):
        self._fetch = fetch
        self._order = list(order)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._futures: dict[str, Future[T]] = {}

    def _submit(self, symbol: str) -> None:
        if symbol not in self._futures:
            self._futures[symbol] = self._pool.submit(self._fetch, symbol)

    def get(self, symbol: str) -> T:
        self._submit(symbol)
        position = self._order.index(symbol)
        if position + 1 < len(self._order):
            self._submit(self._order[position + 1])
        return self._futures.pop(symbol).result()  # a fetch's own exception is raised here

    def close(self) -> None:
        """Drop fetches not started; wait for the one running (the client closes after it)."""
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)
        self._futures.clear()

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
