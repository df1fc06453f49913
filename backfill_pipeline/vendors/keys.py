"""A vendor's pool of API keys, named by position and never by value.

Each key has its own rate budget in the shared limiter, stored under a fingerprint (a
truncated SHA-256 of vendor and key), so the limiter's tables never hold a key and two
processes configured with the same keys in a different order still share budgets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def parse_key_list(value: str | None) -> list[str]:
    """Split a comma-separated key list (as in POLYGON_API_KEYS); blanks and repeats dropped."""
    if not value:
        return []
    return dedupe(part.strip() for part in value.split(","))


def dedupe(keys: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for key in keys:
        if key and key not in seen:
            seen[key] = None
    return list(seen)


class KeyPool:
    def __init__(self, vendor: str, keys: Sequence[str]):
        self.vendor = vendor
        self._keys = tuple(dedupe(k.strip() for k in keys))
        if not self._keys:
            raise ValueError(f"{vendor}: no API key configured (the key list is empty)")
        self._buckets = tuple(
            f"{vendor}:{hashlib.sha256(f'{vendor}:{k}'.encode()).hexdigest()[:16]}" for k in self._keys
        )

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyPool({self.vendor!r}, {len(self._keys)} keys)"

    def key(self, index: int) -> str:
        return self._keys[index]

    @property
    def buckets(self) -> tuple[str, ...]:
        """Limiter bucket names, one per key, in pool order."""
        return self._buckets

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._keys

    def describe(self, index: int) -> str:
        return f"key #{index + 1} of {len(self._keys)}"
