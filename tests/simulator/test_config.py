"""SimulatorConfig: defaults, YAML, CLI flags, and refusing mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccgw_simulator import Account, ConfigError, FaultConfig, SimulatorConfig
from ccgw_simulator.cli import build_parser, describe, load_config
from ccgw_simulator.config import parse_listen
from ccgw_simulator.server import GatewaySimulator


def test_defaults() -> None:
    cfg = SimulatorConfig()
    assert (cfg.host, cfg.port, cfg.https) == ("127.0.0.1", 8043, True)
    assert cfg.auth_mode == "dynamic"
    assert (cfg.guid_interval, cfg.guid_timeout, cfg.poll_hold, cfg.idle_signout) == (
        60.0,
        120.0,
        10.0,
        120.0,
    )
    assert (cfg.conferences, cfg.seed, cfg.nodes, cfg.time_scale) == (20, 1, 1, 1.0)
    assert (cfg.result_shape, cfg.stringly_numbers) == ("confs", False)
    assert (cfg.signin_delay, cfg.lock_after, cfg.lock_seconds) == (0.05, 5, 300.0)
    assert cfg.accounts == [
        Account("153", "sim-inspector", inspector=True),
        Account("154", "sim-agent"),
    ]
    assert cfg.faults == FaultConfig()


def test_yaml_file_with_flags_over_it(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        """
port: 9443
auth_mode: static
guid_interval: 0.2
conferences: 500
nodes: 2
result_shape: bare
accounts:
  - {agent_id: 200, password: pw, inspector: true}
faults:
  methods: [queryConfInfos]
  retcodes: {"100-007": 0.1}
  rules:
    - {methods: [getAgentEvent], latency_ms: 30}
"""
    )
    args = build_parser().parse_args(
        ["--config", str(path), "--conferences", "7", "--latency-ms", "5", "--http"]
    )
    cfg = load_config(args)
    assert cfg.port == 9443
    assert cfg.auth_mode == "static"
    assert cfg.guid_interval == 0.2
    assert cfg.conferences == 7  # the flag wins
    assert cfg.https is False
    assert cfg.nodes == 2
    assert cfg.result_shape == "bare"
    assert cfg.accounts == [Account("200", "pw", inspector=True)]
    assert cfg.faults.methods == ["queryConfInfos"]
    assert cfg.faults.retcodes == {"100-007": 0.1}
    assert cfg.faults.latency_ms == 5
    assert cfg.faults.rules[0].methods == ["getAgentEvent"]
    assert cfg.faults.rules[0].latency_ms == 30


def test_every_flag() -> None:
    args = build_parser().parse_args(
        [
            "--listen=0.0.0.0:0",
            "--auth-mode=static",
            "--guid-interval=1.5",
            "--guid-timeout=3",
            "--poll-hold=2",
            "--idle-signout=9",
            "--signin-delay=0",
            "--lock-after=2",
            "--lock-seconds=4",
            "--conferences=11",
            "--seed=9",
            "--nodes=3",
            "--time-scale=60",
            "--result-shape=bare",
            "--stringly-numbers",
            "--agent=300:secret:inspector",
            "--agent=301:other",
            "--cert-dir=/tmp/x",
            "--fault-methods=queryConfInfos,getAgentEvent",
            "--latency-ms=10",
            "--jitter-ms=2",
            "--retcode=100-007=0.25",
            "--retcode=000-003=0.5",
            "--http-error-rate=0.1",
            "--http-error-status=503",
            "--reset-rate=0.2",
            "--malformed-rate=0.3",
            "--slow-rate=0.4",
            "--slow-seconds=99",
            "--fault-seed=4",
            "--agent-id-range=old",
            "--no-forceloginex",
            "--charset=GB18030",
            "--messages=zh",
            "--vdn=3",
            "--prompt-minutes=5",
            "--activity-mean=60",
            "--replacement-mean=5",
            "--prolong-probability=0.5",
        ]
    )
    cfg = load_config(args)
    assert (cfg.agent_id_range, cfg.forceloginex, cfg.charset, cfg.messages) == (
        "old",
        False,
        "GB18030",
        "zh",
    )
    assert (cfg.vdn, cfg.prompt_minutes) == (3, 5)
    assert (cfg.activity_mean_s, cfg.replacement_mean_s, cfg.prolong_probability) == (60, 5, 0.5)
    assert (cfg.host, cfg.port) == ("0.0.0.0", 0)
    assert (cfg.auth_mode, cfg.guid_interval, cfg.guid_timeout) == ("static", 1.5, 3.0)
    assert (cfg.poll_hold, cfg.idle_signout, cfg.signin_delay) == (2.0, 9.0, 0.0)
    assert (cfg.lock_after, cfg.lock_seconds) == (2, 4.0)
    assert (cfg.conferences, cfg.seed, cfg.nodes, cfg.time_scale) == (11, 9, 3, 60.0)
    assert (cfg.result_shape, cfg.stringly_numbers, cfg.cert_dir) == ("bare", True, "/tmp/x")
    assert cfg.accounts == [Account("300", "secret", True), Account("301", "other")]
    f = cfg.faults
    assert f.methods == ["queryConfInfos", "getAgentEvent"]
    assert (f.latency_ms, f.jitter_ms) == (10, 2)
    assert f.retcodes == {"100-007": 0.25, "000-003": 0.5}
    assert (f.http_error_rate, f.http_error_status) == (0.1, 503)
    assert (f.reset_rate, f.malformed_rate, f.slow_rate, f.slow_seconds) == (0.2, 0.3, 0.4, 99)
    assert f.seed == 4


@pytest.mark.parametrize(
    "data",
    [
        {"nosuch": 1},
        {"auth_mode": "AUTHMODE=2"},
        {"result_shape": "array"},
        {"guid_interval": 0},
        {"conferences": 20001},
        {"conferences": 1.5},
        {"nodes": 0},
        {"https": "yes"},
        {"port": 70000},
        {"cert_file": "a.pem"},
        {"accounts": [{"agent_id": "12", "password": "x"}]},
        {"accounts": [{"agent_id": "300"}]},
        {"accounts": [{"agent_id": 300, "password": "a"}, {"agent_id": "300", "password": "b"}]},
        {"faults": {"retcodes": {"1007": 0.5}}},
        {"faults": {"reset_rate": 1.5}},
        {"faults": {"methods": ["queryconfinfos"]}},
        {"faults": {"rules": [{"nosuch": 1}]}},
    ],
)
def test_mistakes_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimulatorConfig.from_mapping(data)


@pytest.mark.parametrize(
    ("text", "where"),
    [("127.0.0.1:8043", ("127.0.0.1", 8043)), (":0", ("0.0.0.0", 0)), ("[::1]:9", ("::1", 9))],
)
def test_listen_uses_the_exporters_grammar(text: str, where: tuple[str, int]) -> None:
    """One parser for a listen address on both sides of the wire (exporter.primitives)."""
    assert parse_listen(text) == where


@pytest.mark.parametrize("text", ["8043", "host:port", "::1:80", "[::1]:70000", "a b:1"])
def test_bad_listen_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--listen: "):
        parse_listen(text)


@pytest.mark.parametrize(
    "data",
    [
        {"agent_id_range": "new"},
        {"forceloginex": "yes"},
        {"charset": "no-such-charset"},
        {"charset": 8},
        {"messages": "de"},
        {"vdn": 0},
        {"prompt_minutes": 0},
        {"activity_mean_s": 0},
        {"replacement_mean_s": -1},
        {"prolong_probability": 1.5},
        {"accounts": [{"agent_id": "153", "password": "x", "vdn": 0}]},
    ],
)
def test_fidelity_and_churn_settings_are_checked(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimulatorConfig.from_mapping(data)


def test_fidelity_and_churn_settings_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        "agent_id_range: old\nforceloginex: false\ncharset: GBK\nmessages: zh\nvdn: 7\n"
        "prompt_minutes: 5\nactivity_mean_s: 30\nprolong_probability: 0.5\n"
        "accounts: [{agent_id: '153', password: x, inspector: true, vdn: 7}]\n"
    )
    cfg = SimulatorConfig.from_yaml(str(path))
    assert (cfg.agent_id_range, cfg.forceloginex, cfg.charset, cfg.messages) == (
        "old",
        False,
        "GBK",
        "zh",
    )
    assert (cfg.vdn, cfg.prompt_minutes, cfg.activity_mean_s) == (7, 5, 30.0)
    assert cfg.accounts[0].vdn == 7


@pytest.mark.parametrize("text", ["153", "153:a:b", "12:pw", "abc:pw"])
def test_bad_agent_flag(text: str) -> None:
    with pytest.raises(ConfigError):
        Account.parse(text)


def test_fault_config_round_trips() -> None:
    data = {
        "methods": ["queryConfInfos"],
        "retcodes": {"100-007": 0.5},
        "slow_rate": 0.1,
        "rules": [{"latency_ms": 3, "limit": 2}],
        "seed": 3,
    }
    faults = FaultConfig.from_mapping(data)
    assert FaultConfig.from_mapping(faults.to_mapping()) == faults


def test_banner_shows_fixture_passwords_only() -> None:
    cfg = SimulatorConfig(accounts=[Account("153", "sim-inspector", True), Account("200", "pw")])
    text = "\n".join(describe(GatewaySimulator(cfg)))
    assert "153 inspector (password sim-inspector)" in text
    assert "200 agent (password <secret>)" in text
    assert "pw" not in text.replace("password", "")
    assert "auth mode: dynamic" in text
