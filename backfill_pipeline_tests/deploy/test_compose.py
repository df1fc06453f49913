"""docker-compose.yml: valid against the Compose Specification schema, and shaped as intended.

The schema is vendored (docker/compose-spec.schema.json, from the check-jsonschema package,
see docker/README.md), so this runs offline.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from backfill_pipeline.markets import MARKETS
from backfill_pipeline.names import vendor_pool
from backfill_pipeline.settings import VENDORS
from backfill_pipeline_tests.deploy.conftest import DOCKER, ENV_EXAMPLE, REPO, load_compose, read_env_file
from backfill_pipeline_tests.optional import import_deploy_tool

DAGSTER_SERVICES = ("code_server", "worker", "dagster_init", "webserver", "webserver_readonly", "daemon")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _validator() -> Any:
    """The compose-spec validator (jsonschema comes with the `deploy` extra: skip without it)."""
    jsonschema = import_deploy_tool("jsonschema")
    schema = json.loads((DOCKER / "compose-spec.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_matches_the_compose_spec(compose: dict[str, Any]) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_the_schema_rejects_what_compose_would_reject(compose: dict[str, Any]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["daemon"]["depends_on"]["postgres"]["condition"] = "healthy"  # not a compose condition
    broken["services"]["webserver"]["helthcheck"] = broken["services"]["webserver"].pop("healthcheck")
    messages = [e.message for e in _validator().iter_errors(broken)]
    assert messages, "a typo and a bad condition should not validate"


def test_services_and_exactly_one_daemon(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "proxy", *DAGSTER_SERVICES}
    daemons = [name for name, svc in services.items() if "dagster-daemon" in svc.get("command", [])[:1]]
    assert daemons == ["daemon"]
    assert services["daemon"].get("deploy", {}).get("replicas", 1) == 1
    assert services["daemon"]["command"] == ["dagster-daemon", "run", "-w", "workspace.yaml"]
    assert services["webserver"]["command"][:1] == ["dagster-webserver"]
    assert services["code_server"]["command"][:3] == ["dagster", "code-server", "start"]
    assert "backfill_pipeline.definitions" in services["code_server"]["command"]


def test_postgres_has_a_healthcheck_and_everything_waits_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    check = services["postgres"]["healthcheck"]
    assert "pg_isready" in " ".join(check["test"])
    for name in DAGSTER_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
    for name in ("webserver", "webserver_readonly", "daemon"):
        deps = services[name]["depends_on"]
        assert deps["code_server"]["condition"] == "service_healthy"
        assert deps["dagster_init"]["condition"] == "service_completed_successfully"
    for name in ("code_server", "webserver", "webserver_readonly", "daemon"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name in ("code_server", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_secrets_come_from_env_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in DAGSTER_SERVICES:
        assert services[name]["env_file"] == ".env", name
    # The proxy's password files are compose secrets (files in docker/secrets/, git-ignored).
    assert {s["file"] for s in compose["secrets"].values()} == {
        "./secrets/operators.htpasswd", "./secrets/viewers.htpasswd"}
    assert "*" in (DOCKER / "secrets" / ".gitignore").read_text().splitlines()
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|KEY|SECRET|TOKEN|_URL$", key):
                assert str(value).startswith("${"), f"{name}: {key} is a literal, not from .env"
    postgres_env = services["postgres"]["environment"]
    for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert postgres_env[key].startswith("${DAGSTER_POSTGRES_"), key
    dagster_yaml = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    storages = ("run_storage", "event_log_storage", "schedule_storage")
    db = dagster_yaml["run_storage"]["config"]["postgres_db"]
    assert all(dagster_yaml[s]["config"] == {"postgres_db": db} for s in storages)  # one database
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "username": {"env": "DAGSTER_POSTGRES_USER"},
        "password": {"env": "DAGSTER_POSTGRES_PASSWORD"},
        "hostname": {"env": "DAGSTER_POSTGRES_HOST"},
        "db_name": {"env": "DAGSTER_POSTGRES_DB"},
        "port": {"env": "DAGSTER_POSTGRES_PORT"},
    }


def test_env_example_documents_every_variable(compose: dict[str, Any]) -> None:
    text = ENV_EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    # Interpolated by compose, read by dagster.yaml / workspace.yaml / init_instance.sh.
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DOCKER / "docker-compose.yml").read_text()))
    used |= set(re.findall(r"env: ([A-Z][A-Z0-9_]+)", (DOCKER / "dagster.yaml").read_text()))
    used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DOCKER / "init_instance.sh").read_text()))
    used |= set(re.findall(r"env: ([A-Z][A-Z0-9_]+)", (DOCKER / "celery.yaml").read_text()))
    used.add("COMPOSE_PROFILES")  # read by compose itself: starts the `viewers` profile
    used -= {"DAGSTER_HOME", "DAGSTER_COMPUTE_LOGS_DIR"}  # set by the images (ENV), not by .env
    # The README's configuration table, with <MARKET> expanded.
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`((?:BACKFILL|POLYGON|EODHD|FRED|BINANCE)_[A-Z0-9_<>]*[A-Z0-9>])", table))
    for name in names:
        if "<MARKET>" in name:
            used |= {name.replace("<MARKET>", m.upper()) for m in MARKETS}
        elif not any(name.startswith(f"{other}_") for other in names):  # skip examples of a pattern
            used.add(name)
    used |= {f"{vendor.upper()}_API_KEYS" for vendor in ("polygon", "eodhd", "fred")}
    used |= {f"{vendor.upper()}_BASE_URL" for vendor in ("polygon", "eodhd", "fred", "binance")}
    used -= {"DAGSTER_CODE_SERVER_HOST", "DAGSTER_CODE_SERVER_PORT"}  # fixed by compose, not by .env
    missing = sorted(used - documented)
    assert not missing, f"not documented in docker/.env.example: {missing}"
    # ...and nothing stale: every documented name is read somewhere (or refines one that is).
    stale = sorted(d for d in documented if not any(d == u or d.startswith(f"{u}_") for u in used))
    assert not stale, f"docker/.env.example documents variables nothing reads: {stale}"
    values = read_env_file(ENV_EXAMPLE)
    assert values["BACKFILL_WAREHOUSE_URL"].startswith("postgresql+psycopg://")
    assert values["BACKFILL_WAREHOUSE_URL"].rsplit("/", 1)[-1] == "warehouse"
    assert "CREATE DATABASE warehouse" in (DOCKER / "postgres-init" / "01-warehouse.sql").read_text()


def test_workspace_points_at_the_code_server(compose: dict[str, Any]) -> None:
    workspace = yaml.safe_load((DOCKER / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    assert server["location_name"] == "backfill_pipeline"
    env = compose["services"]["webserver"]["environment"]
    assert env[server["host"]["env"]] == "code_server"
    assert env[server["port"]["env"]] in compose["services"]["code_server"]["expose"]
    assert "-p" in compose["services"]["code_server"]["command"]
    cs_command = compose["services"]["code_server"]["command"]
    assert cs_command[cs_command.index("-p") + 1] == env[server["port"]["env"]]


def test_production_instance_config() -> None:
    from backfill_pipeline.dagster_private import dagster_instance_config

    config, _ = dagster_instance_config(str(DOCKER), "dagster.yaml")
    assert config["telemetry"] == {"enabled": False}
    assert "storage" not in config
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert config[storage]["config"]["postgres_db"]["scheme"] == "postgresql+psycopg2", storage
    assert config["event_log_storage"]["class"] == "BatchedPostgresEventLogStorage"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    runs = config["concurrency"]["runs"]
    assert {"key": "dagster/backfill", "limit": 4} in runs["tag_concurrency_limits"]
    assert runs["max_concurrent_runs"] > 4  # room for non-backfill runs
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]
    # Every vendor the settings know, plus FRED, gets a pool size from init_instance.sh.
    script = (DOCKER / "init_instance.sh").read_text()
    sized = {vendor_pool(v) for v in re.findall(r"^set_pool (\w+) ", script, flags=re.MULTILINE)}
    assert {vendor_pool(v) for v in (*VENDORS, "fred")} <= sized


def test_only_the_authenticating_proxy_is_published(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy"}, f"published without authentication: {sorted(published - {'proxy'})}"
    # Bound to loopback unless the operator opens it (after putting TLS in front).
    for port in services["proxy"]["ports"]:
        assert port.startswith("${BACKFILL_PROXY_BIND:-127.0.0.1}:"), port
    assert {"8080", "8081"} == {p.rsplit(":", 1)[-1] for p in services["proxy"]["ports"]}
    for name in ("webserver", "webserver_readonly"):
        assert services[name]["expose"] == ["3000"], name
    conf = (DOCKER / "nginx" / "dagster.conf").read_text()
    servers = conf.split("server {")[1:]
    assert len(servers) == 2
    routes = {}
    for server in servers:
        listen = re.search(r"listen (\d+);", server).group(1)
        user_file = re.search(r"auth_basic_user_file (\S+);", server).group(1)
        upstream = re.search(r"set \$dagster_upstream http://(\w+):3000;", server).group(1)
        routes[listen] = (user_file, upstream)
    assert routes == {
        "8080": ("/run/secrets/operators_htpasswd", "webserver"),
        "8081": ("/run/secrets/viewers_htpasswd", "webserver_readonly"),
    }
    assert "auth_basic off" not in conf
    assert set(services["proxy"]["secrets"]) == {"operators_htpasswd", "viewers_htpasswd"} == set(compose["secrets"])


def test_read_only_webserver_is_one_profile_away(compose: dict[str, Any]) -> None:
    services = compose["services"]
    full, read_only = services["webserver"]["command"], services["webserver_readonly"]["command"]
    assert "--read-only" not in full
    assert read_only == [*full, "--read-only"]
    assert services["webserver_readonly"]["profiles"] == ["viewers"]
    assert "# COMPOSE_PROFILES=viewers" in ENV_EXAMPLE.read_text()


def test_workers_run_steps_from_the_same_image_and_celery_config(compose: dict[str, Any]) -> None:
    from backfill_pipeline.executors import CELERY_CONFIG

    services = compose["services"]
    worker = services["worker"]
    assert worker["image"] == services["code_server"]["image"]
    assert worker["command"][:5] == ["dagster-celery", "worker", "start", "-A", "dagster_celery.app"]
    config_yaml = worker["command"][worker["command"].index("-y") + 1]
    assert worker["working_dir"] == "/opt/dagster/dagster_home"
    # The workers' Celery config is the executor's (same broker, backend and settings).
    assert yaml.safe_load((DOCKER / config_yaml).read_text())["execution"]["config"] == CELERY_CONFIG
    assert worker["deploy"]["replicas"] == "${BACKFILL_WORKERS:-3}"
    for name in ("code_server", "worker"):
        assert services[name]["environment"]["BACKFILL_EXECUTOR"] == "celery", name
    assert "ports" not in services["redis"] and "--requirepass" in services["redis"]["command"]
    assert "ports" not in services["postgres"]


def test_the_remote_worker_file_runs_the_same_worker(compose: dict[str, Any]) -> None:
    remote = yaml.safe_load((DOCKER / "docker-compose.workers.yml").read_text())
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(remote)]
    assert not errors, "\n".join(errors)
    (name,) = remote["services"]
    worker, local = remote["services"][name], compose["services"]["worker"]
    for key in ("image", "command", "working_dir", "env_file", "environment"):
        assert worker[key] == local[key], key
    assert not any(svc.get("ports") for svc in remote["services"].values())
