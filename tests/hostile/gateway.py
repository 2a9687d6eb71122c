"""A hostile CC-Gateway on raw sockets, and the foreign host its redirects point at.

aiohttp's own server would refuse to send most of what a hostile or broken gateway sends: a
status line of any shape, header values with control characters, a `Content-Length` that lies,
a chunked body that never ends, bytes that are not HTTP at all. So this server speaks HTTP/1.1
by hand on asyncio streams: it reads requests (enough of HTTP for aiohttp's client), and answers
each with an `Answer`, a complete description of the bytes to send and how slowly.

Every agent ID is a `Tenant` with its own state, so one gateway serves several exporters (or
several gateways of one exporter) at once without one test's script reaching another. A tenant
answers like the vendor's gateway unless a test has scripted its next answers to a method
(`Tenant.script`) or every answer (`Tenant.always`); once a script is used up the tenant is
well-behaved again, so a test can check that the next well-formed answer is served exactly.

Well-behaved means (gateway-session.md, queryconfinfos.md): sign-in answers retcode 0 with
`Set-GUID: JSESSIONID=<uuid>.AgentGateway0` and any sign-in replaces the session; every other
call needs that Guid and gets `100-006` without it; the event poll is held `poll_hold` seconds
and answers no event; discovery lists the population's IDs; `queryconfinfos` answers the
requested IDs that exist (an absent ID is left out, as in the vendor's sample). A request head
over 8 KiB gets 400, like Tomcat's default `maxHttpHeaderSize`, because a client whose cookie
jar a hostile answer has filled must not look healthy here when it would fail at a real
gateway.

The server runs in its own thread and event loop, so that synchronous tests (hypothesis's
natural habitat) drive it while the exporter under test runs as a separate process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import struct
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

Method = Literal["sign_in", "poll", "discovery", "queryconfinfos", "logout"]
METHODS: tuple[Method, ...] = ("sign_in", "poll", "discovery", "queryconfinfos", "logout")
#: The `method` label the exporter gives each call (the vendor's log names; sign-in: loginex).
VENDOR_NAMES: dict[Method, str] = {
    "sign_in": "loginEx",
    "poll": "getAgentEvent",
    "discovery": "queryAllConfIds",
    "queryconfinfos": "queryConfInfos",
    "logout": "logout",
}
API_PREFIX = "/agentgateway/resource/"
JSON_TYPE = b"application/json;charset=UTF-8"
# Tomcat's default maxHttpHeaderSize: a longer request head is answered 400.
MAX_REQUEST_HEAD = 8192
# What the server reads of a request head at all before giving up on the connection.
READ_LIMIT = 1 << 20
GUID_NODE = ".AgentGateway0"
_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

Framing = Literal["length", "chunked", "close"]
Encoding = Literal["identity", "gzip", "deflate"]


# -- what to send ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixed:
    """These bytes (templated, see `Answer`)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Repeat:
    """`head`, then `unit` repeated until at least `size` bytes of it, then `tail`: a large
    body that costs the sender nothing to hold (a 200 MB JSON string, a 1 GB gzip bomb)."""

    head: bytes
    unit: bytes
    size: int
    tail: bytes = b""


@dataclass(frozen=True, slots=True)
class Endless:
    """`head`, then `unit` for ever (until the peer leaves or the answer's caps are hit)."""

    head: bytes
    unit: bytes


Body: TypeAlias = Fixed | Repeat | Endless


@dataclass(frozen=True, slots=True)
class Answer:
    """Every byte of one answer, and its timing.

    Templates in the body, the header values and `raw`: `{{GUID}}` is the request's `Guid`
    header (or, on a sign-in, the tenant's newest Guid), `{{BODY}}` the request body (a
    sign-in's holds the password), `{{IDS}}` the requested conference IDs as a JSON array,
    `{{FOREIGN}}` the foreign server's base URL, `{{SELF}}` this gateway's, `{{AGENT}}` the
    agent ID (so that a followed redirect can be told apart from other tests' at the target).

    `framing`: `length` sends `Content-Length` (off by `length_delta`: a lie), `chunked` sends
    chunks (an `Endless` body never sends the last one), `close` sends neither and ends the
    body by closing. `encoding` compresses the body and says so in `Content-Encoding`. `before`
    is silence before the status line, `drip` a pause between body pieces of `piece` bytes,
    `after` silence once the body is sent, before the connection is closed. `raw` replaces the
    whole answer with bytes that need not be HTTP. Nothing a hostile answer does lasts longer
    than `time_cap` seconds or sends more than `byte_cap` bytes.
    """

    status: int = 200
    reason: bytes = b"OK"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: Body = Fixed(b"")
    framing: Framing = "length"
    length_delta: int = 0
    encoding: Encoding = "identity"
    content_type: bytes | None = JSON_TYPE
    before: float = 0.0
    drip: float = 0.0
    piece: int = 1 << 16
    after: float = 0.0
    keep_alive: bool = False
    raw: bytes | None = None
    time_cap: float = 20.0
    byte_cap: int = 1 << 30
    label: str = ""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        """Short enough for a falsifying example: long bytes are cut, their length kept."""
        parts = [f"{self.label or 'answer'}: {self.status} {_cut(self.reason)}"]
        if self.raw is not None:
            parts = [f"{self.label or 'raw'}: raw {_cut(self.raw)}"]
        if self.headers:
            shown = ", ".join(f"{_cut(n, 20)}: {_cut(v, 60)}" for n, v in self.headers[:4])
            more = f" (+{len(self.headers) - 4} more)" if len(self.headers) > 4 else ""
            parts.append(f"headers [{shown}{more}]")
        body = self.body
        if isinstance(body, Fixed):
            parts.append(f"body {_cut(body.data, 160)}")
        else:
            size = f"{body.size} B of " if isinstance(body, Repeat) else "endless "
            parts.append(f"body {_cut(body.head, 40)} + {size}{_cut(body.unit, 20)}")
        for name in ("framing", "length_delta", "encoding", "before", "drip", "after"):
            value = getattr(self, name)
            if value != getattr(Answer, name, None) and value not in (0, 0.0, "length", "identity"):
                parts.append(f"{name}={value!r}")
        if self.content_type != JSON_TYPE:
            parts.append(f"content_type={self.content_type!r}")
        return "Answer(" + "; ".join(parts) + ")"


def _cut(data: bytes, limit: int = 80) -> str:
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}...({len(data)} bytes)"


def envelope_bytes(retcode: str = "0", message: str = "", **fields: object) -> bytes:
    """The vendor's envelope; ASCII-escaped, so even a lone surrogate is valid JSON text."""
    return json.dumps({"message": message, "retcode": retcode, **fields}).encode()


def ok(
    body: bytes, *, headers: tuple[tuple[bytes, bytes], ...] = (), before: float = 0.0
) -> Answer:
    """A well-formed 200 answer on a kept-alive connection."""
    return Answer(body=Fixed(body), headers=headers, before=before, keep_alive=True, label="ok")


#: The event poll's answer that makes the session sign in again (to bring a sign-in about).
NOT_SIGNED_IN = ok(envelope_bytes("100-006", "agent not signed in"))


# -- what arrived ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; the last value of a repeated name
    body: bytes
    head_size: int
    at: float

    @property
    def guid(self) -> str | None:
        return self.headers.get("guid")


@dataclass(slots=True)
class Served:
    """What became of one answer: how much was sent and who ended the exchange."""

    method: Method | None
    agent: str
    label: str
    hostile: bool
    started: float
    bytes_sent: int = 0
    complete: bool = False
    peer_closed: bool = False
    ended: float = 0.0


# -- per-agent state ---------------------------------------------------------------------------


def default_population(participants: int = 2) -> list[dict[str, object]]:
    """Three conferences of `participants` each, as the vendor's sample shapes them."""
    now_ms = 1_764_600_000_000
    confs: list[dict[str, object]] = []
    for n, conf_id in enumerate((1001, 1002, 1003)):
        confs.append(
            {
                "confId": conf_id,
                "confState": 0,
                "startTime": now_ms - 600_000 * (n + 1),
                "applyConfTime": 60,
                "confHaveBeenTime": 10 * (n + 1),
                "addresses": [
                    participant(f"7000{n}{p}", enter=now_ms) for p in range(participants)
                ],
            }
        )
    return confs


def participant(
    address: str, *, enter: int = 1_764_600_000_000, **fields: object
) -> dict[str, object]:
    entry: dict[str, object] = {
        "addressType": "6",
        "address": address,
        "deviceCallType": 0,
        "deviceType": 1,
        "channelAttrib": 3,
        "channelState": 0,
        "role": 0,
        "enterTime": enter,
    }
    entry.update(fields)
    return entry


class Tenant:
    """One agent account on the gateway: its session, its population, its scripts, and the
    record of everything that reached it. Safe to use from the test's thread."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.poll_hold = 0.2
        self.query_hold = 0.0  # a slow gateway: each well-behaved queryconfinfos is held
        self._lock = threading.Lock()
        self._scripts: dict[Method, deque[Answer]] = {m: deque() for m in METHODS}
        self._always: dict[Method, Answer] = {}
        self._counts: Counter[Method] = Counter()
        self._hostile: Counter[Method] = Counter()
        self._in_flight: Counter[Method] = Counter()
        self._hostile_active: Counter[Method] = Counter()
        self._requests: deque[tuple[Method, Request]] = deque(maxlen=20_000)
        self._served: deque[Served] = deque(maxlen=20_000)
        self._valid: set[str] = set()
        self.issued: list[str] = []
        self.sign_in_times: list[float] = []
        self.sign_outs = 0
        self.last_poll_end = 0.0
        self._confs: dict[int, bytes] = {}
        self._discovery: bytes = b""
        self.set_population(default_population())

    # -- set by the test -----------------------------------------------------------------------

    def set_population(
        self, confs: Sequence[Mapping[str, object]], discover: Sequence[int] | None = None
    ) -> None:
        """The conferences `queryconfinfos` knows, and the IDs discovery lists (default: theirs)."""
        encoded = {
            int(str(c["confId"])): json.dumps(c, separators=(",", ":")).encode() for c in confs
        }
        ids = list(encoded) if discover is None else list(discover)
        body = envelope_bytes(message="success", result={"confIds": ids})
        with self._lock:
            self._confs = encoded
            self._discovery = body

    def script(self, method: Method, *answers: Answer) -> None:
        """The next answers to `method`, in order; well-behaved again after the last."""
        with self._lock:
            self._scripts[method].extend(answers)

    def always(self, method: Method, answer: Answer | None) -> None:
        """Every answer to `method` until set back to None (scripts still go first)."""
        with self._lock:
            if answer is None:
                self._always.pop(method, None)
            else:
                self._always[method] = answer

    def reset(self) -> None:
        with self._lock:
            for queue in self._scripts.values():
                queue.clear()
            self._always.clear()

    # -- read by the test ----------------------------------------------------------------------

    def pending(self, method: Method) -> int:
        with self._lock:
            return len(self._scripts[method])

    def count(self, method: Method) -> int:
        """Requests of `method` that reached the gateway (answered or not yet)."""
        with self._lock:
            return self._counts[method]

    def in_flight(self, method: Method) -> int:
        with self._lock:
            return self._in_flight[method]

    def hostile_active(self, method: Method) -> int:
        """Hostile answers to `method` still being sent (a hang, a drip, an endless body)."""
        with self._lock:
            return self._hostile_active[method]

    def hostile_served(self, method: Method) -> int:
        with self._lock:
            return self._hostile[method]

    def requests(self, method: Method | None = None) -> list[Request]:
        with self._lock:
            return [r for m, r in self._requests if method is None or m == method]

    def served(self, method: Method | None = None) -> list[Served]:
        with self._lock:
            return [s for s in self._served if method is None or s.method == method]

    @property
    def guid(self) -> str | None:
        with self._lock:
            return self.issued[-1] if self.issued else None

    # -- used by the server --------------------------------------------------------------------

    def _take(self, method: Method, request: Request) -> tuple[Answer, bool]:
        with self._lock:
            self._counts[method] += 1
            self._requests.append((method, request))
            queue = self._scripts[method]
            answer = queue.popleft() if queue else self._always.get(method)
            if answer is not None:
                self._hostile[method] += 1
                self._hostile_active[method] += 1
                return answer, True
            return self._well_behaved(method, request), False

    def _well_behaved(self, method: Method, request: Request) -> Answer:
        if method == "sign_in":
            guid = f"{uuid.uuid4()}{GUID_NODE}"
            self._valid = {guid}
            self.issued.append(guid)
            self.sign_in_times.append(time.monotonic())
            result = {"vdnid": 1, "workno": self.agent_id, "mediatype": "TFF"}
            return ok(
                envelope_bytes(result=result),
                headers=((b"Set-GUID", f"JSESSIONID={guid}".encode()),),
            )
        if request.guid not in self._valid:
            return ok(envelope_bytes("100-006", "agent not signed in"))
        if method == "poll":
            return ok(envelope_bytes(), before=self.poll_hold)
        if method == "logout":
            self._valid = set()
            self.sign_outs += 1
            return ok(envelope_bytes())
        if method == "discovery":
            return ok(self._discovery)
        asked = _requested_ids(request.body)
        confs = b",".join(self._confs[i] for i in asked if i in self._confs)
        body = b'{"message":"","retcode":"0","result":{"confs":[' + confs + b"]}}"
        return ok(body, before=self.query_hold)

    def _begin(self, method: Method) -> None:
        with self._lock:
            self._in_flight[method] += 1

    def _end(self, method: Method, served: Served) -> None:
        with self._lock:
            self._in_flight[method] -= 1
            if served.hostile:
                self._hostile_active[method] -= 1
            self._served.append(served)
            if method == "poll":
                self.last_poll_end = time.monotonic()


def _requested_ids(body: bytes) -> list[int]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    ids = data.get("confIds") if isinstance(data, dict) else None
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


# -- compression -------------------------------------------------------------------------------


class _Compressor:
    """gzip or zlib framing around raw deflate, flushed (Z_FULL_FLUSH) after every piece.

    A full flush resets the compressor, so the same 1 MiB piece always compresses to the
    same ~1 KB: that output is computed once and reused, which makes a 1 GB bomb cost a
    checksum pass instead of a 3-second compression.
    """

    _cache: dict[bytes, bytes] = {}

    def __init__(self, encoding: Encoding, *, checksum: bool = True) -> None:
        self.gzip = encoding == "gzip"
        self._checksum = checksum
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._check = 0 if self.gzip else 1
        self._size = 0

    def header(self) -> bytes:
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" if self.gzip else b"\x78\xda"

    def piece(self, data: bytes) -> bytes:
        # Without `_checksum` only the length is wanted: the trailer's size does not depend on it.
        if self._checksum:
            check = zlib.crc32 if self.gzip else zlib.adler32
            self._check = check(data, self._check)
        self._size += len(data)
        out = self._cache.get(data) if len(data) >= 1 << 16 else None
        if out is None:
            # The compressor's state is reset by every full flush, so this is a pure
            # function of `data`, and cacheable.
            out = self._deflate.compress(data) + self._deflate.flush(zlib.Z_FULL_FLUSH)
            if len(data) >= 1 << 16:
                self._cache[data] = out
        return out

    def finish(self) -> bytes:
        tail = self._deflate.flush(zlib.Z_FINISH)
        if self.gzip:
            return tail + struct.pack("<II", self._check, self._size & 0xFFFFFFFF)
        return tail + struct.pack(">I", self._check)


_BLOCK = 1 << 20


def _plain_pieces(body: Body, piece: int) -> Iterator[bytes]:
    """The body's bytes, in pieces of about `piece` bytes (repeated units stay whole)."""
    if isinstance(body, Fixed):
        data = body.data
        for start in range(0, len(data), piece):
            yield data[start : start + piece]
        return
    if body.head:
        yield body.head
    unit = body.unit or b" "
    per_block = max(1, min(piece, _BLOCK) // len(unit))
    block = unit * per_block
    if isinstance(body, Endless):
        while True:
            yield block
    units = -(-body.size // len(unit))
    for _ in range(units // per_block):
        yield block
    if units % per_block:
        yield unit * (units % per_block)
    if body.tail:
        yield body.tail


def _pieces(
    body: Body, encoding: Encoding, piece: int, *, checksum: bool = True
) -> Iterator[bytes]:
    if encoding == "identity":
        yield from _plain_pieces(body, piece)
        return
    compressor = _Compressor(encoding, checksum=checksum)
    yield compressor.header()
    for data in _plain_pieces(body, max(piece, _BLOCK)):
        out = compressor.piece(data)
        if out:
            yield out
    yield compressor.finish()


def body_length(body: Body, encoding: Encoding) -> int | None:
    """The bytes the body takes on the wire; None for an endless one."""
    if isinstance(body, Endless):
        return None
    if encoding == "identity":
        if isinstance(body, Fixed):
            return len(body.data)
        unit = body.unit or b" "
        return len(body.head) + -(-body.size // len(unit)) * len(unit) + len(body.tail)
    # Without the checksum pass: on a loaded CI machine a CRC over 1 GiB before the first
    # byte took longer than the exporter's deadline, so the bomb was never delivered.
    return sum(len(p) for p in _pieces(body, encoding, _BLOCK, checksum=False))


# -- the servers -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    """Template values of one exchange."""

    guid: bytes
    body: bytes
    ids: bytes
    foreign: bytes
    own: bytes
    agent: bytes

    def fill(self, data: bytes) -> bytes:
        if b"{{" not in data:
            return data
        return (
            data.replace(b"{{GUID}}", self.guid)
            .replace(b"{{BODY}}", self.body)
            .replace(b"{{IDS}}", self.ids)
            .replace(b"{{FOREIGN}}", self.foreign)
            .replace(b"{{SELF}}", self.own)
            .replace(b"{{AGENT}}", self.agent)
        )

    def body_of(self, body: Body) -> Body:
        if isinstance(body, Fixed):
            return Fixed(self.fill(body.data))
        if isinstance(body, Repeat):
            return Repeat(self.fill(body.head), body.unit, body.size, self.fill(body.tail))
        return Endless(self.fill(body.head), body.unit)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request, or None when the peer closed (or sent something that is not HTTP)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length > 0 else b""
    except (ValueError, asyncio.IncompleteReadError, ConnectionError, OSError):
        return None
    return Request(parts[0], parts[1], headers, body, len(head), time.monotonic())


def _route(request: Request) -> tuple[Method, str] | None:
    """(method, agent ID) of a vendor call, or None for any other path."""
    path = request.path.split("?", 1)[0]
    if not path.startswith(API_PREFIX):
        return None
    parts = path[len(API_PREFIX) :].split("/")
    verb = request.method
    if parts[0] == "onlineagent" and len(parts) in (2, 3):
        tail = parts[2] if len(parts) == 3 else ""
        if verb == "PUT" and tail in ("", "login", "loginex", "forcelogin", "forceloginex"):
            return "sign_in", parts[1]
        if verb == "DELETE" and tail in ("logout", "forcelogout"):
            return "logout", parts[1]
    if parts[0] == "agentevent" and len(parts) == 2 and verb == "GET":
        return "poll", parts[1]
    if parts[0] == "agentconf" and len(parts) == 3:
        if parts[2] == "queryvdnconfid" and verb == "GET":
            return "discovery", parts[1]
        if parts[2] == "queryconfinfos" and verb in ("POST", "PUT"):
            return "queryconfinfos", parts[1]
    return None


def _head(answer: Answer, ctx: _Context, length: int | None) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (answer.status, answer.reason)]
    if answer.content_type is not None:
        lines.append(b"Content-Type: " + answer.content_type)
    if answer.encoding != "identity":
        lines.append(b"Content-Encoding: " + answer.encoding.encode())
    if answer.framing == "length":
        lines.append(b"Content-Length: %d" % max(0, (length or 0) + answer.length_delta))
    elif answer.framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
    if not answer.keep_alive:
        lines.append(b"Connection: close")
    lines.extend(name + b": " + ctx.fill(value) for name, value in answer.headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class HostileGateway:
    """The gateway (plain HTTP, and HTTPS when `tls_dir` is given) plus the foreign host."""

    def __init__(self, *, tls_dir: Path | None = None) -> None:
        self._tls_dir = tls_dir
        self._tenants: dict[str, Tenant] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-gateway")
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.tls_port = 0
        self.foreign_port = 0
        self.ca_file: Path | None = None
        # Requests for no vendor path (a followed same-host redirect, a probe) and requests the
        # foreign host got (a followed redirect): both must stay empty.
        self.stray: list[Request] = []
        self.foreign_requests: list[Request] = []
        self.oversized_heads = 0
        self._hostile_guids: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        gateway = await asyncio.start_server(self._gateway, "127.0.0.1", 0, limit=READ_LIMIT)
        foreign = await asyncio.start_server(self._foreign, "127.0.0.1", 0, limit=READ_LIMIT)
        self._servers += [gateway, foreign]
        self.port = gateway.sockets[0].getsockname()[1]
        self.foreign_port = foreign.sockets[0].getsockname()[1]
        if self._tls_dir is not None:
            context = self._server_tls(self._tls_dir)
            secure = await asyncio.start_server(
                self._gateway, "127.0.0.1", 0, limit=READ_LIMIT, ssl=context
            )
            self._servers.append(secure)
            self.tls_port = secure.sockets[0].getsockname()[1]

    def _server_tls(self, directory: Path) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "hostile-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        return context

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- what tests use ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def foreign_url(self) -> str:
        return f"http://127.0.0.1:{self.foreign_port}"

    def tenant(self, agent_id: str) -> Tenant:
        with self._lock:
            tenant = self._tenants.get(agent_id)
            if tenant is None:
                tenant = self._tenants[agent_id] = Tenant(agent_id)
            return tenant

    def agents(self) -> set[str]:
        with self._lock:
            return set(self._tenants)

    def secret_guids(self) -> set[str]:
        """Every Guid this gateway handed out: issued ones, and the UUIDs hostile `Set-GUID`
        headers carried. None may appear in full anywhere outside the gateway conversation."""
        with self._lock:
            found = set(self._hostile_guids)
            tenants = list(self._tenants.values())
        for tenant in tenants:
            found.update(tenant.issued)
        return found

    # -- serving -------------------------------------------------------------------------------

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _gateway(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if request.head_size > MAX_REQUEST_HEAD:
                    self.oversized_heads += 1
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    return
                route = _route(request)
                if route is None:
                    self.stray.append(request)
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                method, agent = route
                tenant = self.tenant(agent)
                answer, hostile = tenant._take(method, request)
                served = Served(method, agent, answer.label, hostile, time.monotonic())
                tenant._begin(method)
                try:
                    keep = await self._answer(
                        answer, hostile, request, tenant, reader, writer, served
                    )
                finally:
                    served.ended = time.monotonic()
                    tenant._end(method, served)
                if not keep:
                    return
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            return
        finally:
            writer.transport.abort()

    def _context(self, request: Request, tenant: Tenant) -> _Context:
        guid = request.guid or tenant.guid or ""
        return _Context(
            guid=guid.encode("latin-1", "replace"),
            body=request.body,
            ids=json.dumps(_requested_ids(request.body)).encode(),
            foreign=self.foreign_url.encode(),
            own=self.url.encode(),
            agent=tenant.agent_id.encode(),
        )

    async def _answer(
        self,
        answer: Answer,
        hostile: bool,
        request: Request,
        tenant: Tenant,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        served: Served,
    ) -> bool:
        """Send one answer; True to keep the connection for the next request."""
        ctx = self._context(request, tenant)
        if not hostile or answer.keep_alive:
            # A plain exchange (a hostile one may be well-formed too: a storm of 100-006).
            if answer.before:
                await asyncio.sleep(answer.before)
            if hostile:
                self._note_guids(answer, ctx)
            await self._send(answer, ctx, writer, served)
            return answer.keep_alive
        self._note_guids(answer, ctx)
        # Any byte or EOF from the client while it has no answer yet means it gave up.
        watcher = asyncio.ensure_future(reader.read(1))
        sender = asyncio.ensure_future(self._send(answer, ctx, writer, served))
        try:
            done, _ = await asyncio.wait(
                {watcher, sender}, timeout=answer.time_cap, return_when=asyncio.FIRST_COMPLETED
            )
            if sender in done and sender.exception() is None and answer.after > 0:
                done, _ = await asyncio.wait({watcher}, timeout=answer.after)
            if watcher in done or (sender.done() and sender.exception() is not None):
                served.peer_closed = not served.complete or watcher in done
        finally:
            for task in (watcher, sender):
                task.cancel()
            await asyncio.gather(watcher, sender, return_exceptions=True)
        return False

    def _note_guids(self, answer: Answer, ctx: _Context) -> None:
        """UUIDs a hostile answer hands out as Guids (in `Set-GUID`, or anywhere in raw bytes)
        are secrets too: the exporter must not log them in full either."""
        found = [ctx.fill(v) for n, v in answer.headers if n.lower() == b"set-guid"]
        if answer.raw is not None:
            found.append(ctx.fill(answer.raw))
        for data in found:
            for match in _UUID.finditer(data):
                with self._lock:
                    self._hostile_guids.add(match.group().decode())

    async def _send(
        self, answer: Answer, ctx: _Context, writer: asyncio.StreamWriter, served: Served
    ) -> None:
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + answer.time_cap
        if answer.before:
            await asyncio.sleep(min(answer.before, answer.time_cap))
        if answer.raw is not None:
            data = ctx.fill(answer.raw)
            writer.write(data)
            served.bytes_sent += len(data)
            await writer.drain()
            served.complete = True
            return
        body = ctx.body_of(answer.body)
        length = body_length(body, answer.encoding) if answer.framing == "length" else None
        head = _head(answer, ctx, length)
        writer.write(head)
        served.bytes_sent += len(head)
        chunked = answer.framing == "chunked"
        for piece in _pieces(body, answer.encoding, answer.piece):
            if not piece:
                continue
            if answer.drip:
                await asyncio.sleep(answer.drip)
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            writer.write(data)
            served.bytes_sent += len(data)
            await writer.drain()
            if served.bytes_sent > answer.byte_cap or loop.time() > stop_at:
                return
        if chunked:
            writer.write(b"0\r\n\r\n")
            served.bytes_sent += 5
        await writer.drain()
        served.complete = True

    async def _foreign(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The redirect target: records the request and answers like a gateway would, so that
        a client that followed the redirect would take the answer for data."""
        self._track()
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.foreign_requests.append(request)
            body = envelope_bytes(
                result={"confIds": [666], "confs": [{"confId": 666, "addresses": []}]}
            )
            guid = f"{uuid.uuid4()}{GUID_NODE}".encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Set-GUID: JSESSIONID="
                + guid
                + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body
            )
            await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.transport.abort()


def describe_requests(requests: Iterable[Request]) -> str:
    """A short, secret-free account of requests (for assertion messages)."""
    return ", ".join(f"{r.method} {r.path} ({len(r.body)} B body)" for r in requests) or "none"
