"""HTTPS with the simulator's own CA, and certificates made for fault tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
from pathlib import Path

import aiohttp
import pytest

from ccgw_simulator import GatewaySimulator
from ccgw_simulator.tls import client_ssl_context, generate_certificates

from .wire import Gateway, StartSim


async def _status(url: str, context: ssl.SSLContext | None) -> int:
    async with aiohttp.ClientSession() as http, http.get(url, ssl=context) as resp:
        return resp.status


async def test_https_by_default_verifies_with_the_ca(start_sim: StartSim) -> None:
    sim = await start_sim(https=True)
    assert sim.url.startswith("https://127.0.0.1:")
    assert sim.ca_file is not None
    assert await asyncio.to_thread(os.path.isfile, sim.ca_file)
    context = client_ssl_context(sim.ca_file)
    assert await _status(sim.url + "/simulator/stats", context) == 200
    # SAN localhost as well as 127.0.0.1
    assert await _status(f"https://localhost:{sim.port}/simulator/stats", context) == 200
    async with aiohttp.ClientSession() as http:
        gw = Gateway(sim, http)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await gw.login()  # the system trust store does not know the simulator's CA


async def test_cert_dir_is_reused(start_sim: StartSim, tmp_path: Path) -> None:
    first = await start_sim(https=True, cert_dir=str(tmp_path))
    assert first.ca_file == str(tmp_path / "ca.pem")
    ca = (tmp_path / "ca.pem").read_bytes()
    await first.stop()
    second = await start_sim(https=True, cert_dir=str(tmp_path))
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert await _status(second.url + "/simulator/", client_ssl_context(second.ca_file)) == 200


async def test_given_certificate_and_key(start_sim: StartSim, tmp_path: Path) -> None:
    files = generate_certificates(tmp_path, key_type="rsa")
    sim = await start_sim(https=True, cert_file=str(files.cert_file), key_file=str(files.key_file))
    assert sim.ca_file is None
    assert await _status(sim.url + "/simulator/", client_ssl_context(files.ca_file)) == 200


async def test_temporary_certificates_are_removed_on_stop(start_sim: StartSim) -> None:
    sim = await start_sim(https=True)
    assert sim.ca_file is not None
    ca = sim.ca_file
    await sim.stop()
    assert not await asyncio.to_thread(os.path.exists, ca)


@pytest.mark.parametrize(
    ("hosts", "not_after"),
    [
        (("localhost", "127.0.0.1"), dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)),
        (("gateway.example",), None),
    ],
    ids=["expired", "wrong-host"],
)
async def test_bad_certificates_fail_verification(
    start_sim: StartSim, tmp_path: Path, hosts: tuple[str, ...], not_after: dt.datetime | None
) -> None:
    files = generate_certificates(
        tmp_path,
        hosts=hosts,
        not_after=not_after,
        not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30),
    )
    sim = await start_sim(https=True, cert_file=str(files.cert_file), key_file=str(files.key_file))
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await _status(sim.url + "/simulator/", client_ssl_context(files.ca_file))


def test_simulator_is_usable_without_starting() -> None:
    sim = GatewaySimulator()
    assert sim.url == "https://127.0.0.1:8043"
    assert sim.ca_file is None
