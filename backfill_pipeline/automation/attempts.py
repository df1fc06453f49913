"""The gap sensor's cursor: attempts per partition, as compact JSON of bounded size.

An entry is `"<job>|<date key>|<symbol>": [attempts, last bucket, gap classes]`. A partition
is requested at most once per retry bucket (its run_key carries the bucket too), and not
any more once `attempts` reaches the cap: a bar the vendor will never serve must not loop.
A change of gap class is progress (not_fetched -> unfinalized after a fetch before the
vendor's finalisation), so it starts the count again. Entries older than the window are
dropped, and at most MAX_ENTRIES are kept (the newest dates win).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MAX_ENTRIES = 50_000
REQUEST, WAIT, CAPPED = "request", "wait", "capped"


@dataclass
class Attempts:
    entries: dict[str, list[object]] = field(default_factory=dict)
    unreadable: bool = False  # the stored cursor was not ours; counting starts afresh

    @classmethod
    def load(cls, cursor: str | None) -> Attempts:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            entries = data["attempts"]
            if not isinstance(entries, dict):
                raise TypeError("attempts is not an object")
        except (ValueError, KeyError, TypeError):
            return cls(unreadable=True)
        return cls({k: v for k, v in entries.items() if isinstance(v, list) and len(v) == 3})

    def dump(self) -> str:
        return json.dumps({"v": 1, "attempts": self.entries}, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def key(job: str, date_key: str, symbol: str) -> str:
        return f"{job}|{date_key}|{symbol}"

    def decide(self, key: str, classes: str, bucket: int, cap: int) -> tuple[str, int]:
        """REQUEST (and count it), WAIT (already requested in this bucket) or CAPPED."""
        count, last, seen = self.entries.get(key, [0, None, classes])
        count = int(count) if seen == classes else 0  # type: ignore[call-overload]
        if count >= cap:
            return CAPPED, count
        if last == bucket and seen == classes:
            return WAIT, count
        self.entries[key] = [count + 1, bucket, classes]
        return REQUEST, count + 1

    def prune(self, oldest_date_key: str) -> None:
        """Forget partitions older than the window, then keep the newest MAX_ENTRIES."""
        kept = {k: v for k, v in self.entries.items() if k.split("|")[1] >= oldest_date_key}
        if len(kept) > MAX_ENTRIES:
            newest = sorted(kept, key=lambda k: k.split("|")[1], reverse=True)[:MAX_ENTRIES]
            kept = {k: kept[k] for k in newest}
        self.entries = kept
