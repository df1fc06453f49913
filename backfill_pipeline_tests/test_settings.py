"""One Settings for every environment setting: the typed reader's messages name each variable,
and the warehouse URL, the Dagster home and the executor are read with the rest."""

import datetime as dt
from pathlib import Path

import pytest

from backfill_pipeline.env import EnvReader, SettingsError
from backfill_pipeline.executors import ExecutorSettingError
from backfill_pipeline.settings import Settings
from backfill_pipeline.warehouse.location import warehouse_url


@pytest.mark.parametrize(("read", "raw", "message"), [
    (lambda r: r.whole("N", 1, minimum=1), "0", "N='0' must be a whole number >= 1"),
    (lambda r: r.whole("N", 1, maximum=23), "0x", "N='0x' must be a whole number between 0 and 23"),
    (lambda r: r.seconds("N", 1.0, allow_zero=False), "0", "N='0' must be a number of seconds > 0"),
    (lambda r: r.seconds("N", 1.0), "-1", "N='-1' must be a number of seconds >= 0"),
    (lambda r: r.share("N", 0.5), "1.5", "N='1.5' must be a number between 0 and 1"),
    (lambda r: r.date("N", dt.date(2020, 1, 1)), "2024-02-30", "N='2024-02-30' is not a date (YYYY-MM-DD)"),
    (lambda r: r.choice("N", ("a", "b"), "a"), "c", "N='c': expected one of a, b"),
])
def test_the_reader_names_the_variable_and_its_value(read, raw, message):
    with pytest.raises(SettingsError) as info:
        read(EnvReader({"N": raw}))
    assert str(info.value) == message


def test_a_blank_variable_is_unset():
    read = EnvReader({"N": "  ", "M": " 7 "})
    assert read.whole("N", 3) == 3 and read.whole("M", 3) == 7 and read.text("N", "x") == "x" and read.text("M") == "7"
    assert read.choice("N", ("a", "b"), "b") == "b" and read.names("M") == ["M"]


def test_the_warehouse_url_and_the_home_are_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    settings = Settings.from_env({"BACKFILL_WAREHOUSE_URL": url, "DAGSTER_HOME": str(tmp_path / "home")})
    assert settings.warehouse() == url and settings.dagster_home == tmp_path / "home"
    in_home = Settings.from_env({"DAGSTER_HOME": str(tmp_path)})
    assert in_home.warehouse() == f"sqlite:///{(tmp_path / 'warehouse.db').resolve()}"
    assert warehouse_url({"DAGSTER_HOME": str(tmp_path)}) == in_home.warehouse()  # the resource's reader agrees
    assert Settings().warehouse() == f"sqlite:///{(Path.cwd() / '.dagster_home' / 'warehouse.db').resolve()}"
    with pytest.raises(SettingsError, match=r"BACKFILL_WAREHOUSE_URL='mysql://u:\*\*\*@h/db': the warehouse runs on"):
        Settings.from_env({"BACKFILL_WAREHOUSE_URL": "mysql://u:secret@h/db"})


def test_the_executor_is_a_setting():
    assert Settings.from_env({}).executor == "default"
    celery = {"BACKFILL_EXECUTOR": "Celery", "BACKFILL_CELERY_BROKER_URL": "redis://r/0",
              "BACKFILL_CELERY_BACKEND_URL": "redis://r/1"}
    assert Settings.from_env(celery).executor == "celery"
    with pytest.raises(ExecutorSettingError, match="BACKFILL_EXECUTOR=celery needs BACKFILL_CELERY_BACKEND_URL"):
        Settings.from_env({**celery, "BACKFILL_CELERY_BACKEND_URL": " "})
    with pytest.raises(SettingsError, match="BACKFILL_EXECUTOR='k8s': expected one of default, celery"):
        Settings.from_env({"BACKFILL_EXECUTOR": "k8s"})


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BACKFILL_PARTITION_GRAIN", "hourly", "BACKFILL_PARTITION_GRAIN='hourly': expected one of daily, weekly, monthly"),
    ("BACKFILL_PARTITIONS_START", "2020-13-01", "BACKFILL_PARTITIONS_START='2020-13-01' is not a date"),
    ("BACKFILL_VENDOR_CRYPTO", "kraken", "BACKFILL_VENDOR_CRYPTO='kraken': expected one of "),
    ("BACKFILL_FRESHNESS_SESSIONS", "-2", "BACKFILL_FRESHNESS_SESSIONS='-2' must be a whole number >= 0"),
    ("BACKFILL_CORPORATE_ACTIONS_VENDOR", "fred", ("BACKFILL_CORPORATE_ACTIONS_VENDOR='fred': expected one of demo, "
                                                 "polygon, eodhd")),
    ("BACKFILL_NO_TRADES_TOLERANCE_CRYPTO_1M", "2", ("BACKFILL_NO_TRADES_TOLERANCE_CRYPTO_1M='2' must be a number "
                                                    "between 0 and 1")),
    ("BACKFILL_POLYGON_MAX_WAIT_SECONDS", "soon", ("BACKFILL_POLYGON_MAX_WAIT_SECONDS='soon' must be a number of "
                                                  "seconds >= 0")),
    ("BACKFILL_BINANCE_REQUESTS_PER_WINDOW", "0", ("BACKFILL_BINANCE_REQUESTS_PER_WINDOW='0' must be a whole number "
                                                  ">= 1")),
])
def test_each_bad_setting_is_named(name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.from_env({name: value})
