"""What a fetch did, request by request: the raw material of the pipeline's fetch log."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request as the fetch log should remember it (URL redacted, key by position)."""

    vendor: str
    url: str
    status: int | None  # None: no response (timeout, connection reset)
    rows: int | None  # bars / observations / records in the page, when it decoded
    duration_s: float
    request_id: str
    attempt: int
    key: str | None  # "key #1 of 2"; None for key-less vendors
    error: str | None = None


@dataclass
class FetchTrace:
    """The requests one logical fetch made, retries and 429s included: all cost budget."""

    records: list[RequestRecord] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.records)

    @property
    def request_ids(self) -> list[str]:
        return [r.request_id for r in self.records]
