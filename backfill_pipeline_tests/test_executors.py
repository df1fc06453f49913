"""BACKFILL_EXECUTOR: which executor every job of the code location gets."""

from __future__ import annotations

import dagster as dg
import pytest

from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.executors import BACKEND_ENV, BROKER_ENV, CELERY_CONFIG, ExecutorSettingError, executor_from_env
from backfill_pipeline.settings import Settings
from backfill_pipeline_tests.optional import import_deploy_tool

SECRET_BROKER = "redis://:s3cr3t-broker@redis:6379/0"


def test_default_keeps_dagsters_executor() -> None:
    assert executor_from_env({}) is None
    assert executor_from_env({"BACKFILL_EXECUTOR": "default"}) is None


def test_celery_executor_names_its_urls_and_never_holds_them() -> None:
    import_deploy_tool("dagster_celery", extra="celery")
    env = {"BACKFILL_EXECUTOR": "Celery", BROKER_ENV: SECRET_BROKER, BACKEND_ENV: "redis://:x@redis:6379/1"}
    executor = executor_from_env(env)
    assert executor is not None and executor.name == "celery"
    defs = build_definitions(Settings(), executor)
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == "celery"
    # The configured values are references to the environment, not the URLs themselves.
    assert CELERY_CONFIG["broker"] == {"env": BROKER_ENV} and CELERY_CONFIG["backend"] == {"env": BACKEND_ENV}
    assert "s3cr3t" not in repr(executor.config_schema) and "s3cr3t" not in str(CELERY_CONFIG)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKFILL_EXECUTOR": "k8s"}, "BACKFILL_EXECUTOR='k8s': expected one of default, celery"),
        ({"BACKFILL_EXECUTOR": "celery"}, f"needs {BROKER_ENV} and {BACKEND_ENV}"),
        ({"BACKFILL_EXECUTOR": "celery", BROKER_ENV: SECRET_BROKER}, f"needs {BACKEND_ENV}"),
    ],
)
def test_bad_executor_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ExecutorSettingError, match=message.replace("(", r"\(")) as info:
        executor_from_env(env)
    assert "s3cr3t" not in str(info.value)


def test_the_code_location_reads_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import_deploy_tool("dagster_celery", extra="celery")
    from backfill_pipeline import definitions

    monkeypatch.setenv("BACKFILL_EXECUTOR", "celery")
    monkeypatch.setenv(BROKER_ENV, SECRET_BROKER)
    monkeypatch.setenv(BACKEND_ENV, "redis://:x@redis:6379/1")
    loaded = definitions.defs()
    assert isinstance(loaded, dg.Definitions)
    assert loaded.resolve_implicit_global_asset_job_def().executor_def.name == "celery"
