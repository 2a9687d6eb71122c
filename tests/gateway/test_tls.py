"""TLS settings of the gateway client: verify by default, private CA, client certificate,
and a loud insecure mode."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
import trustme

from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.errors import TransportError
from exporter.gateway.tls import ResumingSSLContext, TLSSettings, build_ssl_context

from ..conftest import INSPECTOR, deadline


def client(url: str, context: ssl.SSLContext) -> GatewayClient:
    return GatewayClient(ClientSettings(base_url=url, agent_id=INSPECTOR[0], ssl=context))


async def test_default_context_rejects_the_simulators_private_ca(make_sim) -> None:
    sim = await make_sim(https=True)
    c = client(sim.url, build_ssl_context(TLSSettings()))
    try:
        with pytest.raises(TransportError) as info:
            await c.loginEx(INSPECTOR[1], "", deadline())
        assert info.value.reason == "tls"
    finally:
        await c.close()


async def test_ca_file_makes_it_verify(make_sim) -> None:
    sim = await make_sim(https=True)
    c = client(sim.url, build_ssl_context(TLSSettings(ca_file=sim.ca_file or "")))
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        assert c.guid
    finally:
        await c.close()


async def test_insecure_skip_verify_connects_and_warns(make_sim, caplog) -> None:
    sim = await make_sim(https=True)
    with caplog.at_level(logging.WARNING):
        context = build_ssl_context(TLSSettings(insecure_skip_verify=True), gateway="gw")
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)
    c = client(sim.url, context)
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        assert c.guid
    finally:
        await c.close()


async def test_server_name_verifies_a_certificate_for_another_host(make_sim) -> None:
    # The simulator's certificate names localhost; reaching it as 127.0.0.1 with
    # server_name=localhost must verify (the case of a gateway addressed by IP).
    sim = await make_sim(https=True)
    context = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    c = GatewayClient(ClientSettings(base_url=sim.url, agent_id=INSPECTOR[0], ssl=context,
                                     server_name="localhost"))  # fmt: skip
    wrong = GatewayClient(ClientSettings(base_url=sim.url, agent_id=INSPECTOR[0], ssl=context,
                                         server_name="gateway.example"))  # fmt: skip
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        with pytest.raises(TransportError) as info:
            await wrong.loginEx(INSPECTOR[1], "", deadline())
        assert info.value.reason == "tls"
    finally:
        await c.close()
        await wrong.close()


def test_client_certificate_is_loaded(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("ccgw-exporter")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    context = build_ssl_context(TLSSettings(cert_file=str(cert_file), key_file=str(key_file)))
    assert context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ssl.SSLError):
        build_ssl_context(TLSSettings(cert_file=str(key_file), key_file=str(key_file)))


def test_context_has_the_running_pythons_client_defaults() -> None:
    context = build_ssl_context(TLSSettings())
    defaults = ssl.create_default_context()
    assert isinstance(context, ResumingSSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.verify_flags == defaults.verify_flags
    assert context.options == defaults.options
    assert context.minimum_version == defaults.minimum_version
    assert context.cert_store_stats() == defaults.cert_store_stats()


@pytest.mark.parametrize("tls_version", ["TLSv1_3", "TLSv1_2"])
async def test_new_connections_resume_the_tls_session(make_sim, tls_version: str) -> None:
    """Each close() drops every pooled connection, as the pool's idle timeout does between
    scrapes far apart: the next calls connect again and the simulator sees resumed sessions."""
    sim = await make_sim(https=True)
    context = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    context.maximum_version = ssl.TLSVersion[tls_version]
    c = client(sim.url, context)
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        for _ in range(3):
            await c.close()
            await c.queryAllConfIds(deadline())
    finally:
        await c.close()
    assert sim.stats.tls_connections == {"full": 1, "resumed": 3}
    assert context.offered == 3


async def test_a_session_openssl_refuses_is_dropped_and_the_connection_made(make_sim) -> None:
    sim = await make_sim(https=True)
    first = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    c = client(sim.url, first)
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        (session,) = first._unused["127.0.0.1"]
        await c.logout(deadline())
    finally:
        await c.close()
    # A session of another context: ssl refuses it ("different SSLContext") at wrap_bio.
    second = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    second.keep("127.0.0.1", session)
    c = client(sim.url, second)
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        assert c.guid
    finally:
        await c.close()
    assert sim.stats.tls_connections == {"full": 2}
    assert second.offered == 0
    assert session not in second._unused["127.0.0.1"]  # dropped; its own session came in
    assert second._newest["127.0.0.1"] is not session


async def test_sessions_older_than_the_maximum_age_are_not_offered(make_sim) -> None:
    sim = await make_sim(https=True)
    context = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    c = client(sim.url, context)
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        context.max_session_age = -1.0  # every session is too old now
        await c.close()
        await c.queryAllConfIds(deadline())
    finally:
        await c.close()
    assert sim.stats.tls_connections == {"full": 2}
    assert context.offered == 0
