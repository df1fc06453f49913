"""The database keeps `bar_sessions` equal to `bars`: trigger DDL for PostgreSQL and SQLite.

PostgreSQL: statement-level triggers with transition tables, so a COPY of a year of bars
updates the summary once per (series, session), not once per row; TRUNCATE empties it too.
SQLite (no statement triggers): row triggers. Either way a DELETE/UPDATE/INSERT on `bars`
from any client, the pipeline or a manual fix, moves the summary with it in the same
transaction.

The summary itself refuses writes that do not come from these triggers:
- PostgreSQL: a statement-level guard that raises unless it fires inside another trigger
  (pg_trigger_depth() > 1);
- SQLite (no trigger depth): every change of a bar is two summary updates that only the
  bars' own triggers can make in order. The BEFORE trigger marks the bar in its summary row
  (`adding_ts`: a bar that is not in the session yet; `removing_ts`: one that is), the AFTER
  trigger counts it and clears the mark, and the guard allows a count to move by one only
  from a mark to a state the mark could not have been made in (the marked bar now in the
  session, or now gone from it). Only a write on `bars` can change that, and its own
  triggers re-mark the bar and consume the mark, so a hand edit cannot move a count, even
  one that sets a mark first. A row appears with 1 bar for a session holding exactly one,
  and goes at 0 with none left.
  `INSERT OR REPLACE` (and `UPDATE OR REPLACE`) onto a stored (series_id, ts) is refused as a
  duplicate: SQLite deletes the replaced row without firing delete triggers.
  A change to these triggers ships as a new migration revision (0004 made SQLite's, 0005
  PostgreSQL's current functions; 0002 keeps its own copy of v2's SQLite triggers).

PLANNED_PER_STATEMENT: PL/pgSQL caches a static query's plan for the connection, made for
the transition table of the first statement that fired it; a plan made for a year of bars
(a merge join over the whole index) then serves a 53-row write too, and its cost grows with
the table. The joins of a transition table with a stored table are therefore EXECUTEd:
planned for each statement's own rows (~0.2 ms), index lookups for a small write. Revision
0005 replaces the functions of warehouses made before.

Uniqueness of (series_id, ts) on PostgreSQL, where the table has no unique index (a unique
btree costs 28-31 bytes a bar, docs/storage.md): the insert trigger refuses a statement whose
rows repeat a (series, ts), or repeat one already stored in a session that had bars before it.
"""

from __future__ import annotations

GUARD_MESSAGE = "bar_sessions is kept by the database from bars: change bars, not the summary"
DUPLICATE_MESSAGE = "duplicate bar: (series_id, ts) already stored"

PG_DDL: tuple[str, ...] = (
    f"""
CREATE OR REPLACE FUNCTION bp_bar_sessions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() < 2 THEN
    RAISE EXCEPTION '{GUARD_MESSAGE}';
  END IF;
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION bp_bars_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE dup_series integer; dup_ts bigint; stored boolean;
BEGIN
  SELECT series_id, ts INTO dup_series, dup_ts FROM new_rows GROUP BY series_id, ts HAVING count(*) > 1 LIMIT 1;
  IF dup_series IS NOT NULL THEN
    RAISE EXCEPTION '{DUPLICATE_MESSAGE} (series % ts %)', dup_series, dup_ts USING ERRCODE = 'unique_violation';
  END IF;
  -- sessions that held bars before this statement (never after the pipeline's replace,
  -- which deletes them first): check the new rows against the stored ones. EXECUTE plans
  -- each join for this statement's rows (see PLANNED_PER_STATEMENT).
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM new_rows n JOIN bar_sessions s
                          ON s.series_id = n.series_id AND s.session = n.session)' INTO stored;
  IF stored THEN
    EXECUTE 'SELECT b.series_id, b.ts FROM bars b
      JOIN (SELECT DISTINCT n.series_id, n.session FROM new_rows n
            JOIN bar_sessions s ON s.series_id = n.series_id AND s.session = n.session) t
        ON b.series_id = t.series_id AND b.session = t.session
      GROUP BY b.series_id, b.ts HAVING count(*) > 1 LIMIT 1' INTO dup_series, dup_ts;
    IF dup_series IS NOT NULL THEN
      RAISE EXCEPTION '{DUPLICATE_MESSAGE} (series % ts %)', dup_series, dup_ts USING ERRCODE = 'unique_violation';
    END IF;
  END IF;
  INSERT INTO bar_sessions AS s (series_id, session, bars)
    SELECT series_id, session, count(*) FROM new_rows GROUP BY series_id, session
    ON CONFLICT (series_id, session) DO UPDATE SET bars = s.bars + excluded.bars;
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION bp_bars_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'UPDATE bar_sessions s SET bars = s.bars - d.n
    FROM (SELECT series_id, session, count(*) AS n FROM old_rows GROUP BY series_id, session) d
    WHERE s.series_id = d.series_id AND s.session = d.session';
  EXECUTE 'DELETE FROM bar_sessions s USING (SELECT DISTINCT series_id, session FROM old_rows) d
    WHERE s.series_id = d.series_id AND s.session = d.session AND s.bars <= 0';
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION bp_bars_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE dup boolean;
BEGIN
  INSERT INTO bar_sessions AS s (series_id, session, bars)
    SELECT series_id, session, count(*) FROM new_rows GROUP BY series_id, session
    ON CONFLICT (series_id, session) DO UPDATE SET bars = s.bars + excluded.bars;
  EXECUTE 'UPDATE bar_sessions s SET bars = s.bars - d.n
    FROM (SELECT series_id, session, count(*) AS n FROM old_rows GROUP BY series_id, session) d
    WHERE s.series_id = d.series_id AND s.session = d.session';
  EXECUTE 'DELETE FROM bar_sessions s USING (SELECT DISTINCT series_id, session FROM old_rows) d
    WHERE s.series_id = d.series_id AND s.session = d.session AND s.bars <= 0';
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM bars b JOIN (SELECT DISTINCT series_id, session FROM new_rows) t
             ON b.series_id = t.series_id AND b.session = t.session
             GROUP BY b.series_id, b.ts HAVING count(*) > 1)' INTO dup;
  IF dup THEN
    RAISE EXCEPTION '{DUPLICATE_MESSAGE}' USING ERRCODE = 'unique_violation';
  END IF;
  RETURN NULL;
END $$""".replace("{DUPLICATE_MESSAGE}", DUPLICATE_MESSAGE),
    """
CREATE OR REPLACE FUNCTION bp_bars_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM bar_sessions;
  RETURN NULL;
END $$""",
    ("CREATE TRIGGER bars_inserted AFTER INSERT ON bars REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION bp_bars_inserted()"),
    ("CREATE TRIGGER bars_deleted AFTER DELETE ON bars REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION bp_bars_deleted()"),
    ("CREATE TRIGGER bars_updated AFTER UPDATE ON bars REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION bp_bars_updated()"),
    "CREATE TRIGGER bars_truncated AFTER TRUNCATE ON bars FOR EACH STATEMENT EXECUTE FUNCTION bp_bars_truncated()",
    ("CREATE TRIGGER bar_sessions_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON bar_sessions "
    "FOR EACH STATEMENT EXECUTE FUNCTION bp_bar_sessions_guard()"),
)

_KEY = "series_id = {row}.series_id AND session = {row}.session"
_MOVED = "NEW.series_id IS NOT OLD.series_id OR NEW.session IS NOT OLD.session OR NEW.ts IS NOT OLD.ts"
_STORED = "EXISTS (SELECT 1 FROM bars WHERE series_id = {row}.series_id AND ts = {ts})"


def _in_session(row: str, ts: str) -> str:
    """The bar (row.series_id, ts) is stored in row.session: a primary-key lookup."""
    return f"EXISTS (SELECT 1 FROM bars WHERE series_id = {row}.series_id AND ts = {ts} AND session = {row}.session)"


# Each bar's change is two summary updates, so the guard can tell them from a hand edit:
# the BEFORE trigger marks the bar (adding_ts: not in the session yet; removing_ts: in it),
# the AFTER trigger counts it and clears the mark (now in it; no longer in it). The first
# bar of a session inserts its row instead (no row to mark), the last deletes it at 0. A NULL
# ts is left to the NOT NULL constraint's own error.
SQLITE_DDL: tuple[str, ...] = (
    f"""
CREATE TRIGGER bars_inserting BEFORE INSERT ON bars WHEN NEW.ts IS NOT NULL BEGIN
  SELECT RAISE(ABORT, '{DUPLICATE_MESSAGE}') WHERE {_STORED.format(row="NEW", ts="NEW.ts")};
  UPDATE bar_sessions SET adding_ts = NEW.ts WHERE {_KEY.format(row="NEW")};
END""",
    f"""
CREATE TRIGGER bars_inserted AFTER INSERT ON bars BEGIN
  UPDATE bar_sessions SET bars = bars + 1, adding_ts = NULL WHERE {_KEY.format(row="NEW")};
  INSERT INTO bar_sessions (series_id, session, bars) SELECT NEW.series_id, NEW.session, 1 WHERE changes() = 0;
END""",
    f"""
CREATE TRIGGER bars_deleting BEFORE DELETE ON bars BEGIN
  UPDATE bar_sessions SET removing_ts = OLD.ts WHERE {_KEY.format(row="OLD")};
END""",
    f"""
CREATE TRIGGER bars_deleted AFTER DELETE ON bars BEGIN
  UPDATE bar_sessions SET bars = bars - 1, removing_ts = NULL WHERE {_KEY.format(row="OLD")};
  DELETE FROM bar_sessions WHERE {_KEY.format(row="OLD")} AND bars = 0;
END""",
    f"""
CREATE TRIGGER bars_updating BEFORE UPDATE OF series_id, session, ts ON bars
WHEN ({_MOVED}) AND NEW.ts IS NOT NULL BEGIN
  SELECT RAISE(ABORT, '{DUPLICATE_MESSAGE}')
    WHERE (NEW.series_id IS NOT OLD.series_id OR NEW.ts IS NOT OLD.ts) AND {_STORED.format(row="NEW", ts="NEW.ts")};
  UPDATE bar_sessions SET removing_ts = OLD.ts WHERE {_KEY.format(row="OLD")};
  UPDATE bar_sessions SET adding_ts = NEW.ts WHERE {_KEY.format(row="NEW")};
END""",
    f"""
CREATE TRIGGER bars_updated AFTER UPDATE OF series_id, session, ts ON bars WHEN {_MOVED} BEGIN
  UPDATE bar_sessions SET bars = bars + 1, adding_ts = NULL WHERE {_KEY.format(row="NEW")};
  INSERT INTO bar_sessions (series_id, session, bars) SELECT NEW.series_id, NEW.session, 1 WHERE changes() = 0;
  UPDATE bar_sessions SET bars = bars - 1, removing_ts = NULL WHERE {_KEY.format(row="OLD")};
  DELETE FROM bar_sessions WHERE {_KEY.format(row="OLD")} AND bars = 0;
END""",
    # a new row: 1 bar, unmarked, and its session holds exactly one bar
    f"""
CREATE TRIGGER bar_sessions_guard_insert BEFORE INSERT ON bar_sessions
WHEN NEW.bars IS NOT 1 OR NEW.adding_ts IS NOT NULL OR NEW.removing_ts IS NOT NULL
  OR (SELECT count(*) FROM (SELECT 1 FROM bars WHERE {_KEY.format(row="NEW")} LIMIT 2)) IS NOT 1 BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
    # one of the four steps above, nothing else (IS: a NULL never lets a change through)
    f"""
CREATE TRIGGER bar_sessions_guard_update BEFORE UPDATE ON bar_sessions
WHEN NEW.series_id IS NOT OLD.series_id OR NEW.session IS NOT OLD.session OR NOT (
     (NEW.bars IS OLD.bars AND NEW.removing_ts IS OLD.removing_ts AND NEW.adding_ts IS NOT NULL
      AND NOT {_in_session("NEW", "NEW.adding_ts")})
  OR (NEW.bars IS OLD.bars + 1 AND NEW.removing_ts IS OLD.removing_ts AND NEW.adding_ts IS NULL
      AND OLD.adding_ts IS NOT NULL AND {_in_session("OLD", "OLD.adding_ts")})
  OR (NEW.bars IS OLD.bars AND NEW.adding_ts IS OLD.adding_ts AND NEW.removing_ts IS NOT NULL
      AND {_in_session("NEW", "NEW.removing_ts")})
  OR (NEW.bars IS OLD.bars - 1 AND NEW.adding_ts IS OLD.adding_ts AND NEW.removing_ts IS NULL
      AND OLD.removing_ts IS NOT NULL AND NOT {_in_session("OLD", "OLD.removing_ts")})) BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
    f"""
CREATE TRIGGER bar_sessions_guard_delete BEFORE DELETE ON bar_sessions
WHEN OLD.bars IS NOT 0 OR EXISTS (SELECT 1 FROM bars WHERE {_KEY.format(row="OLD")}) BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
)


def rebuild_summary_sql() -> str:
    """The summary recomputed from `bars` (run before the guards exist, in a migration)."""
    return ("INSERT INTO bar_sessions (series_id, session, bars) "
            "SELECT series_id, session, count(*) FROM bars GROUP BY series_id, session")
