"""The boundary: every byte the gateway sends passes here once, and leaves it safe.

A gateway is a peer we do not control: a bug, a proxy in front of it or an attacker who took its
address can answer anything. Before this module existed a single lone surrogate in a retcode
poisoned `/metrics` until restart, a gzip bomb took gigabytes, and a control character in
`Set-GUID` killed the event poll (issue 12). So the rules live here, in one place, and the code
behind them (models, stats, exposition, logs, the landing page) may trust what it gets:

- **Size**: an answer is read up to a cap, counted both before and after decompression, and
  decompressed by us in bounded steps (aiohttp's own decompression inflates a whole network
  chunk at once); over the cap the connection is dropped and the call fails as `too_large`.
- **Text**: every string that can reach a label, a log line or the landing page is valid UTF-8,
  has no control characters and is bounded in length (`safe_text`).
- **Retcodes**: only the vendor's shape, `0` or `NNN-NNN` (cec_07_0580), is a retcode; anything
  else is counted as `invalid`, so label values cannot be chosen by the peer.
- **Set-GUID**: the Guid must look like one (the vendor's form is
  `JSESSIONID=<uuid>.AgentGatewayN`, cec_05_4015) before it is stored and sent back in a header.
- **Charset**: answers are decoded by the charset their `Content-Type` declares (the vendor
  documents UTF-8; a gateway configured otherwise must not lose its retcodes).
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import zlib
from typing import Any, Final, Protocol

# Caps. The defaults of `gateways[].max_response_size` and of the small calls' own cap: a
# sign-in, an event or a sign-out answer is a few hundred bytes; discovery and queryconfinfos
# answers grow with the VDN and take the configured cap.
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
SMALL_ANSWER_CAP: Final = 1024 * 1024
READ_CHUNK: Final = 1 << 16

TEXT_LIMIT: Final = 256  # messages, event types, error details
LABEL_LIMIT: Final = 128  # label values taken from answers (participant addresses, vdn)
REPLACEMENT: Final = "\ufffd"

RETCODE_OK: Final = "0"
RETCODE_INVALID: Final = "invalid"
RETCODE_OTHER: Final = "other"
_RETCODE_RE: Final = re.compile(r"0|[0-9]{3}-[0-9]{3}")

# The vendor's Guid is a UUID with the issuing node appended (`….AgentGateway0`); other
# versions and balancers may differ in detail, so accept the characters a token may hold and a
# sane length, nothing that could break a header or a log line.
GUID_MAX_LEN: Final = 200
_GUID_RE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._~+/=-]{{0,{GUID_MAX_LEN - 1}}}")
_NODE_RE: Final = re.compile(r"\.(AgentGateway[0-9]{1,6})\Z")


class TooLarge(Exception):
    """The answer exceeded the cap (before or after decompression)."""

    def __init__(self, limit: int, stage: str) -> None:
        super().__init__(f"answer larger than {limit} bytes ({stage})")
        self.limit = limit


class Undecodable(Exception):
    """The answer's encoding or charset cannot be decoded."""


# --------------------------------------------------------------------------------------------
# Text


def safe_text(value: str, limit: int = TEXT_LIMIT) -> str:
    """`value` made fit for a label, a log line or an HTML page.

    Lone surrogates (what `"\\ud800"` in JSON becomes) and control characters, CR and TAB
    included, are replaced by U+FFFD; so are the invisible format characters that reorder text
    (bidi overrides): a peer must not be able to make a log line lie. Longer than `limit`
    characters: cut, with an ellipsis. Printable ASCII, the common case, costs two C calls.
    """
    if value.isascii() and value.isprintable():
        return value if len(value) <= limit else value[: limit - 1] + "…"
    out = []
    for ch in value[: limit + 1]:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            out.append(REPLACEMENT)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label_text(value: object, limit: int = LABEL_LIMIT) -> str:
    """A label value from an answer: strings made safe, integers as decimals, else ""."""
    if type(value) is str:
        if value.isascii() and value.isprintable() and len(value) <= limit:
            return value
        return safe_text(value, limit)
    if type(value) is int:
        return str(value)
    return ""


# --------------------------------------------------------------------------------------------
# Retcodes


def retcode_label(raw: object) -> str:
    """The retcode as a label value: `0`, `NNN-NNN`, or `invalid` for anything else.

    An integer 0 is accepted as "0" (some gateways send numbers), surrounding blanks are
    ignored; nothing else is repaired.
    """
    if type(raw) is int:
        raw = str(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if _RETCODE_RE.fullmatch(text):
            return text
    return RETCODE_INVALID


class RetcodeLabels:
    """Bounds the retcode label values of one gateway's counters.

    The vendor's documented codes of a method are always their own label. Other well-shaped
    codes (a newer gateway's) each get one too, up to `extra` per method; beyond that they are
    counted together as `other`, so a peer answering a new code on every call cannot grow the
    exposition without bound (300 garbage codes made 300 series for ever; issue 12, item 4).
    """

    def __init__(self, documented: dict[str, frozenset[str]], extra: int = 16) -> None:
        self._documented = documented
        self._extra = extra
        self._seen: dict[str, set[str]] = {}

    def label(self, method: str, retcode: str) -> str:
        if retcode in (RETCODE_OK, RETCODE_INVALID):
            return retcode
        if retcode in self._documented.get(method, ()):
            return retcode
        seen = self._seen.setdefault(method, set())
        if retcode in seen:
            return retcode
        if len(seen) < self._extra:
            seen.add(retcode)
            return retcode
        return RETCODE_OTHER


# --------------------------------------------------------------------------------------------
# Set-GUID


def parse_set_guid(value: str) -> str | None:
    """The Guid of a `Set-GUID` header, or None when the header does not hold a usable one.

    `JSESSIONID=<guid>` (possibly with cookie attributes after `;`) or a bare Guid, as the
    vendor's pages show both (cec_05_4015: `Set-GUID: JSESSIONID=279fe21d-…​.AgentGateway0`).
    A value with control characters, spaces or anything a header must not carry is refused
    here: stored, it made aiohttp refuse every later request and the event poll die.
    """
    text = value.split(";", 1)[0].strip()
    if "=" in text:
        name, _, text = text.partition("=")
        if name.strip().upper() != "JSESSIONID":
            return None
        text = text.strip()
    if not text or not _GUID_RE.fullmatch(text):
        return None
    return text


def guid_node(guid: str | None) -> str:
    """The gateway node that issued the Guid (`AgentGateway0`), or "" when it does not say."""
    if not guid:
        return ""
    match = _NODE_RE.search(guid)
    return match.group(1) if match else ""


# --------------------------------------------------------------------------------------------
# Reading and decoding bodies


class _Stream(Protocol):
    async def readany(self) -> bytes: ...


async def read_capped(stream: _Stream, encoding: str, limit: int) -> bytes:
    """The body, decompressed, at most `limit` bytes on the wire and after inflating.

    `encoding` is the Content-Encoding header (lower case). gzip and deflate are inflated here,
    in steps of at most the remaining budget, so a bomb costs `limit` bytes of memory, not its
    inflated size. Raises `TooLarge` or `Undecodable`.
    """
    inflater = _inflater(encoding)
    chunks: list[bytes] = []
    try:
        return await _read_into(stream, inflater, encoding, limit, chunks)
    finally:
        # On TooLarge the traceback keeps this frame alive as long as the error is kept (in
        # the collection, until the next one): it must not keep up to `limit` bytes with it.
        chunks.clear()


async def _read_into(
    stream: _Stream, inflater: Any, encoding: str, limit: int, chunks: list[bytes]
) -> bytes:
    wire = 0
    size = 0
    while True:
        chunk = await stream.readany()
        if not chunk:
            break
        wire += len(chunk)
        if wire > limit:
            raise TooLarge(limit, "on the wire")
        if inflater is None:
            size = wire
            chunks.append(chunk)
            continue
        size = _inflate(inflater, chunk, chunks, size, limit)
    if inflater is not None:
        try:
            rest = inflater.flush()
        except zlib.error as exc:
            raise Undecodable(f"bad {encoding} data: {exc}") from None
        size += len(rest)
        if size > limit:
            raise TooLarge(limit, "inflated")
        chunks.append(rest)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _inflater(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # zlib-wrapped, as RFC 9110 says (32 + MAX_WBITS also accepts a gzip header).
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    raise Undecodable(f"unsupported Content-Encoding {safe_text(encoding, 40)!r}")


def _inflate(inflater: Any, chunk: bytes, out: list[bytes], size: int, limit: int) -> int:
    data = chunk
    while data:
        try:
            piece = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise Undecodable(f"bad compressed data: {exc}") from None
        size += len(piece)
        if size > limit:
            raise TooLarge(limit, "inflated")
        out.append(piece)
        data = inflater.unconsumed_tail
    return size


_UTF8_NAMES: Final = frozenset({"utf-8", "utf8", "utf_8", ""})


def decode_json(payload: bytes, charset: str | None) -> Any:
    """JSON from the body, read in the charset the answer declares (UTF-8 when none).

    UTF-8 is the vendor's (every page: `application/json; charset=UTF-8`) and takes the fast
    path. Bytes that are not valid in the declared charset become U+FFFD rather than failing
    the answer: the retcode and the structure are ASCII and survive, and every string is made
    safe later anyway. Raises ValueError (not JSON), Undecodable (unknown charset).
    """
    name = (charset or "").strip().lower()
    if name in _UTF8_NAMES:
        try:
            return json.loads(payload)
        except UnicodeDecodeError:
            return json.loads(payload.decode("utf-8", "replace"))
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise Undecodable(f"unknown charset {safe_text(name, 40)!r}") from None
    if not info._is_text_encoding:  # rot13, zlib_codec & co. are not charsets
        raise Undecodable(f"unknown charset {safe_text(name, 40)!r}")
    return json.loads(payload.decode(info.name, "replace"))
