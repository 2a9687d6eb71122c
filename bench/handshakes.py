"""What a new connection to the gateway costs, with and without TLS session resumption.

Keep-alive makes handshakes rare while scrapes come more often than every 30 s (the pool's
idle timeout); at longer intervals each scrape opens up to `max_concurrency` connections again.
This scenario measures those connections against a simulator process that carries an
RSA-2048 certificate, as gateways do: rounds of `concurrency` connections opened at once, one
request each, then closed, once with a plain `ssl.SSLContext` (every handshake full) and once
with the exporter's `ResumingSSLContext`. CPU is read per process (this one, the client; the
simulator's from /proc), and the simulator counts which connections were resumed. Loopback has
no round trip to save, so wall time shows CPU only; across a network, a resumed TLS 1.2
handshake also saves one round trip per connection.

    python -m bench.handshakes      # also part of `make bench`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from ccgw_simulator.tls import generate_certificates
from exporter.gateway.tls import TLSSettings, build_ssl_context

from .procs import Simulator, start_simulator


@dataclass(frozen=True, slots=True)
class HandshakeRow:
    version: str  # "TLSv1.3" or "TLSv1.2"
    mode: str  # "full" (plain SSLContext) or "resumed" (ResumingSSLContext)
    connections: int
    resumed: int  # as the simulator counted them
    client_cpu_ms: float  # per connection, this process
    server_cpu_ms: float  # per connection, the simulator process
    wall_ms: float  # per round of `concurrency` connections opened at once


async def _round(url: str, context: ssl.SSLContext, concurrency: int) -> None:
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            async with http.get(url) as response:
                await response.read()
                response.raise_for_status()

        await asyncio.gather(*(one() for _ in range(concurrency)))


async def _stats(url: str, context: ssl.SSLContext) -> dict[str, int]:
    connector = aiohttp.TCPConnector(ssl=context, force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.get(url + "/simulator/stats") as response,
    ):
        counts: dict[str, int] = (await response.json())["tls_connections"]
        return counts


async def _measure(
    sim: Simulator,
    version: ssl.TLSVersion,
    mode: str,
    context: ssl.SSLContext,
    concurrency: int,
    rounds: int,
) -> HandshakeRow:
    probe = ssl.create_default_context(cafile=sim.ca_file)  # never resumes: not counted
    url = sim.url + "/simulator/"
    await _round(url, context, 1)  # warm up: the resuming context gets its first session
    before = await _stats(sim.url, probe)
    cpu, server_cpu, wall = time.process_time(), sim.cpu_seconds(), time.perf_counter()
    for _ in range(rounds):
        await _round(url, context, concurrency)
    cpu, server_cpu = time.process_time() - cpu, sim.cpu_seconds() - server_cpu
    wall = time.perf_counter() - wall
    after = await _stats(sim.url, probe)
    n = concurrency * rounds
    return HandshakeRow(
        version=version.name.replace("_", "."),
        mode=mode,
        connections=n,
        resumed=after.get("resumed", 0) - before.get("resumed", 0),
        client_cpu_ms=cpu / n * 1e3,
        server_cpu_ms=server_cpu / n * 1e3,
        wall_ms=wall / rounds * 1e3,
    )


async def handshakes(
    workdir: Path, *, concurrency: int = 16, rounds: int = 10
) -> list[HandshakeRow]:
    """Full and resumed handshakes under TLS 1.3 and 1.2, two passes; the better row of each
    kind is kept (the first pass also warms up the simulator's process)."""
    generate_certificates(workdir / "certs", key_type="rsa")  # the simulator serves these
    sim = await start_simulator(workdir, conferences=0, seed=1, https=True)
    try:
        best: dict[tuple[ssl.TLSVersion, str], HandshakeRow] = {}
        for _ in range(2):
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                plain = ssl.create_default_context(cafile=sim.ca_file)
                resuming = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
                for mode, context in (("full", plain), ("resumed", resuming)):
                    context.maximum_version = version
                    row = await _measure(sim, version, mode, context, concurrency, rounds)
                    key = (version, mode)
                    if key not in best or row.client_cpu_ms < best[key].client_cpu_ms:
                        best[key] = row
        return list(best.values())
    finally:
        sim.stop()


def table(rows: Sequence[HandshakeRow]) -> str:
    lines = [
        "| TLS handshakes (RSA-2048 server) | connections | resumed | client CPU / conn "
        "| simulator CPU / conn | wall / round |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.version} {r.mode} | {r.connections} | {r.resumed} | {r.client_cpu_ms:.2f} ms "
            f"| {r.server_cpu_ms:.2f} ms | {r.wall_ms:.1f} ms |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handshakes", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write the rows here as JSON too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ccgw-bench-tls-") as tmp:
        rows = asyncio.run(handshakes(Path(tmp), concurrency=args.concurrency, rounds=args.rounds))
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
