"""docker-compose.yml: valid against the Compose Specification, and shaped as the design says.

PyYAML is not a dependency of the project; ruamel.yaml is (through check-jsonschema, in the
``test`` extra), and it is the parser check-jsonschema itself uses, so both tests read the file
the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

# Services that run once and exit; they need no healthcheck (nothing long-lived to probe).
ONE_SHOT_RESTART = "no"
ALWAYS_UP = {"api", "worker", "redis", "postgres"}


def _check_jsonschema() -> str:
    beside = Path(sys.executable).parent / "check-jsonschema"
    if beside.exists():
        return str(beside)
    found = shutil.which("check-jsonschema")
    if found is None:
        pytest.fail("check-jsonschema is not installed (it is in the project's `test` extra)")
    return found


def _compose() -> dict:
    data = YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def _services() -> dict:
    services = _compose().get("services")
    assert isinstance(services, dict) and services, "docker-compose.yml has no services"
    return services


def _healthy_dependencies(service: dict) -> set[str]:
    depends_on = service.get("depends_on") or {}
    # The short (list) form carries no condition, so it can never mean "healthy".
    if not isinstance(depends_on, dict):
        return set()
    return {
        name
        for name, spec in depends_on.items()
        if isinstance(spec, dict) and spec.get("condition") == "service_healthy"
    }


def _is_one_shot(service: dict) -> bool:
    return service.get("restart") == ONE_SHOT_RESTART


def test_compose_file_validates_against_compose_spec():
    result = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"check-jsonschema failed:\n{result.stdout}\n{result.stderr}"


def test_core_services_present():
    missing = ALWAYS_UP - set(_services())
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_wait_for_healthy_postgres_and_redis(name):
    service = _services()[name]
    healthy = _healthy_dependencies(service)
    assert {"postgres", "redis"} <= healthy, (
        f"{name} must depend on postgres and redis with condition service_healthy; has {sorted(healthy)}"
    )


def test_every_long_running_service_has_a_healthcheck():
    services = _services()
    for name in ALWAYS_UP:
        assert not _is_one_shot(services[name]), f"{name} must not be a one-shot (restart: 'no') service"
    for name, service in services.items():
        if _is_one_shot(service):
            continue
        check = service.get("healthcheck")
        assert isinstance(check, dict), f"service {name} has no healthcheck"
        assert not check.get("disable"), f"service {name} disables its healthcheck"
        test = check.get("test")
        assert test, f"service {name} has a healthcheck without a test"
        if isinstance(test, list):
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"service {name}: bad healthcheck test {test}"


def test_dependencies_on_healthy_services_have_healthchecks():
    # condition: service_healthy on a service without a healthcheck would never start.
    services = _services()
    for name, service in services.items():
        for dep in _healthy_dependencies(service):
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert isinstance(services[dep].get("healthcheck"), dict), (
                f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
            )


def test_api_serves_gunicorn_gthread_on_port_8000():
    api = _services()["api"]
    command = api.get("command")
    if isinstance(command, str):
        command = command.split()
    assert command and command[0] == "gunicorn", f"api command must run gunicorn: {command}"
    joined = " ".join(command)
    # gthread workers (SSE streams) and no silent-worker timeout come from the config every
    # gunicorn command loads; the command line gives only sizes and the address
    assert "-c python:service.gunicorn_conf" in joined, "api must load service.gunicorn_conf"
    assert "--worker-class" not in joined and "--timeout" not in joined, "settled in service.gunicorn_conf"
    from service import gunicorn_conf

    assert (gunicorn_conf.worker_class, gunicorn_conf.timeout) == ("gthread", 0)
    assert "service.app:create_app()" in command
    assert "--bind 0.0.0.0:8000" in joined
    assert any(str(p).endswith("8000:8000") for p in api.get("ports", [])), "api must publish port 8000"
    assert "healthz" in " ".join(map(str, api["healthcheck"]["test"]))


def test_app_services_share_the_orghistory_environment():
    services = _compose()["services"]
    envs = [services[name].get("environment") for name in ("api", "worker")]
    for env in envs:
        assert isinstance(env, dict)
        for key in ("ORGHISTORY_DATABASE_URL", "ORGHISTORY_REDIS_URL"):
            assert env.get(key), f"{key} missing from the app environment"
    assert envs[0] == envs[1], "api and worker must read the same settings"
    assert envs[0]["ORGHISTORY_DATABASE_URL"].startswith("postgresql://")
    assert envs[0]["ORGHISTORY_REDIS_URL"].startswith("redis://redis:")
