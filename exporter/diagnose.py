"""`ccgw-exporter --config.file F --diagnose [NAME ...]`: does my gateway and account work?

The first hour with an exporter is mostly this question, and reading `/metrics` answers it
badly. For each gateway (or the named ones) this signs in once, says what kind of account it is
(quality inspector or not), its VDN and gateway node, the TLS facts (protocol, certificate
subject and expiry, whether `tls.server_name` was needed), discovers and counts the
conferences, queries one batch, times each call, signs out, and prints a report with the cure
for every failure. Exit 0 when every gateway passes, 1 otherwise. No password and no full Guid
appear in it (the Guid is shortened; the log redaction applies too).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from .config import GatewayConfig
from .gateway.client import ClientSettings, GatewayClient
from .gateway.errors import GatewayError, RetcodeError, TransportError
from .gateway.tls import TLSSettings, build_ssl_context
from .gateway.vendor import NON_INSPECTOR, RETCODE_MEANINGS, SIGN_IN_CALLS
from .logs import short_guid

OK, FAIL, WARN = "ok", "FAIL", "warn"


@dataclass(slots=True)
class Step:
    name: str
    status: str
    seconds: float | None = None
    detail: str = ""
    cure: str = ""


@dataclass(slots=True)
class Report:
    gateway: str
    url: str
    steps: list[Step] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(step.status != FAIL for step in self.steps)

    def add(self, name: str, status: str, seconds: float | None = None, detail: str = "",
            cure: str = "") -> Step:  # fmt: skip
        step = Step(name, status, seconds, detail, cure)
        self.steps.append(step)
        return step

    def render(self) -> str:
        lines = [f"gateway {self.gateway} ({self.url}): {'PASS' if self.passed else 'FAIL'}"]
        for step in self.steps:
            took = f" {step.seconds * 1000:.0f} ms" if step.seconds is not None else ""
            lines.append(f"  [{step.status:>4}] {step.name}{took}: {step.detail}")
            if step.cure:
                for cure_line in step.cure.splitlines():
                    lines.append(f"         cure: {cure_line}")
        return "\n".join(lines)


def cure_for(error: GatewayError, config: GatewayConfig) -> str:
    """What an operator does about this failure."""
    if isinstance(error, RetcodeError):
        meaning = RETCODE_MEANINGS.get(error.retcode)
        if meaning is not None:
            return meaning[1]
        return "an undocumented result code: see the gateway's logs for this method"
    assert isinstance(error, TransportError)
    host = urlsplit(config.url).hostname or "HOST"
    port = urlsplit(config.url).port or 8043
    if error.reason == "tls":
        return tls_cure(error.detail, host, port, config)
    if error.reason == "connect":
        return (
            f"nothing answers at {host}:{port}: check url (the vendor's default port is 8043; "
            "in a cluster use the NSLB address) and the firewall"
        )
    if error.reason == "timeout":
        return "the gateway did not answer in time: check the network path, or raise timeout"
    if error.reason == "http_status":
        if error.status == 404:
            return (
                "404: wrong path or an older gateway; url must not contain "
                "/agentgateway/resource, and older gateways accept agent IDs 101-59999 only"
            )
        if error.status in (301, 302, 303, 307, 308):
            return "a redirect (never followed): point url at the gateway itself"
        return "a load balancer or proxy answered instead of the gateway: check it"
    if error.reason == "too_large":
        return "the answer exceeded max_response_size: raise it only if the gateway is trusted"
    return "the answer was not the vendor's JSON envelope: is url the CC-Gateway?"


def tls_cure(detail: str, host: str, port: int, config: GatewayConfig) -> str:
    fetch = f"openssl s_client -showcerts -connect {host}:{port} </dev/null"
    if "CERTIFICATE_VERIFY_FAILED" in detail and "hostname" in detail.lower():
        return (
            "the certificate does not name this host: set tls.server_name to a name it "
            f"carries ({fetch} | openssl x509 -noout -ext subjectAltName)"
        )
    if "CERTIFICATE_VERIFY_FAILED" in detail:
        return (
            "the certificate is not signed by a CA we trust: fetch the chain with\n"
            f"{fetch}\nsave the last certificate to a file and set tls.ca_file to it"
        )
    return f"TLS failed: {detail}"


async def tls_facts(config: GatewayConfig, report: Report, timeout: float) -> None:
    """Protocol, certificate subject and expiry, and whether server_name was needed."""
    parts = urlsplit(config.url)
    if parts.scheme != "https":
        report.add("tls", WARN, detail="plain http: the password travels unencrypted")
        return
    host = parts.hostname or ""
    port = parts.port or 8043
    tls = config.tls
    context = build_ssl_context(
        TLSSettings(tls.ca_file, tls.cert_file, tls.key_file, tls.server_name,
                    tls.insecure_skip_verify),
        gateway=config.name,
    )  # fmt: skip
    assert isinstance(context, ssl.SSLContext)
    name = tls.server_name or host
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=name), timeout
        )
    except ssl.SSLError as exc:
        report.add("tls", FAIL, time.perf_counter() - started, str(exc)[:200],
                   tls_cure(str(exc), host, port, config))  # fmt: skip
        return
    except (OSError, asyncio.TimeoutError) as exc:
        error = TransportError("tls", "connect", str(exc) or type(exc).__name__)
        report.add("connect", FAIL, time.perf_counter() - started, error.detail,
                   cure_for(error, config))  # fmt: skip
        return
    seconds = time.perf_counter() - started
    ssl_object = writer.get_extra_info("ssl_object")
    protocol = ssl_object.version() if ssl_object else "?"
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    writer.close()
    del reader
    subject, expiry, days = _certificate(der)
    needed = _is_ip(host) and bool(tls.server_name)
    detail = f"{protocol}, certificate {subject or '?'}"
    if expiry:
        detail += f", expires {expiry} ({days} days)"
    if tls.insecure_skip_verify:
        detail += "; NOT VERIFIED (insecure_skip_verify)"
    elif needed:
        detail += f"; verified as {tls.server_name} (server_name needed: url is an IP)"
    else:
        detail += f"; verified as {name}"
    status = WARN if tls.insecure_skip_verify or (days is not None and days < 30) else OK
    cure = "renew the gateway's certificate soon" if days is not None and days < 30 else ""
    report.add("tls", status, seconds, detail, cure)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _certificate(der: bytes | None) -> tuple[str, str, int | None]:
    """Subject and expiry of a DER certificate, with the standard library only."""
    if not der:
        return "", "", None
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cert.pem"
        path.write_text(ssl.DER_cert_to_PEM_cert(der))
        try:
            decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
        except Exception:
            return "", "", None
    subject = ", ".join(
        f"{key}={value}" for rdn in decoded.get("subject", ()) for key, value in rdn
    )
    not_after = decoded.get("notAfter", "")
    days = None
    if not_after:
        days = int((ssl.cert_time_to_seconds(not_after) - time.time()) // 86400)
    return subject, not_after, days


async def diagnose_gateway(config: GatewayConfig) -> Report:
    report = Report(config.name, config.url)
    timeout = config.timeout
    await tls_facts(config, report, timeout)
    if any(step.status == FAIL for step in report.steps):
        return report
    tls = config.tls
    ssl_context: ssl.SSLContext | bool = True
    if config.url.startswith("https"):
        ssl_context = build_ssl_context(
            TLSSettings(tls.ca_file, tls.cert_file, tls.key_file, tls.server_name,
                        tls.insecure_skip_verify),
            gateway=config.name,
        )  # fmt: skip
    client = GatewayClient(
        ClientSettings(
            base_url=config.url,
            agent_id=config.agent_id,
            ssl=ssl_context,
            server_name=tls.server_name,
            max_response_size=config.max_response_size,
            sign_in_status=config.sign_in_status,
            participants=False,
        )
    )
    try:
        await _calls(config, client, report, timeout)
    finally:
        await client.close()
    return report


async def _calls(
    config: GatewayConfig, client: GatewayClient, report: Report, timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    call = SIGN_IN_CALLS[config.sign_in]
    started = time.perf_counter()
    try:
        answer = await client.sign_in(
            config.sign_in, config.password.reveal(), config.phone_number, loop.time() + timeout
        )
    except GatewayError as error:
        report.add(f"sign-in ({call.method})", FAIL, time.perf_counter() - started,
                   _describe(error), cure_for(error, config))  # fmt: skip
        return
    guid = client.guid or ""
    node = guid.rsplit(".", 1)[-1] if "." in guid else "?"
    licence = "takes a licence" if call.takes_licence else "takes no licence"
    report.add(
        f"sign-in ({call.method})", OK, time.perf_counter() - started,
        f"agent {config.agent_id}, VDN {answer.vdn or '?'}, node {node}, Guid "
        f"{short_guid(guid)}, {licence}, status {config.sign_in_status}",
    )  # fmt: skip
    try:
        ids: list[int] = list(config.conferences.ids)
        if config.conferences.discover:
            started = time.perf_counter()
            try:
                discovered = await client.queryAllConfIds(loop.time() + timeout)
            except RetcodeError as error:
                seconds = time.perf_counter() - started
                if error.retcode == NON_INSPECTOR:
                    report.add(
                        "account", WARN, seconds,
                        "an ordinary agent, not a quality inspector (101-004): it sees only "
                        "the conferences it is in",
                        RETCODE_MEANINGS[NON_INSPECTOR][1],
                    )  # fmt: skip
                else:
                    report.add("discovery (queryAllConfIds)", FAIL, seconds, _describe(error),
                               cure_for(error, config))  # fmt: skip
            except GatewayError as error:
                report.add("discovery (queryAllConfIds)", FAIL, time.perf_counter() - started,
                           _describe(error), cure_for(error, config))  # fmt: skip
            else:
                report.add("account", OK, None, "a quality inspector (discovery allowed)")
                report.add("discovery (queryAllConfIds)", OK, time.perf_counter() - started,
                           f"{len(discovered)} ongoing conferences in the VDN")  # fmt: skip
                ids = sorted(set(ids) | set(discovered))
        else:
            report.add("account", OK, None, "discovery is off (conferences.discover: false)")
        batch = ids[:20]
        if batch:
            started = time.perf_counter()
            result = await client.query_conf_batch(batch, loop.time() + timeout)
            seconds = time.perf_counter() - started
            if result.failed:
                failure = result.failed[0].error
                report.add("one batch (queryConfInfos)", FAIL, seconds, _describe(failure),
                           cure_for(failure, config))  # fmt: skip
            else:
                people = sum(c.participant_count for c in result.conferences)
                report.add(
                    "one batch (queryConfInfos)", OK, seconds,
                    f"{len(batch)} IDs asked, {len(result.conferences)} conferences answered, "
                    f"{people} participants",
                )  # fmt: skip
        else:
            report.add("one batch (queryConfInfos)", OK, None, "no conference to ask for")
    finally:
        started = time.perf_counter()
        try:
            await client.logout(loop.time() + min(timeout, 5.0))
        except GatewayError as error:
            report.add("sign-out (logout)", WARN, time.perf_counter() - started,
                       _describe(error), cure_for(error, config))  # fmt: skip
        else:
            report.add("sign-out (logout)", OK, time.perf_counter() - started, "signed out")


def _describe(error: GatewayError) -> str:
    if isinstance(error, RetcodeError):
        meaning = RETCODE_MEANINGS.get(error.retcode)
        text = f"retcode {error.retcode}"
        if meaning:
            text += f": {meaning[0]}"
        return text
    assert isinstance(error, TransportError)
    return f"{error.reason}: {error.detail}"


async def diagnose(gateways: Sequence[GatewayConfig]) -> list[Report]:
    return list(await asyncio.gather(*(diagnose_gateway(g) for g in gateways)))


def run_diagnose(gateways: Sequence[GatewayConfig], names: Sequence[str], out: TextIO) -> int:
    """The command: reports on `out`; 0 when every chosen gateway passes, 1 otherwise."""
    chosen = [g for g in gateways if not names or g.name in names]
    unknown = sorted(set(names) - {g.name for g in gateways})
    if unknown:
        out.write(f"unknown gateway name(s): {', '.join(unknown)}\n")
        return 1
    if not chosen:
        out.write("no gateway configured\n")
        return 1
    socket.setdefaulttimeout(max(g.timeout for g in chosen) + 5)
    reports = asyncio.run(diagnose(chosen))
    for report in reports:
        out.write(report.render() + "\n\n")
    passed = sum(r.passed for r in reports)
    out.write(f"{passed} of {len(reports)} gateway(s) passed\n")
    return 0 if passed == len(reports) else 1
