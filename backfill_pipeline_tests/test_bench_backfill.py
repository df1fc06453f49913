"""`backfill-pipeline bench backfill` end to end on a small universe: it runs, its figures
are consistent (the ceiling reloads exactly the rows the pipeline wrote, requests are at
the floor, one ranged run per worker) and nothing is left behind. Its speed is not asserted."""

import os
import re
import types
import uuid

import pytest
import sqlalchemy as sa

from backfill_pipeline.bench import backfill as bench
from backfill_pipeline.bench import pg as bench_pg
from backfill_pipeline_tests.conftest import DEFAULT_PG_ADMIN_URL

FIGURES = re.compile(
    r"\[(?P<db>\w+) warehouse, postgres instance, monthly partitions, 2 run process\(es\)\] end to end: "
    r"[\d.]+ s wall, (?P<bars>[\d,]+) bars written \((?P<minute>[\d,]+) 1m \+ derived\), [\d,]+ bars/s, "
    r"(?P<runs>\d+) Dagster runs, (?P<requests>\d+) requests vs floor (?P<floor>\d+)"
)
pytestmark = pytest.mark.bench

CEILING = re.compile(r"\[(?P<db>\w+)\] raw write ceiling \(2 writer process\(es\)\): (?P<rows>[\d,]+) bars in "
                     r"[\d.]+ s = [\d,]+ bars/s; end to end / ceiling = [\d.]+")


def _databases(admin_url: str, tag: str) -> set[str]:
    engine = sa.create_engine(admin_url)
    with engine.connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"bp_bench%_{tag}%",))}
    engine.dispose()
    return names


def test_bench_backfill_prints_consistent_figures_for_both_databases(pg_server_url, capsys, monkeypatch):
    admin = os.environ.get("BACKFILL_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
    # The server is shared (other benchmarks may run at the same time): the databases this
    # bench creates carry a tag of this test's, and only those must be gone afterwards.
    tag, made = uuid.uuid4().hex[:5], []

    def tagged_uuid4() -> uuid.UUID:
        made.append(uuid.UUID(f"{tag}{len(made):03x}" + uuid.uuid4().hex[8:]))
        return made[-1]

    monkeypatch.setattr(bench_pg, "uuid", types.SimpleNamespace(uuid4=tagged_uuid4))
    assert bench.main(["--symbols", "3", "--days", "2", "--grain", "monthly", "--workers", "2", "--cpu",
                       "--pg-admin-url", admin]) == 0
    out = capsys.readouterr().out
    runs = {m["db"]: m for m in FIGURES.finditer(out)}
    ceilings = {m["db"]: m for m in CEILING.finditer(out)}
    assert set(runs) == set(ceilings) == {"sqlite", "postgresql"}, out
    for db, run in runs.items():
        bars, minute = int(run["bars"].replace(",", "")), int(run["minute"].replace(",", ""))
        assert minute > 0 and bars > minute  # derived timeframes were written too
        assert int(run["runs"]) == 2  # one ranged run per worker on the monthly grain
        assert int(run["requests"]) == int(run["floor"])
        assert int(ceilings[db]["rows"].replace(",", "")) == bars
        # --cpu: each phase's CPU by group, the run processes and the ceiling's writers among them
        for phase, own in (("end to end", "run processes"), ("raw write ceiling", "ceiling writers")):
            line = re.search(rf"\[{db}\] {phase} CPU: (.*) \(total ([\d.]+) s CPU in [\d.]+ s wall", out)
            assert line is not None, out
            groups = {g: float(v) for g, v in re.findall(r"([a-zA-Z ]+?) ([\d.]+) s(?:, |$)", line[1])}
            assert groups[own] > 0 and float(line[2]) == pytest.approx(sum(groups.values()), abs=0.1 * len(groups))
    assert len(made) >= 3, "the bench made its databases some other way: the tag missed them"
    assert _databases(admin, tag) == set()  # instance and warehouse databases dropped


MEDIAN = re.compile(r"\[sqlite\] end to end / ceiling over (?P<n>\d+) runs: (?P<listed>[\d., ]+); median (?P<median>[\d.]+)")


def test_repeat_measures_each_pair_again_and_prints_the_median_of_their_ratios(capsys):
    assert bench.main(["--symbols", "2", "--days", "2", "--grain", "monthly", "--workers", "2", "--sqlite-only",
                       "--instance", "sqlite", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    ratios = [float(r) for r in re.findall(r"\[sqlite\] raw write ceiling .* end to end / ceiling = ([\d.]+)", out)]
    assert len(ratios) == 3, out
    summary = MEDIAN.search(out)
    assert summary is not None, out
    assert int(summary["n"]) == 3
    assert [float(r) for r in summary["listed"].split(", ")] == ratios
    assert float(summary["median"]) == sorted(ratios)[1]


def test_repeat_below_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--repeat", "0", "--sqlite-only"])
    assert exit_info.value.code == 2
    assert "--repeat" in capsys.readouterr().err
