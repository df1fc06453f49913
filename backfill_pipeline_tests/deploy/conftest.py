"""The compose deployment, run without Docker: the services' own commands as local processes.

`deployed_stack` reads docker-compose.yml and starts what its services run (the one-shot
`dagster_init`, then `code_server`, then `webserver` and `daemon`) with a DAGSTER_HOME laid
out like the image's (copies of docker/dagster.yaml, workspace.yaml, init_instance.sh), the
environment of docker/.env.example, and two throwaway PostgreSQL databases (instance storage,
warehouse). The only changes to the commands: container ports become free local ports, and
0.0.0.0 / service host names become 127.0.0.1. Readiness is each service's own compose
healthcheck, run the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backfill_pipeline.testing import local_deploy
from backfill_pipeline.testing.local_deploy import free_port, read_env_file

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
# What Dockerfile.dagster copies into $DAGSTER_HOME (its WORKDIR): test_dockerfiles checks it.
DAGSTER_HOME_FILES = ("dagster.yaml", "workspace.yaml", "init_instance.sh")
LONG_RUNNING = ("code_server", "webserver", "daemon")
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def load_compose() -> dict[str, Any]:
    return local_deploy.load_compose(DOCKER)


def artifacts_dir() -> Path:
    path = Path(os.environ.get("BACKFILL_TEST_ARTIFACTS") or REPO / "test_artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def localize(command: list[str], ports: Mapping[str, int]) -> list[str]:
    """A compose command with container ports mapped to local ones and hosts to loopback."""
    out: list[str] = []
    for i, token in enumerate(command):
        option = command[i - 1] if i else ""
        if option in ("-p", "--port"):
            if token not in ports:
                raise AssertionError(f"{command}: port {token} is not a known container port {sorted(ports)}")
            token = str(ports[token])
        elif option in ("-h", "--host"):
            token = "127.0.0.1"
        else:
            for container, local in ports.items():
                token = token.replace(f"localhost:{container}", f"127.0.0.1:{local}")
        out.append(token)
    return out


def healthcheck_command(service: Mapping[str, Any], ports: Mapping[str, int]) -> list[str]:
    test = list(service["healthcheck"]["test"])
    assert test[0] == "CMD", f"healthcheck {test} should be exec form (CMD) to run the same way here"
    return localize(test[1:], ports)


@dataclass
class PgDatabases:
    admin_url: str
    instance_db: str
    warehouse_db: str

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return (
            sa.engine.make_url(self.admin_url)
            .set(drivername=driver, database=database)
            .render_as_string(hide_password=False)
        )

    @property
    def warehouse_url(self) -> str:
        return self.url(self.warehouse_db)

    @property
    def instance_url(self) -> str:
        return self.url(self.instance_db)


@pytest.fixture(scope="session")
def deploy_databases() -> Iterator[PgDatabases]:
    """Two throwaway databases (instance storage, warehouse), dropped at the end."""
    admin_url = os.environ.get("BACKFILL_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
    suffix = uuid.uuid4().hex[:8]
    dbs = PgDatabases(admin_url, f"bp_deploy_instance_{suffix}", f"bp_deploy_warehouse_{suffix}")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (dbs.instance_db, dbs.warehouse_db):
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("BACKFILL_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable at {sa.engine.make_url(admin_url).render_as_string()}: {exc.orig}")
    yield dbs
    with admin.connect() as conn:
        for name in (dbs.instance_db, dbs.warehouse_db):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    webserver_url: str
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    startup_s: float = 0.0

    def run(self, *args: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        """A command in the deployment's environment (like `docker compose exec`)."""
        return subprocess.run(
            list(args), cwd=self.home, env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False
        )

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def assert_running(self) -> None:
        for name, proc in self.processes.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}"


def _stop_all(procs: list[subprocess.Popen[bytes]], grace_s: float = 15.0) -> None:
    """SIGTERM each service's process group (the service and every run worker it spawned),
    then SIGKILL whatever is left after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        for proc in alive:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        for proc in alive:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def _wait_healthy(stack: Stack, name: str, check: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        stack.assert_running()
        result = stack.run(*check, timeout_s=60)
        if result.returncode == 0:
            return
        last = (result.stdout + result.stderr)[-1000:]
        time.sleep(1.0)
    raise AssertionError(f"{name} not healthy after {timeout_s:.0f} s ({check}): {last}\n{stack.log_tail(name)}")


@pytest.fixture(scope="session")
def deployed_stack(deploy_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    compose = load_compose()
    services = compose["services"]
    root = tmp_path_factory.mktemp("deploy")
    home = root / "dagster_home"
    home.mkdir()
    for name in DAGSTER_HOME_FILES:
        shutil.copy2(DOCKER / name, home / name)
    logs = root / "logs"
    logs.mkdir()

    ports = {"4000": free_port(), "3000": free_port()}
    admin = sa.engine.make_url(deploy_databases.admin_url)
    env = {
        **os.environ,
        **read_env_file(ENV_EXAMPLE),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "DAGSTER_COMPUTE_LOGS_DIR": str(home / "storage"),  # ENV of both images
        "DAGSTER_POSTGRES_USER": admin.username or "postgres",
        "DAGSTER_POSTGRES_PASSWORD": admin.password or "",
        "DAGSTER_POSTGRES_HOST": admin.host or "127.0.0.1",
        "DAGSTER_POSTGRES_PORT": str(admin.port or 5432),
        "DAGSTER_POSTGRES_DB": deploy_databases.instance_db,
        "BACKFILL_WAREHOUSE_URL": deploy_databases.warehouse_url,
    }
    for name in ("webserver", "daemon"):  # the workspace names the code server by env
        env.update({k: str(v) for k, v in (services[name].get("environment") or {}).items()})
    env["DAGSTER_CODE_SERVER_HOST"] = "127.0.0.1"
    env["DAGSTER_CODE_SERVER_PORT"] = str(ports[env["DAGSTER_CODE_SERVER_PORT"]])
    env.pop("PYTHONPATH", None)

    stack = Stack(home, env, f"http://127.0.0.1:{ports['3000']}", logs)
    env["BACKFILL_DAGSTER_URL"] = stack.webserver_url  # the CLI's `backfill` launches through it
    started = time.monotonic()

    def start(name: str) -> None:
        command = localize(list(services[name]["command"]), ports)
        log = (logs / f"{name}.log").open("wb")
        stack.processes[name] = subprocess.Popen(
            command, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    try:
        init = stack.run(*services["dagster_init"]["command"], timeout_s=180)
        assert init.returncode == 0, f"dagster_init failed:\n{init.stdout[-3000:]}\n{init.stderr[-3000:]}"
        start("code_server")
        _wait_healthy(stack, "code_server", healthcheck_command(services["code_server"], ports), 120)
        start("webserver")
        start("daemon")
        _wait_healthy(stack, "webserver", healthcheck_command(services["webserver"], ports), 120)
        _wait_healthy(stack, "daemon", healthcheck_command(services["daemon"], ports), 120)
        stack.startup_s = time.monotonic() - started
        yield stack
    finally:
        _stop_all(list(stack.processes.values()))
        try:  # the services' logs, kept as test artefacts
            shutil.copytree(logs, artifacts_dir() / "deploy_logs", dirs_exist_ok=True)
        except OSError:
            pass
