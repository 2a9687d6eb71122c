"""`--web.config.file`: the exporter's own endpoint behind TLS, client certificates and basic
auth, exercised by real TLS clients against `app.serve` on loopback; the file's validation;
reload; basic auth under a password spray; and `/probe` never turning its `target` into a
URL."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import bcrypt
import pytest
import trustme
import yaml

from exporter import app
from exporter.config import ConfigError, load_config
from exporter.secret import Secret
from exporter.webconfig import (
    AUTH_CACHE_TTL,
    BasicAuth,
    BasicAuthUser,
    WebSecurity,
    bcrypt_check,
    load_web_config,
)

from .conftest import INSPECTOR, SimFactory, wait_for
from .support import Process, free_port

basic = aiohttp.encode_basic_auth
USER = "prometheus"
# Generated per run, never a real password; cost 4 keeps bcrypt at about 1 ms.
PASSWORD = secrets.token_urlsafe(12)
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
GOOD = aiohttp.encode_basic_auth(USER, PASSWORD)
TIMEOUT = aiohttp.ClientTimeout(total=5)


# --------------------------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True)
class PKI:
    """A server CA and certificate for 127.0.0.1, a client CA with one client, and a client
    from a CA the exporter does not trust; files under ``dir``."""

    dir: Path
    server_ca: trustme.CA
    server: trustme.LeafCert
    client_ca: trustme.CA
    client: trustme.LeafCert
    stranger: trustme.LeafCert

    def files(self, name: str, leaf: trustme.LeafCert) -> tuple[str, str]:
        cert, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)

    def client_ca_file(self) -> str:
        path = self.dir / "client-ca.crt"
        self.client_ca.cert_pem.write_to_path(str(path))
        return str(path)

    def context(
        self, cert: trustme.LeafCert | None = None, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        """A client context trusting the server CA, optionally with a client certificate."""
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        if maximum is not None:
            context.maximum_version = maximum
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    server_ca, client_ca = trustme.CA(), trustme.CA()
    return PKI(
        dir=tmp_path_factory.mktemp("pki"),
        server_ca=server_ca,
        server=server_ca.issue_cert("127.0.0.1"),
        client_ca=client_ca,
        client=client_ca.issue_cert("scraper@example.org"),
        stranger=trustme.CA().issue_cert("scraper@example.org"),
    )


def tls_section(pki: PKI, **extra: Any) -> dict[str, Any]:
    cert, key = pki.files("server", pki.server)
    return {"cert_file": cert, "key_file": key, **extra}


# --------------------------------------------------------------------------------------------
# An exporter served by app.serve with a web config


@dataclass
class Served:
    base: str
    web_config: Path
    security: WebSecurity
    bcrypt_calls: list[bytes] = field(default_factory=list)

    def write(self, web_config: dict[str, Any]) -> None:
        self.web_config.write_text(yaml.safe_dump(web_config))

    async def get(
        self,
        path: str = "/metrics",
        *,
        context: ssl.SSLContext | None = None,
        auth: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
    ) -> tuple[int, Any, str]:
        """One request on a fresh connection (so each one does a TLS handshake)."""
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.request(
                method,
                self.base + path,
                ssl=context or False,
                headers={**({"Authorization": auth} if auth else {}), **(headers or {})},
            ) as resp,
        ):
            return resp.status, resp.headers, await resp.text()


Start = Callable[..., Awaitable[Served]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def factory(
        web_config: dict[str, Any], gateways: list[dict[str, Any]] | None = None
    ) -> Served:
        config_path = tmp_path / f"config{len(running)}.yaml"
        config_path.write_text(yaml.safe_dump({"gateways": gateways or []}))
        web_path = tmp_path / f"web{len(running)}.yaml"
        web_path.write_text(yaml.safe_dump(web_config))
        calls: list[bytes] = []

        def checker(password: bytes, hashed: bytes) -> bool:
            calls.append(password)
            return bcrypt_check(password, hashed)

        security = WebSecurity.from_file(str(web_path), checker=checker)
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(
            app.serve(
                load_config(config_path),
                str(config_path),
                "127.0.0.1:0",
                ready=ready,
                stop=stop,
                security=security,
                lifecycle=True,
            )
        )
        running.append((stop, task))
        waiting: list[asyncio.Future[Any]] = [ready, task]
        await asyncio.wait(waiting, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises what stopped it
        host, port = ready.result()
        scheme = "https" if security.ssl_context else "http"
        return Served(f"{scheme}://{host}:{port}", web_path, security, calls)

    yield factory
    for stop, task in running:
        stop.set()
        await asyncio.wait_for(task, 10)


# --------------------------------------------------------------------------------------------
# Basic auth


async def test_basic_auth_over_tls(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki), "basic_auth_users": {USER: HASH}})
    trust = pki.context()

    status, headers, body = await served.get(context=trust)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic realm=")
    assert "ccgw_" not in body

    for auth in (
        basic(USER, "wrong"),
        basic("nobody", PASSWORD),
        basic(USER, PASSWORD + "x"),
        basic(USER, ""),
    ):
        status, headers, body = await served.get(context=trust, auth=auth)
        assert status == 401, auth
        assert "WWW-Authenticate" in headers
    for raw in ("Basic !!!", "Basic " + "dXNlcg==", "Bearer abc", "Basic"):  # "user", no colon
        status, _, _ = await served.get(context=trust, headers={"Authorization": raw})
        assert status == 401, raw

    status, _, body = await served.get(context=trust, auth=GOOD)
    assert status == 200
    assert "ccgw_build_info" in body
    # Everything is behind the password: a stranger cannot even map the routes.
    for path in ("/", "/probe?target=x", "/-/healthy", "/no-such-page"):
        assert (await served.get(path, context=trust))[0] == 401, path
    assert (await served.get("/-/reload", context=trust, method="POST"))[0] == 401
    assert (await served.get("/no-such-page", context=trust, auth=GOOD))[0] == 404


async def test_a_scrape_pays_for_bcrypt_once_per_credential(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki), "basic_auth_users": {USER: HASH}})
    for _ in range(5):
        assert (await served.get(context=pki.context(), auth=GOOD))[0] == 200
    assert served.bcrypt_calls == [PASSWORD.encode()]
    # An unknown user still costs a bcrypt check (against a real hash): no enumeration by time.
    assert (await served.get(context=pki.context(), auth=basic("nobody", "x")))[0] == 401
    assert served.bcrypt_calls[1:] == [b"x"]


async def test_plain_http_with_basic_auth(start: Start) -> None:
    """Without tls_server_config the listener is plain HTTP (and the file warns about it)."""
    served = await start({"basic_auth_users": {USER: HASH}})
    assert served.base.startswith("http://")
    assert any("clear text" in w for w in served.security.warnings)
    assert (await served.get())[0] == 401
    assert (await served.get(auth=GOOD))[0] == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def header(user: str, password: str) -> str:
    return basic(user, password)


async def test_credential_cache_is_bounded_in_time_and_size() -> None:
    calls: list[bytes] = []

    def checker(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return bcrypt_check(password, hashed)

    clock = FakeClock()
    auth = BasicAuth(
        (BasicAuthUser(USER, Secret(HASH)),), checker=checker, clock=clock, max_entries=3
    )
    assert await auth.verify(header(USER, PASSWORD)) == "ok"
    assert await auth.verify(header(USER, PASSWORD)) == "ok"
    assert len(calls) == 1
    # A credential in use stays verified: each use extends its life by the TTL.
    for _ in range(3):
        clock.now += AUTH_CACHE_TTL - 1
        assert await auth.verify(header(USER, PASSWORD)) == "ok"
    assert len(calls) == 1
    clock.now += AUTH_CACHE_TTL + 1  # unused for longer than the TTL: checked again
    assert await auth.verify(header(USER, PASSWORD)) == "ok"
    assert len(calls) == 2
    # Wrong passwords are remembered too (a misconfigured scraper does not burn CPU) ...
    assert await auth.verify(header(USER, "wrong")) == "denied"
    assert await auth.verify(header(USER, "wrong")) == "denied"
    assert len(calls) == 3
    # ... but the cache never grows past its bound, whatever a client sends ...
    for i in range(10):
        assert await auth.verify(header(USER, f"guess{i}")) == "denied"
    assert len(auth._invalid) == 3
    # ... and they never push out a credential that verified.
    calls.clear()
    assert await auth.verify(header(USER, PASSWORD)) == "ok"
    assert calls == []
    # Concurrent scrapes with the same new credential share one check.
    clock.now += AUTH_CACHE_TTL * 2
    results = await asyncio.gather(*(auth.verify(header(USER, PASSWORD)) for _ in range(8)))
    assert results == ["ok"] * 8
    assert len(calls) == 1


async def test_overlong_and_non_utf8_passwords_are_refused_not_crashed() -> None:
    auth = BasicAuth((BasicAuthUser(USER, Secret(HASH)),))
    assert await auth.verify(header(USER, "x" * 100)) == "denied"  # bcrypt 5 raises on > 72
    assert await auth.verify("Basic " + "cHJvbWV0aGV1czr/AA==") == "denied"  # "prometheus:\xff\x00"
    assert await auth.verify(header(USER, PASSWORD)) == "ok"


class GatedChecker:
    """A bcrypt stand-in that holds each check until the test lets it go."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.gate = threading.Semaphore(0)

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.gate.acquire(timeout=10)
        self.calls.append(password)
        return password == PASSWORD.encode()


async def test_the_queue_of_checks_is_bounded_overall_and_per_client() -> None:
    checker = GatedChecker()
    auth = BasicAuth(
        (BasicAuthUser(USER, Secret(HASH)),), checker=checker, queue_depth=4, per_client=2
    )
    running = asyncio.ensure_future(auth.verify(header(USER, "spray-0"), client="10.0.0.9"))
    await wait_for(lambda: auth.waiting == 0 and auth._worker is not None)
    spray = [
        asyncio.ensure_future(auth.verify(header(USER, f"spray-{i}"), client="10.0.0.9"))
        for i in range(1, 4)
    ]
    await asyncio.sleep(0)
    # One client holds at most two places in the queue: its third is told to come back.
    assert spray[2].done()
    assert spray[2].result() == "busy"
    # Another client still gets a place, and is let in when its turn comes.
    scraper = asyncio.ensure_future(auth.verify(header(USER, PASSWORD), client="10.0.0.1"))
    others = [
        asyncio.ensure_future(auth.verify(header(USER, f"x{i}"), client=f"10.0.1.{i}"))
        for i in range(2)
    ]
    await asyncio.sleep(0)
    assert auth.waiting == 4
    assert others[1].done()
    assert others[1].result() == "busy"  # the queue is full
    for _ in range(5):
        checker.gate.release()
    assert await asyncio.wait_for(scraper, 5) == "ok"
    assert await running == "denied"
    assert [await s for s in spray[:2]] == ["denied", "denied"]
    assert await others[0] == "denied"
    assert len(checker.calls) == 5


async def test_addresses_that_sent_wrong_passwords_make_way_for_one_that_did_not() -> None:
    """A spray from many addresses fills the queue; a scraper whose address never failed
    still gets its first check done next."""
    checker = GatedChecker()
    auth = BasicAuth(
        (BasicAuthUser(USER, Secret(HASH)),), checker=checker, queue_depth=3, per_client=1
    )
    sprayers = [f"10.0.2.{n}" for n in range(4)]
    # Each sprayer's first wrong password is checked and marks its address.
    for n, client in enumerate(sprayers[:4]):
        checker.gate.release()
        assert await auth.verify(header(USER, f"a{n}"), client=client) == "denied"
    # Now they fill the queue again (one running, three waiting) ...
    again = [asyncio.ensure_future(auth.verify(header(USER, "b0"), client=sprayers[0]))]
    await wait_for(lambda: auth.waiting == 0 and len(auth._checks) == 1)
    again += [
        asyncio.ensure_future(auth.verify(header(USER, f"b{n}"), client=sprayers[n]))
        for n in (1, 2, 3)
    ]
    await wait_for(lambda: auth.waiting == 3)
    # ... and a scraper whose address never failed comes: the queue is full of suspects ...
    scraper = asyncio.ensure_future(auth.verify(header(USER, PASSWORD), client="10.0.0.1"))
    assert await asyncio.wait_for(again[3], 1) == "busy"  # the newest suspect made way
    # A suspect never pushes anyone out.
    assert await auth.verify(header(USER, "c"), client=sprayers[0]) == "busy"
    checker.gate.release()  # the running one
    checker.gate.release()  # next: the scraper, ahead of the suspects that waited longer
    assert await asyncio.wait_for(scraper, 5) == "ok"
    assert checker.calls[-1] == PASSWORD.encode()
    for _ in range(2):
        checker.gate.release()
    assert await asyncio.gather(*again[:3]) == ["denied"] * 3


async def test_a_check_whose_client_left_is_dropped_unchecked() -> None:
    checker = GatedChecker()
    auth = BasicAuth((BasicAuthUser(USER, Secret(HASH)),), checker=checker)
    first = asyncio.ensure_future(auth.verify(header(USER, "first")))
    await wait_for(lambda: auth._worker is not None and auth.waiting == 0)
    gone = asyncio.ensure_future(auth.verify(header(USER, "gone"), alive=lambda: False))
    await asyncio.sleep(0)
    checker.gate.release()
    assert await first == "denied"
    assert await asyncio.wait_for(gone, 5) == "gone"
    assert checker.calls == [b"first"]


async def test_a_reload_that_changes_users_keeps_the_verified_credentials() -> None:
    calls: list[bytes] = []

    def checker(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return bcrypt_check(password, hashed)

    before = BasicAuth((BasicAuthUser(USER, Secret(HASH)),), checker=checker)
    assert await before.verify(header(USER, PASSWORD)) == "ok"
    other = bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=4)).decode()
    after = BasicAuth(
        (BasicAuthUser(USER, Secret(HASH)), BasicAuthUser("grafana", Secret(other))),
        checker=checker,
        inherit=before,
    )
    assert await after.verify(header(USER, PASSWORD)) == "ok"
    assert len(calls) == 1  # not checked again
    # A user whose hash changed must verify again, and with the new password.
    changed = BasicAuth((BasicAuthUser(USER, Secret(other)),), checker=checker, inherit=after)
    assert await changed.verify(header(USER, PASSWORD)) == "denied"
    assert await changed.verify(header(USER, "other")) == "ok"


# --------------------------------------------------------------------------------------------
# TLS


async def test_tls_below_the_minimum_is_refused(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki, min_version="TLS13")})
    # Refused in the handshake (the server drops the connection): no HTTP answer at all.
    with pytest.raises(aiohttp.ClientConnectorError):
        await served.get(context=pki.context(maximum=ssl.TLSVersion.TLSv1_2))
    # Control: the same server, a client that can speak TLS 1.3.
    assert (await served.get(context=pki.context()))[0] == 200
    assert await handshake(served, pki.context()) == "TLSv1.3"


async def test_tls_above_the_maximum_is_not_negotiated(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki, max_version="TLS12")})
    assert await handshake(served, pki.context()) == "TLSv1.2"
    strict = pki.context()
    strict.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(aiohttp.ClientConnectorError):
        await served.get("/-/healthy", context=strict)


async def handshake(served: Served, context: ssl.SSLContext) -> str:
    """The TLS version a raw connection negotiates."""
    host, port = served.base.removeprefix("https://").rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    await writer.wait_closed()
    return str(version)


async def test_a_required_client_certificate(start: Start, pki: PKI) -> None:
    served = await start(
        {
            "tls_server_config": tls_section(
                pki,
                client_auth_type="RequireAndVerifyClientCert",
                client_ca_file=pki.client_ca_file(),
            )
        }
    )
    # Refused during the handshake: no HTTP answer at all, not even a 401.
    for context in (pki.context(), pki.context(pki.stranger)):
        with pytest.raises(aiohttp.ClientError):
            await served.get("/-/healthy", context=context)
    # TLS 1.2 shows it unambiguously: the handshake itself fails.
    with pytest.raises(aiohttp.ClientConnectorError):
        await served.get("/-/healthy", context=pki.context(maximum=ssl.TLSVersion.TLSv1_2))
    assert (await served.get("/-/healthy", context=pki.context(pki.client)))[0] == 200


async def test_a_client_certificate_if_given_must_verify(start: Start, pki: PKI) -> None:
    served = await start(
        {
            "tls_server_config": tls_section(
                pki, client_auth_type="VerifyClientCertIfGiven", client_ca_file=pki.client_ca_file()
            )
        }
    )
    assert (await served.get("/-/healthy", context=pki.context()))[0] == 200
    assert (await served.get("/-/healthy", context=pki.context(pki.client)))[0] == 200
    with pytest.raises(aiohttp.ClientError):
        await served.get("/-/healthy", context=pki.context(pki.stranger))


async def test_client_certificate_and_password_both_apply(start: Start, pki: PKI) -> None:
    served = await start(
        {
            "tls_server_config": tls_section(
                pki,
                client_auth_type="RequireAndVerifyClientCert",
                client_ca_file=pki.client_ca_file(),
            ),
            "basic_auth_users": {USER: HASH},
        }
    )
    assert (await served.get(context=pki.context(pki.client)))[0] == 401
    assert (await served.get(context=pki.context(pki.client), auth=GOOD))[0] == 200


# --------------------------------------------------------------------------------------------
# Headers


async def test_configured_headers_on_every_answer(start: Start, pki: PKI) -> None:
    configured = {
        "X-Frame-Options": "deny",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Strict-Transport-Security": "max-age=31536000",
        "X-XSS-Protection": "",  # blank means unset
    }
    served = await start(
        {
            "tls_server_config": tls_section(pki),
            "basic_auth_users": {USER: HASH},
            "http_server_config": {"headers": configured},
        }
    )
    answers = [
        await served.get(context=pki.context(), auth=GOOD),  # 200 /metrics
        await served.get("/", context=pki.context(), auth=GOOD),  # 200 landing page
        await served.get(context=pki.context()),  # 401
        await served.get("/nope", context=pki.context(), auth=GOOD),  # 404 from the router
        await served.get("/probe", context=pki.context(), auth=GOOD),  # 400 from a handler
    ]
    assert [status for status, _, _ in answers] == [200, 200, 401, 404, 400]
    for status, headers, _ in answers:
        for name, value in configured.items():
            if value:
                assert headers.get(name) == value, (status, name)
        assert "X-XSS-Protection" not in headers


async def test_no_headers_unless_configured(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki)})
    _, headers, _ = await served.get(context=pki.context())
    assert "X-Frame-Options" not in headers
    assert "WWW-Authenticate" not in headers


# --------------------------------------------------------------------------------------------
# /probe: the target is a name, never a URL


class Listener:
    """A TCP server that counts connections: proof of whether anything dialled it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_probe_target_never_becomes_a_url(
    make_sim: SimFactory, start: Start, pki: PKI
) -> None:
    sim = await make_sim()
    listener = Listener()
    port = await listener.start()
    try:
        gateway = {
            "name": "gw",
            "url": sim.url,
            "agent_id": INSPECTOR[0],
            "password": INSPECTOR[1],
            "timeout": "5s",
        }
        served = await start(
            {"tls_server_config": tls_section(pki), "basic_auth_users": {USER: HASH}},
            gateways=[gateway],
        )
        # Control: the listener does count a connection when one is made.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        await wait_for(lambda: listener.connections == 1)
        for target in (
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{port}/metrics",
            f"127.0.0.1:{port}",
            f"//127.0.0.1:{port}",
            f"https://127.0.0.1:{port}",
        ):
            status, _, body = await served.get(
                f"/probe?target={quote(target, safe='')}",
                context=pki.context(),
                auth=GOOD,
            )
            assert status == 400, target
            assert "not a configured gateway name" in body
        await asyncio.sleep(0.2)  # room for any stray connection to land
        assert listener.connections == 1
        # Control: a configured name is probed.
        status, _, body = await served.get("/probe?target=gw", context=pki.context(), auth=GOOD)
        assert status == 200
        assert 'ccgw_up{gateway="gw"}' in body
    finally:
        await listener.stop()


# --------------------------------------------------------------------------------------------
# Reload


async def test_reload_rotates_passwords_and_certificates(start: Start, pki: PKI) -> None:
    served = await start({"tls_server_config": tls_section(pki), "basic_auth_users": {USER: HASH}})
    before = await peer_certificate(served, pki)
    new_password = secrets.token_urlsafe(12)
    new_hash = bcrypt.hashpw(new_password.encode(), bcrypt.gensalt(rounds=4)).decode()
    cert, key = pki.files("rotated", pki.server_ca.issue_cert("127.0.0.1"))
    served.write(
        {
            "tls_server_config": {"cert_file": cert, "key_file": key},
            "basic_auth_users": {USER: new_hash},
        }
    )
    status, _, body = await served.get("/-/reload", context=pki.context(), auth=GOOD, method="POST")
    assert status == 200, body
    assert (await served.get(context=pki.context(), auth=GOOD))[0] == 401
    new_auth = basic(USER, new_password)
    assert (await served.get(context=pki.context(), auth=new_auth))[0] == 200
    after = await peer_certificate(served, pki)
    assert after != before
    assert after == ssl.PEM_cert_to_DER_cert(pki.dir.joinpath("rotated.crt").read_text())


async def peer_certificate(served: Served, pki: PKI) -> bytes:
    host, port = served.base.removeprefix("https://").rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port), ssl=pki.context())
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    assert isinstance(der, bytes)
    return der


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"basic_auth_users": {USER: "plain-text-password"}},
            f"basic_auth_users.{USER}: is not a bcrypt hash",
        ),
        (
            {"tls_server_config": {"min_version": "TLS13"}},
            "tls_server_config.min_version: changed; this takes effect on restart",
        ),
        ({"tls_server_config": None}, "switching TLS on or off needs a restart"),
    ],
)
async def test_a_refused_reload_keeps_the_old_web_config(
    start: Start, pki: PKI, change: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    original = {"tls_server_config": tls_section(pki), "basic_auth_users": {USER: HASH}}
    served = await start(original)
    updated = {**original, **change}
    if change.get("tls_server_config"):
        updated["tls_server_config"] = {
            **original["tls_server_config"],
            **change["tls_server_config"],
        }
    served.write({k: v for k, v in updated.items() if v is not None})
    status, _, body = await served.get("/-/reload", context=pki.context(), auth=GOOD, method="POST")
    assert status == 500
    # Why goes to the log; the caller learns only that it failed.
    assert message not in body
    assert "log" in body
    errors = [str(getattr(r, "kv", {}).get("errors")) for r in caplog.records]
    assert any(message in line for line in errors), errors
    assert not any("plain-text-password" in line for line in errors)
    status, _, metrics = await served.get(context=pki.context(), auth=GOOD)
    assert status == 200  # the old password and the old TLS settings still serve
    assert "ccgw_config_last_reload_successful 0.0" in metrics
    # Control: putting the original file back makes the next reload succeed.
    served.write(original)
    status, _, body = await served.get("/-/reload", context=pki.context(), auth=GOOD, method="POST")
    assert status == 200, body
    assert (
        "ccgw_config_last_reload_successful 1.0"
        in (await served.get(context=pki.context(), auth=GOOD))[2]
    )


# --------------------------------------------------------------------------------------------
# Validation


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


def messages(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    return caught.value.messages


TLS = "tls_server_config: {cert_file: CERT, key_file: KEY, "
INVALID = [
    ("tls_config: {}", "tls_config: unknown key"),
    (
        "tls_server_config: {cert_fle: a}",
        "tls_server_config.cert_fle: unknown key (did you mean cert_file?)",
    ),
    ("tls_server_config: {cert_file: CERT}", "tls_server_config.key_file: is required"),
    ("tls_server_config: {min_version: TLS13}", "tls_server_config.cert_file: is required"),
    (
        "tls_server_config: {cert_file: nope.crt, key_file: KEY}",
        "tls_server_config.cert_file: cannot read",
    ),
    ("tls_server_config: {cert_file: KEY, key_file: KEY}", "tls_server_config.cert_file: "),
    (
        TLS + "client_auth_type: Sometimes}",
        'client_auth_type: "Sometimes" is not one of NoClientCert',
    ),
    (TLS + "client_ca_file: CA}", "client_ca_file: is set but client_auth_type is NoClientCert"),
    (TLS + "client_auth_type: RequireAndVerifyClientCert}", "client_ca_file: is required when"),
    (TLS + "client_auth_type: VerifyClientCertIfGiven, client_ca_file: KEY}", "client_ca_file: "),
    (TLS + "min_version: TLS14}", 'tls_server_config.min_version: "TLS14" is not one of TLS10'),
    (
        TLS + "min_version: TLS13, max_version: TLS12}",
        "max_version: TLS12 is below min_version TLS13",
    ),
    (
        TLS + "cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}",
        'cipher_suites[0]: "TLS_RSA_WITH_RC4_128_SHA" is not',
    ),
    (
        TLS + "cipher_suites: TLS_AES_128_GCM_SHA256}",
        "tls_server_config.cipher_suites: expected a list",
    ),
    (TLS + "curve_preferences: [P256]}", 'curve_preferences[0]: "P256" is not a known name'),
    (
        TLS + "prefer_server_cipher_suites: yes please}",
        "prefer_server_cipher_suites: expected true",
    ),
    (TLS + "client_allowed_sans: [a]}", "client_allowed_sans: is an exporter-toolkit setting"),
    (
        "tls_server_config: {cert: PEM, key_file: KEY}",
        "tls_server_config.cert: is an exporter-toolkit",
    ),
    ("rate_limit: {interval: 1s, burst: 5}", "rate_limit: is an exporter-toolkit setting"),
    (
        "basic_auth_users: {alice: hunter2-plaintext}",
        "basic_auth_users.alice: is not a bcrypt hash",
    ),
    (
        "basic_auth_users: {alice: '$2y$03$" + "a" * 53 + "'}",
        "alice: bcrypt cost 03 is not between 4",
    ),
    ("basic_auth_users: [alice]", "basic_auth_users: expected a mapping of user: bcrypt hash"),
    ("basic_auth_users: {'a:b': HASH}", "basic_auth_users.a:b: a user name is a non-empty string"),
    ("http_server_config: {headers: {X-Powered-By: me}}", "headers.X-Powered-By: unknown key"),
    (
        "http_server_config: {headers: {X-Frame-Options: allow}}",
        '"allow" is not one of deny, sameorigin',
    ),
    ("http_server_config: {headers: {Content-Security-Policy: 5}}", "Policy: expected a string"),
    ('http_server_config: {headers: {X-XSS-Protection: "1\\r\\nSet-Cookie: x"}}', "a line break"),
    ("http_server_config: {http2: maybe}", "http_server_config.http2: expected true or false"),
    ("basic_auth_users: {alice: HASH}\nbasic_auth_users: {bob: HASH}", "duplicate key"),
    ("", "top level: the file is empty"),
    ("[1, 2]", "top level: expected a mapping"),
    ("tls_server_config: [", "YAML syntax error"),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_web_configs_name_the_key(
    tmp_path: Path, pki: PKI, text: str, expected: str
) -> None:
    cert, key = pki.files("server", pki.server)
    text = (
        text.replace("CERT", cert)
        .replace("KEY", key)
        .replace("HASH", f"'{HASH}'")
        .replace("client_ca_file: CA", f"client_ca_file: {pki.client_ca_file()}")
    )
    found = messages(write(tmp_path, text + "\n"))
    assert any(expected in m for m in found), found
    assert not any("hunter2" in m for m in found)


def test_valid_files_and_their_warnings(tmp_path: Path, pki: PKI) -> None:
    cert, key = pki.files("server", pki.server)
    path = write(
        tmp_path,
        yaml.safe_dump(
            {
                "tls_server_config": {
                    "cert_file": os.path.basename(cert),  # relative: to the file's directory
                    "key_file": key,
                    "client_auth_type": "RequireAnyClientCert",
                    "client_ca_file": pki.client_ca_file(),
                    "min_version": "TLS12",
                    "cipher_suites": [
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_AES_128_GCM_SHA256",
                    ],
                    "prefer_server_cipher_suites": False,
                    "curve_preferences": ["X25519"],
                },
                "http_server_config": {"http2": True, "headers": {"X-Frame-Options": "sameorigin"}},
                "basic_auth_users": {USER: HASH},
            }
        ),
    )
    (tmp_path / os.path.basename(cert)).write_bytes(Path(cert).read_bytes())
    loaded = load_web_config(path)
    tls = loaded.config.tls
    assert tls is not None
    assert tls.cert_file == str(tmp_path / os.path.basename(cert))
    assert tls.cipher_suites == (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
    )
    assert loaded.config.http.headers == (("X-Frame-Options", "sameorigin"),)
    warned = " | ".join(loaded.warnings)
    for needle in (
        "RequireAnyClientCert is enforced as RequireAndVerifyClientCert",
        "curve_preferences: is accepted but not applied",
        "http2: is ignored",
    ):
        assert needle in warned
    assert HASH not in repr(loaded)  # hashes print as <secret>
    context = WebSecurity(loaded, str(path)).ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert tls12 == {"ECDHE-ECDSA-AES128-GCM-SHA256"}


def test_an_all_defaults_file_warns_that_it_protects_nothing(tmp_path: Path) -> None:
    loaded = load_web_config(write(tmp_path, "{}\n"))
    assert loaded.config.tls is None
    assert loaded.config.basic_auth_users == ()
    assert any("neither TLS nor basic auth" in w for w in loaded.warnings)


# --------------------------------------------------------------------------------------------
# The command line (subprocesses, as an operator runs it)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_refuses_a_bad_web_config_at_start_and_in_check(tmp_path: Path, pki: PKI) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("gateways: []\nweb: {listen_address: '127.0.0.1:0'}\n")
    bad = tmp_path / "bad-web.yml"
    bad.write_text("tls_server_config: {cert_file: a.crt, key_file: a.key, min_versoin: TLS13}\n")
    for extra in ((), ("--config.check",)):
        result = run_cli("--config.file", str(config), "--web.config.file", str(bad), *extra)
        assert result.returncode == 1, (extra, result.stderr)
        assert (
            "tls_server_config.min_versoin: unknown key (did you mean min_version?)"
            in result.stderr
        )
        assert "tls_server_config.cert_file: cannot read" in result.stderr
    cert, key = pki.files("server", pki.server)
    good = tmp_path / "web.yml"
    good.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": cert, "key_file": key},
                "basic_auth_users": {USER: HASH},
            }
        )
    )
    result = run_cli("--config.file", str(config), "--web.config.file", str(good), "--config.check")
    assert result.returncode == 0, result.stderr
    assert f"{good}: OK (TLS TLS12-TLS13" in result.stdout
    assert HASH not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# The shipped example, and Prometheus itself as the client


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "web-config.yml"


def test_the_example_is_valid(tmp_path: Path, pki: PKI) -> None:
    """examples/web-config.yml as shipped, with its relative TLS files put beside it."""
    (tmp_path / "tls").mkdir()
    pki.server.cert_chain_pems[0].write_to_path(str(tmp_path / "tls" / "exporter.crt"))
    pki.server.private_key_pem.write_to_path(str(tmp_path / "tls" / "exporter.key"))
    pki.client_ca.cert_pem.write_to_path(str(tmp_path / "tls" / "prometheus-ca.crt"))
    example = tmp_path / "web-config.yml"
    example.write_bytes(EXAMPLE.read_bytes())
    loaded = load_web_config(example)
    assert loaded.warnings == ()
    assert loaded.config.tls is not None
    assert loaded.config.tls.client_auth_type == "RequireAndVerifyClientCert"
    assert [u.name for u in loaded.config.basic_auth_users] == ["prometheus"]


@pytest.mark.e2e
async def test_prometheus_scrapes_through_tls_client_certificate_and_password(
    start: Start, pki: PKI, tmp_path: Path
) -> None:
    """A real Prometheus, three jobs against one exporter: the right credentials are up; a
    wrong password and a missing client certificate are down, each for its own reason."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not found (Debian: apt-get install prometheus)")
    served = await start(
        {
            "tls_server_config": tls_section(
                pki,
                client_auth_type="RequireAndVerifyClientCert",
                client_ca_file=pki.client_ca_file(),
            ),
            "basic_auth_users": {USER: HASH},
        }
    )
    ca = tmp_path / "server-ca.crt"
    pki.server_ca.cert_pem.write_to_path(str(ca))
    client_cert, client_key = pki.files("prometheus-client", pki.client)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)

    def job(name: str, password: str, with_cert: bool) -> dict[str, Any]:
        tls: dict[str, str] = {"ca_file": str(ca)}
        if with_cert:
            tls |= {"cert_file": client_cert, "key_file": client_key}
        return {
            "job_name": name,
            "scheme": "https",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "tls_config": tls,
            "basic_auth": {"username": USER, "password_file": str(tmp_path / password)},
            "static_configs": [{"targets": [served.base.removeprefix("https://")]}],
        }

    (tmp_path / "wrong").write_text("not-the-password")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "scrape_configs": [
                    job("good", "password", with_cert=True),
                    job("wrong-password", "wrong", with_cert=True),
                    job("no-client-cert", "password", with_cert=False),
                ]
            }
        )
    )
    port = free_port()
    argv = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    process = Process("prometheus", argv, tmp_path / "prometheus.log").start()
    try:
        targets = await scraped_targets(f"http://127.0.0.1:{port}", count=3)
    finally:
        await process.await_stop(grace=10)
    by_job = {t["labels"]["job"]: t for t in targets}
    assert by_job["good"]["health"] == "up", by_job["good"]
    assert by_job["wrong-password"]["health"] == "down"
    assert STATUS_401.search(by_job["wrong-password"]["lastError"])
    assert by_job["no-client-cert"]["health"] == "down"
    # Refused in the handshake, before HTTP (Prometheus reports "EOF"); the server CA is the
    # good job's, so the missing certificate is the only difference.
    assert not STATUS_401.search(by_job["no-client-cert"]["lastError"])


#: The status in Prometheus's lastError, not digits of the port in its URL (":40105" is not it).
STATUS_401 = re.compile(r"(?<![\d:])401(?!\d)")


async def scraped_targets(base: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Prometheus's active targets once each has been scraped at least once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        while loop.time() < deadline:
            try:
                async with session.get(base + "/api/v1/targets") as resp:
                    targets: list[dict[str, Any]] = (await resp.json())["data"]["activeTargets"]
                if len(targets) == count and all(t["health"] != "unknown" for t in targets):
                    return targets
            except aiohttp.ClientError:
                pass  # not listening yet
            await asyncio.sleep(0.2)
    raise AssertionError(f"Prometheus did not scrape {count} targets within {timeout}s")
