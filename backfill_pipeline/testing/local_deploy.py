"""The distributed compose deployment run as local processes, one "machine" per process.

`LocalDeployment` reads docker/docker-compose.yml and starts what its services run: Redis
(the broker), `dagster_init`, the code server, N Celery step workers, the webserver, the
read-only webserver, the daemon, and nginx with docker/nginx/dagster.conf in front. Each
process gets its own directory as DAGSTER_HOME and working directory, holding copies of the
files its image has (Dockerfile.dagster / Dockerfile.user_code), so nothing is shared but
PostgreSQL, Redis and the network, as between machines. The only changes to the commands:
`${VAR}` is interpolated from the environment as compose does, container ports become free
local ports, service host names and 0.0.0.0 become 127.0.0.1.

Used by the smoke test (backfill_pipeline_tests/deploy/test_distributed_deploy.py) and the
worker-scaling benchmark (`backfill-pipeline bench workers`). Needs a checkout (docker/).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
# What each image puts into $DAGSTER_HOME (test_dockerfiles checks these against the Dockerfiles).
DAGSTER_IMAGE_FILES = ("dagster.yaml", "workspace.yaml", "init_instance.sh")
USER_CODE_IMAGE_FILES = ("dagster.yaml", "celery.yaml")
NGINX_FILES = ("nginx/dagster.conf", "nginx/dagster_proxy_params")
OPERATOR_PORT, VIEWER_PORT = "8080", "8081"  # the proxy's container ports
_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}")


def load_compose(docker_dir: Path = DOCKER) -> dict[str, Any]:
    path = docker_dir / "docker-compose.yml"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the local deployment needs a checkout of the repository")
    return yaml.safe_load(path.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose's env_file reads them (comments and blanks skipped)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name, "")
        if value:
            return value
        if op == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == "-" else ""

    return _VAR.sub(sub, text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalDeployment:
    root: Path
    env: dict[str, str]  # what docker/.env gives every service, plus the test's settings
    docker_dir: Path = DOCKER
    compose: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _ports: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.compose = self.compose or load_compose(self.docker_dir)
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    @property
    def services(self) -> dict[str, Any]:
        return self.compose["services"]

    # -- names, ports and files -------------------------------------------------------

    def port(self, name: str, container_port: str) -> int:
        """The local port standing for `container_port` of process `name` (allocated once)."""
        return self._ports.setdefault((name, container_port), free_port())

    def home(self, name: str, files: Sequence[str]) -> Path:
        """The process's own DAGSTER_HOME and working directory, with its image's files."""
        path = self.root / name
        if not path.exists():
            path.mkdir(parents=True)
            for rel in files:
                shutil.copy2(self.docker_dir / rel, path / Path(rel).name)
        return path

    def localize(self, tokens: Sequence[str], name: str) -> list[str]:
        """A compose command of process `name` with ports, hosts and ${VAR} made local."""
        out: list[str] = []
        for i, raw in enumerate(tokens):
            token = interpolate(str(raw), self.env)
            option = str(tokens[i - 1]) if i else ""
            if option in ("-p", "--port"):
                token = str(self.port(name, token))
            elif option in ("-h", "--host"):
                token = "127.0.0.1"
            else:
                token = re.sub(r"localhost:(\d+)", lambda m: f"127.0.0.1:{self.port(name, m.group(1))}", token)
                token = re.sub(r"/dev/tcp/127\.0\.0\.1/(\d+)", lambda m: f"/dev/tcp/127.0.0.1/{self.port(name, m.group(1))}",
                               token)
            out.append(token)
        return out

    def url(self, name: str, container_port: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port(name, container_port)}"

    # -- processes --------------------------------------------------------------------

    def service_env(self, service: str, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            **self.env,
            **{k: interpolate(str(v), self.env) for k, v in (self.services[service].get("environment") or {}).items()},
            "DAGSTER_HOME": str(home),
            "DAGSTER_COMPUTE_LOGS_DIR": str(home / "storage"),  # ENV of both images
            **(extra or {}),
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        return env

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.processes[name] = proc
        return proc

    def run(self, command: Sequence[str], env: Mapping[str, str], cwd: Path,
            timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), cwd=cwd, env=dict(env), capture_output=True, text=True,
                              timeout=timeout_s, check=False)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def assert_running(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def wait_until(self, name: str, ready: Any, timeout_s: float, what: str) -> None:
        """Poll `ready()` (True when up) while every process lives."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.assert_running()
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"{name}: {what} not reached after {timeout_s:.0f} s\n{self.log_tail(name)}")

    def wait_healthy(self, name: str, service: str, env: Mapping[str, str], cwd: Path, timeout_s: float) -> None:
        """The service's own compose healthcheck (exec form), localized."""
        test = list(self.services[service]["healthcheck"]["test"])
        if test[0] != "CMD":
            raise ValueError(f"healthcheck of {service} is {test[0]}, not exec form (CMD)")
        check = self.localize(test[1:], name)
        self.wait_until(name, lambda: self.run(check, env, cwd, timeout_s=60).returncode == 0, timeout_s, "healthy")

    def wait_for_log(self, name: str, text: str, timeout_s: float) -> None:
        self.wait_until(name, lambda: text in self.log_tail(name, 200_000), timeout_s, repr(text))

    def stop_all(self, grace_s: float = 15.0) -> None:
        """SIGTERM each process group (a service and everything it spawned), then SIGKILL."""
        procs = list(self.processes.values())
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

    # -- the services -----------------------------------------------------------------

    def start_redis(self, timeout_s: float = 30.0) -> str:
        """The broker from the `redis` service's command; returns its redis:// base URL (with password)."""
        home = self.home("redis", ())
        command = [*self.localize(self.services["redis"]["command"], "redis"), "--bind", "127.0.0.1", "--dir", str(home)]
        self.start("redis", command, self.service_env("redis", home), home)
        password = self.env["BACKFILL_REDIS_PASSWORD"]
        port = self.port("redis", "6379")

        def pong() -> bool:
            result = self.run(["redis-cli", "-p", str(port), "ping"], {**os.environ, "REDISCLI_AUTH": password}, home, 10)
            return "PONG" in result.stdout

        self.wait_until("redis", pong, timeout_s, "PONG")
        return f"redis://:{password}@127.0.0.1:{port}"

    def start_nginx(self, secrets: Mapping[str, str], timeout_s: float = 30.0) -> None:
        """nginx with docker/nginx/dagster.conf as the `proxy` service mounts it; `secrets` are
        the contents of the password files (compose secret name -> htpasswd text)."""
        home = self.home("proxy", NGINX_FILES)
        (home / "secrets").mkdir(exist_ok=True)
        for secret, text in secrets.items():
            (home / "secrets" / secret).write_text(text)
        conf = (home / "dagster.conf").read_text()
        conf = conf.replace("/run/secrets/", f"{home}/secrets/").replace("/etc/nginx/", f"{home}/")
        for port in (OPERATOR_PORT, VIEWER_PORT):
            conf = conf.replace(f"listen {port};", f"listen 127.0.0.1:{self.port('proxy', port)};")
        conf = re.sub(r"http://(webserver\w*):(\d+)", lambda m: f"http://127.0.0.1:{self.port(m.group(1), m.group(2))}", conf)
        (home / "dagster.conf").write_text(conf)
        temp = home / "temp"
        temp.mkdir(exist_ok=True)
        # What the nginx image's own nginx.conf gives: the http context, around conf.d/*.conf.
        (home / "nginx.conf").write_text(
            f"worker_processes 1;\npid {home}/nginx.pid;\nerror_log {home}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  access_log {home}/access.log;\n"
            + "".join(f"  {kind}_temp_path {temp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"  include {home}/dagster.conf;\n}}\n"
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        user = [] if os.geteuid() else ["-g", "daemon off; user root;"]
        command = [nginx, "-p", str(home), "-e", str(home / "error.log"), "-c", str(home / "nginx.conf"),
                   *(user or ["-g", "daemon off;"])]
        self.start("proxy", command, os.environ, home)

        def answers() -> bool:
            try:
                return httpx.get(self.url("proxy", OPERATOR_PORT), timeout=2).status_code == 401
            except httpx.HTTPError:
                return False

        self.wait_until("proxy", answers, timeout_s, "401 to an anonymous request")
        check = self.localize(list(self.services["proxy"]["healthcheck"]["test"])[1:], "proxy")
        result = self.run(check, os.environ, home, 30)
        if result.returncode != 0:
            raise RuntimeError(f"the proxy's compose healthcheck fails: {check}: {result.stderr[-500:]}")

    def start_stack(self, workers: int, *, symbols: Sequence[str] = (), read_only: bool = True,
                    timeout_s: float = 180.0) -> dict[str, str]:
        """Redis, dagster_init, the code server, `workers` step workers, the webserver(s) and
        the daemon, in compose's order, each ready by its own healthcheck (workers: their
        "ready." line). `symbols` are registered through the CLI as `docker compose exec
        code_server backfill-pipeline symbols add` would. Returns Celery node name -> worker
        process name (the node from each worker's startup banner)."""
        broker = self.start_redis()
        self.env["BACKFILL_CELERY_BROKER_URL"] = f"{broker}/0"
        self.env["BACKFILL_CELERY_BACKEND_URL"] = f"{broker}/1"
        self.env["DAGSTER_CODE_SERVER_HOST"] = "127.0.0.1"
        self.env["DAGSTER_CODE_SERVER_PORT"] = str(self.port("code_server", "4000"))

        def start(name: str, service: str, files: Sequence[str]) -> tuple[dict[str, str], Path]:
            home = self.home(name, files)
            env = self.service_env(service, home, {k: self.env[k] for k in (
                "DAGSTER_CODE_SERVER_HOST", "DAGSTER_CODE_SERVER_PORT")})
            self.start(name, self.localize(self.services[service]["command"], name), env, home)
            return env, home

        init_home = self.home("dagster_init", DAGSTER_IMAGE_FILES)
        init = self.run(self.services["dagster_init"]["command"], self.service_env("dagster_init", init_home), init_home)
        if init.returncode != 0:
            raise RuntimeError(f"dagster_init failed:\n{init.stdout[-3000:]}\n{init.stderr[-3000:]}")
        code_env, code_home = start("code_server", "code_server", USER_CODE_IMAGE_FILES)
        if symbols:
            added = self.run(["backfill-pipeline", "symbols", "add", "--market", "us_equities", *symbols],
                             code_env, code_home)
            if added.returncode != 0:
                raise RuntimeError(f"symbols add failed: {added.stderr[-2000:]}")
        for i in range(1, workers + 1):
            start(f"worker{i}", "worker", USER_CODE_IMAGE_FILES)
        self.wait_healthy("code_server", "code_server", code_env, code_home, timeout_s)
        webservers = ("webserver", "webserver_readonly") if read_only else ("webserver",)
        started = {name: start(name, name, DAGSTER_IMAGE_FILES) for name in (*webservers, "daemon")}
        for name, (env, home) in started.items():
            self.wait_healthy(name, name, env, home, timeout_s)
        nodes: dict[str, str] = {}
        for i in range(1, workers + 1):
            self.wait_for_log(f"worker{i}", " ready.", timeout_s)
            # dagster-celery's default node name: dagster-<6 hex>@<host>
            node = re.search(r"(dagster-[0-9a-f]{6}@\S+)", self.log_tail(f"worker{i}", 200_000))
            if node is None:
                raise RuntimeError(f"worker{i}: no node name in its log\n{self.log_tail(f'worker{i}')}")
            nodes[node.group(1)] = f"worker{i}"
        return nodes
