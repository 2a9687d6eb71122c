"""`--diagnose`: one sign-in, the account's kind, VDN, node, TLS facts, discovery, one batch,
sign-out, each timed, with the cure of every failure and no secret (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trustme

from exporter.config import GatewayConfig, parse_config
from exporter.diagnose import diagnose_gateway

from .conftest import AGENT, INSPECTOR, SimFactory


def gateway(sim: Any, tmp_path: Path, account: tuple[str, str] = INSPECTOR,
            **overrides: Any) -> GatewayConfig:  # fmt: skip
    entry: dict[str, Any] = {
        "name": "gw",
        "url": sim.url,
        "agent_id": account[0],
        "password": account[1],
        "timeout": "3s",
    }
    if sim.ca_file:
        entry["tls"] = {"ca_file": sim.ca_file}
    entry.update(overrides)
    return parse_config({"gateways": [entry]}, base_dir=tmp_path).config.gateways[0]


async def test_an_inspector_over_tls_passes(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = await make_sim(https=True)
    for _ in range(25):
        sim.population.add_conference()
    report = await diagnose_gateway(gateway(sim, tmp_path))
    text = report.render()
    assert report.passed, text
    assert "TLSv1." in text
    assert "expires" in text
    assert "a quality inspector" in text
    assert "25 ongoing conferences" in text
    assert "20 IDs asked, 20 conferences answered" in text
    assert "takes no licence" in text
    assert "VDN 1" in text
    assert "signed out" in text
    assert sim.stats.calls["logout"] == 1
    assert INSPECTOR[1] not in text
    guids = [s.current_guid for n in sim.nodes for s in n.sessions.sessions()]
    assert all(g not in text for g in guids)


async def test_an_ordinary_agent_is_named_and_still_passes(
    make_sim: SimFactory, tmp_path: Path
) -> None:
    sim = await make_sim()
    report = await diagnose_gateway(gateway(sim, tmp_path, AGENT))
    text = report.render()
    assert report.passed, text
    assert "not a quality inspector (101-004)" in text
    assert "Quality checker" in text


async def test_a_wrong_password_fails_with_its_cure(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = await make_sim()
    report = await diagnose_gateway(gateway(sim, tmp_path, ("153", "wrong-secret-987")))
    text = report.render()
    assert not report.passed
    assert "100-004" in text
    assert "wrong user name or password" in text
    assert "wrong-secret-987" not in text


async def test_a_certificate_of_another_ca_fails_with_the_openssl_hint(
    make_sim: SimFactory, tmp_path: Path
) -> None:
    sim = await make_sim(https=True)
    other = trustme.CA()
    ca = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(ca))
    report = await diagnose_gateway(gateway(sim, tmp_path, tls={"ca_file": str(ca)}))
    text = report.render()
    assert not report.passed
    assert "CERTIFICATE_VERIFY_FAILED" in text
    assert "openssl s_client -showcerts -connect 127.0.0.1:" in text
    assert "tls.ca_file" in text


async def test_nothing_listening(tmp_path: Path) -> None:
    config = parse_config(
        {"gateways": [{"name": "gw", "url": "http://127.0.0.1:9", "agent_id": "153",
                       "password": "x", "timeout": "2s"}]},
        base_dir=tmp_path,
    ).config.gateways[0]  # fmt: skip
    report = await diagnose_gateway(config)
    assert not report.passed
    assert "nothing answers at 127.0.0.1:9" in report.render()
