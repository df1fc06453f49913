"""SQL state of the shared rate limiter (SQLite file, PostgreSQL, or in-memory SQLite).

One row per request ("slot") per key bucket: a sliding-window log. A slot is written when a
request is granted, stamped `lease_s` into the future while the request is in flight, and
re-stamped with the completion time when it ends. The vendor sees a request somewhere
between those instants, so "at most N slots with ts in any window" on our side implies
at most N arrivals in any window on the vendor's side, however slow the network is.

Every decision runs in one transaction that serialises all deciders of a vendor:
SQLite takes the database write lock up front (BEGIN IMMEDIATE); PostgreSQL locks the
vendor's row in `vendor_rate_scopes` (SELECT ... FOR UPDATE) and reads the server's clock,
so processes on different machines agree on time.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    extract,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable

from ..warehouse.sqlite import configure_connection
from .limits import Rate

# Arbitrary constant: the advisory lock that serialises concurrent CREATE TABLE on PostgreSQL.
_PG_DDL_LOCK = 0x5EED_7A7E


@dataclass(frozen=True)
class Grant:
    slot_id: str
    index: int  # which bucket (key) of the list was granted


@dataclass(frozen=True)
class Denial:
    wait_s: float  # until the earliest bucket can take the request
    pending: bool  # that estimate hinges on an in-flight request, so it is an upper bound
    # Every bucket is parked as refused (bucket -> the vendor's redacted words): waiting
    # cannot help, the caller fails at once.
    refused: dict[str, str] | None = None


class RateStore:
    def __init__(
        self, engine: Engine, *, schema: str | None = None, thread_lock: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        # clock: epoch seconds for SQLite stores (tests pass a fake one); PostgreSQL uses the server's.
        self.engine = engine
        self._clock = clock
        self.schema = schema
        self._is_pg = engine.dialect.name == "postgresql"
        # An in-memory database is one shared connection: threads must take turns.
        self._lock = threading.Lock() if thread_lock else None
        md = MetaData(schema=schema)
        self.slots = Table(
            "vendor_rate_slots",
            md,
            Column("id", String(32), primary_key=True),
            Column("bucket", String(80), nullable=False),
            Column("ts", Float(53), nullable=False),  # epoch seconds
            Column("weight", Integer, nullable=False),
            Column("pending", Boolean, nullable=False),
            Index("ix_vendor_rate_slots_bucket_ts", "bucket", "ts"),
        )
        self.blocks = Table(
            "vendor_rate_blocks",
            md,
            Column("bucket", String(80), primary_key=True),
            Column("until", Float(53), nullable=False),
        )
        # Keys the vendor refused (401/403 "invalid key"): parked like a block, but with the
        # vendor's reason, so every process skips them and, once all are refused, fails at
        # once naming why instead of waiting for budget that will never come.
        self.refusals = Table(
            "vendor_rate_refusals",
            md,
            Column("bucket", String(80), primary_key=True),
            Column("until", Float(53), nullable=False),
            Column("reason", Text, nullable=False),
        )
        self.scopes = Table("vendor_rate_scopes", md, Column("scope", String(80), primary_key=True))
        self._metadata = md
        self._ready = False
        self._known_scopes: set[str] = set()

    # -- transactions ---------------------------------------------------------------

    @contextmanager
    def _transaction(self, scope: str | None) -> Iterator[tuple[Connection, float]]:
        if self._lock is not None:
            self._lock.acquire()
        try:
            with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE (see _sqlite_events)
                if self._is_pg and scope is not None:
                    conn.execute(select(self.scopes.c.scope).where(self.scopes.c.scope == scope).with_for_update())
                yield conn, self._now(conn)
        finally:
            if self._lock is not None:
                self._lock.release()

    def _now(self, conn: Connection) -> float:
        if self._is_pg:
            return float(conn.execute(select(extract("epoch", func.clock_timestamp()))).scalar_one())
        return self._clock()

    def _ensure_schema(self) -> None:
        if not self._ready:
            with self._transaction(None) as (conn, _):
                if self._is_pg:
                    conn.execute(select(func.pg_advisory_xact_lock(_PG_DDL_LOCK)))
                    if self.schema:
                        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                self._metadata.create_all(conn, checkfirst=True)
            self._ready = True

    def _ensure_scope(self, scope: str) -> None:
        self._ensure_schema()
        if self._is_pg and scope not in self._known_scopes:
            with self.engine.begin() as conn:
                conn.execute(pg_dialect.insert(self.scopes).values(scope=scope).on_conflict_do_nothing())
            self._known_scopes.add(scope)

    # -- operations -----------------------------------------------------------------

    def try_acquire(
        self, scope: str, buckets: Sequence[str], rates: Sequence[Rate], weight: int, lease_s: float
    ) -> Grant | Denial:
        """Take a slot in the bucket with the most headroom, or say how long to wait."""
        self._ensure_scope(scope)
        with self._transaction(scope) as (conn, now):
            horizon = max(r.window_s for r in rates)
            conn.execute(delete(self.slots).where(self.slots.c.bucket.in_(buckets), self.slots.c.ts <= now - horizon))
            blocked = dict(conn.execute(
                    select(self.blocks.c.bucket, self.blocks.c.until).where(
                        self.blocks.c.bucket.in_(buckets), self.blocks.c.until > now
                    )
                ).all())
            refused = dict(conn.execute(
                    select(self.refusals.c.bucket, self.refusals.c.reason).where(
                        self.refusals.c.bucket.in_(buckets), self.refusals.c.until > now
                    )
                ).all())
            if len(refused) == len(set(buckets)):
                return Denial(math.inf, False, refused)
            best: tuple[float, int] | None = None
            wait, wait_pending = math.inf, False
            for index, bucket in enumerate(buckets):
                if bucket in refused:
                    continue
                if bucket in blocked:
                    if blocked[bucket] - now < wait:
                        wait, wait_pending = blocked[bucket] - now, False
                    continue
                headroom, free_at, pending = self._bucket_state(conn, bucket, rates, weight, now)
                if free_at is None:
                    if best is None or headroom > best[0]:
                        best = (headroom, index)
                elif free_at - now < wait:
                    wait, wait_pending = free_at - now, pending
            if best is not None:
                slot_id = uuid.uuid4().hex
                conn.execute(
                    insert(self.slots).values(
                        id=slot_id, bucket=buckets[best[1]], ts=now + lease_s, weight=weight, pending=True
                    )
                )
                return Grant(slot_id, best[1])
            return Denial(max(wait, 0.0), wait_pending)

    def _bucket_state(
        self, conn: Connection, bucket: str, rates: Sequence[Rate], weight: int, now: float
    ) -> tuple[float, float | None, bool]:
        """(headroom fraction after this request, None or when it fits, fit time is an upper bound)."""
        headroom, free_at, pending = 1.0, None, False
        for rate in rates:
            need = weight if rate.weighted else 1
            used_expr = func.coalesce(func.sum(self.slots.c.weight), 0) if rate.weighted else func.count()
            in_window = (self.slots.c.bucket == bucket) & (self.slots.c.ts > now - rate.window_s)
            used = int(conn.execute(select(used_expr).where(in_window)).scalar_one())
            if used + need <= rate.limit:
                headroom = min(headroom, (rate.limit - used - need) / rate.limit)
                continue
            # The request fits once enough of the oldest slots have left the window.
            excess, freed = used + need - rate.limit, 0
            rows = conn.execute(
                select(self.slots.c.ts, self.slots.c.weight, self.slots.c.pending)
                .where(in_window)
                .order_by(self.slots.c.ts)
            )
            at, at_pending = math.inf, False
            for ts, w, is_pending in rows:
                freed += w if rate.weighted else 1
                if freed >= excess:
                    at, at_pending = ts + rate.window_s, bool(is_pending)
                    break
            rows.close()
            if free_at is None or at > free_at:
                free_at, pending = at, at_pending
        return headroom, free_at, pending

    def release(self, slot_id: str) -> None:
        """Stamp a finished request with its completion time (see the module docstring)."""
        with self._transaction(None) as (conn, now):
            conn.execute(update(self.slots).where(self.slots.c.id == slot_id).values(ts=now, pending=False))

    def block(self, bucket: str, seconds: float) -> None:
        """Keep `bucket` out of use for `seconds` (the vendor said 429/Retry-After)."""
        self._ensure_schema()
        with self._transaction(None) as (conn, now):
            until = now + seconds
            stmt: Executable
            if self._is_pg:
                pg = pg_dialect.insert(self.blocks).values(bucket=bucket, until=until)
                stmt = pg.on_conflict_do_update(
                    index_elements=["bucket"], set_={"until": func.greatest(self.blocks.c.until, pg.excluded.until)}
                )
            else:
                lite = sqlite_dialect.insert(self.blocks).values(bucket=bucket, until=until)
                stmt = lite.on_conflict_do_update(
                    index_elements=["bucket"], set_={"until": func.max(self.blocks.c.until, lite.excluded.until)}
                )
            conn.execute(stmt)

    def refuse(self, bucket: str, seconds: float, reason: str) -> None:
        """Park `bucket` as refused by the vendor for `seconds`, with the vendor's (redacted) reason."""
        self._ensure_schema()
        with self._transaction(None) as (conn, now):
            values = {"bucket": bucket, "until": now + seconds, "reason": reason[:500]}
            if self._is_pg:
                pg_stmt = pg_dialect.insert(self.refusals).values(**values)
                conn.execute(pg_stmt.on_conflict_do_update(
                    index_elements=["bucket"], set_={"until": pg_stmt.excluded.until, "reason": pg_stmt.excluded.reason}
                ))
            else:
                lite = sqlite_dialect.insert(self.refusals).values(**values)
                conn.execute(lite.on_conflict_do_update(
                    index_elements=["bucket"], set_={"until": lite.excluded.until, "reason": lite.excluded.reason}
                ))

    def clear_refusal(self, bucket: str) -> None:
        """Forget a refusal (an operator fixed the key; also used by tests)."""
        self._ensure_schema()
        with self._transaction(None) as (conn, _):
            conn.execute(delete(self.refusals).where(self.refusals.c.bucket == bucket))

    def usage(self, bucket: str, rate: Rate) -> int:
        """Units of `rate` used by `bucket` in its current window (for tests and benchmarks)."""
        self._ensure_schema()
        with self._transaction(None) as (conn, now):
            expr = func.coalesce(func.sum(self.slots.c.weight), 0) if rate.weighted else func.count()
            in_window = (self.slots.c.bucket == bucket) & (self.slots.c.ts > now - rate.window_s)
            return int(conn.execute(select(expr).where(in_window)).scalar_one())

    def drop_tables(self) -> None:
        self._metadata.drop_all(self.engine, checkfirst=True)
        self._ready = False

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_events(engine: Engine) -> Engine:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        configure_connection(dbapi_conn)  # we issue BEGIN ourselves, below

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock before reading, so two processes never decide on the same
        # snapshot (a deferred BEGIN would let both read, then one fail to upgrade).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sqlite_store(path: str | Path, clock: Callable[[], float] = time.time) -> RateStore:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 60, "check_same_thread": False})
    return RateStore(_sqlite_events(engine), clock=clock)


def memory_store(clock: Callable[[], float] = time.time) -> RateStore:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    return RateStore(_sqlite_events(engine), thread_lock=True, clock=clock)


def postgres_store(url: str, *, schema: str | None = None) -> RateStore:
    engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)
    return RateStore(engine, schema=schema)
