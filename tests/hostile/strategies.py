"""Hypothesis strategies for what a hostile or broken gateway answers, per vendor call.

Every strategy draws a complete `Answer` (status line, headers, body bytes, framing, timing),
so the gateway can send it as drawn. The families, roughly in the order hypothesis shrinks
towards:

- the vendor's envelope with hostile contents: retcodes of any shape (documented ones, well
  shaped undocumented ones, lone surrogates, control characters, 100 KB strings, numbers,
  objects), arbitrary `message`, `result` and `event` values; numbers huge, negative, NaN,
  floats, strings, 5,000-digit literals; deep nesting;
- the envelope with hostile headers: `Set-GUID` with control characters, CR attempts, huge
  or malformed values, many of them; `Set-Cookie` floods; lying `Content-Type`,
  `Content-Encoding`, `Transfer-Encoding`;
- other statuses (any code, HTML error pages, bodies that echo the request, its Guid or its
  password) and redirects to the foreign host or to another path of the gateway;
- broken framing: `Content-Length` lies, chunked bodies that never end, drips, hangs, bytes
  that are not HTTP at all;
- size: bodies over the 16 MiB cap, endless ones, gzip and deflate bombs.

Timings stay short (a hang lasts at most a few seconds) and sizes modest (tens of MiB), so
an example costs about a second; `tests/hostile/test_sizes.py` goes to 200 MB and beyond.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from .gateway import JSON_TYPE, Answer, Endless, Fixed, Method, Repeat

MiB = 1 << 20

# -- budgets -----------------------------------------------------------------------------------

settings.register_profile(
    "hostile-small",
    # `make test`: the curated example and one generated one per method (derandomized: the
    # same on every run, so a red build is reproducible); `make fuzz` explores.
    max_examples=1,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "hostile-fuzz",
    max_examples=int(os.environ.get("CCGW_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
#: `make fuzz` sets CCGW_HYPOTHESIS_PROFILE=fuzz; anything else runs the small budget.
PROFILE = "hostile-fuzz" if os.environ.get("CCGW_HYPOTHESIS_PROFILE") == "fuzz" else "hostile-small"


def hostile_settings(share: float = 1.0) -> settings:
    """The profile's settings; `share` scales its example budget (for costly examples)."""
    profile = settings.get_profile(PROFILE)
    return settings(profile, max_examples=max(1, round(profile.max_examples * share)))


# -- JSON with raw pieces ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Raw:
    """JSON text inserted as is: literals Python's encoder will not write (1e999, a 5,000
    digit integer) and nesting deeper than a recursive encoder could."""

    text: str


def encode(value: object) -> str:
    """JSON text; strings ASCII-escaped so that lone surrogates become `\\ud800` escapes."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


# -- values ------------------------------------------------------------------------------------

# Characters that break things: lone surrogates, C0/C1 controls, DEL, line separators, a BOM,
# the exposition format's own syntax, multi-byte characters.
SPECIAL_CHARACTERS = (
    "\ud800",
    "\udfff",
    "\udc80",
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\r",
    "\n",
    "\t",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffd",
    '"',
    "\\",
    "{",
    "}",
    "=",
    ",",
    "#",
    " ",
    "é",
    "中",
    "\U0001f600",
)
characters = st.one_of(st.sampled_from(SPECIAL_CHARACTERS), st.characters())
short_text = st.text(characters, max_size=24)
long_text = st.builds(
    lambda seed, n: (seed * (n // len(seed) + 1))[:n],
    st.text(characters, min_size=1, max_size=4),
    st.sampled_from([300, 4_096, 65_536, 100_000]),
)
hostile_text = st.one_of(short_text, long_text)

RAW_NUMBERS = (
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1E400",
    "1e-999",
    "9" * 400,
    "1" * 5_000,
    "-" + "9" * 20,
    "0.5",
    "1.0",
    "18446744073709551616",
    "9223372036854775808",
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from([Raw(n) for n in RAW_NUMBERS]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(short_text, inner, max_size=4)
    ),
    max_leaves=12,
)
deep = st.builds(
    lambda n, kind: Raw("[" * n + "]" * n) if kind else Raw('{"a":' * n + "1" + "}" * n),
    st.sampled_from([200, 1_000, 100_000]),
    st.booleans(),
)
anything = st.one_of(json_values, deep)

# cec_07_0580 (gateway-session.md, "Result codes").
DOCUMENTED_RETCODES = (
    "0",
    "000-001",
    "000-002",
    "000-003",
    "000-004",
    "000-006",
    "000-007",
    "100-001",
    "100-002",
    "100-003",
    "100-004",
    "100-006",
    "100-007",
    "100-008",
    "110-016",
    "101-004",
    "105-005",
    "105-006",
    "105-007",
)
# A wrong password, a locked account or a refused parameter is retried after 5 minutes on
# purpose (retrying is what locks an account): a sign-in answering them cannot be followed by
# a quick recovery.
CREDENTIAL_RETCODES = ("100-004", "110-016", "100-001", "000-002")


def retcodes(method: Method) -> st.SearchStrategy[object]:
    documented = [
        c for c in DOCUMENTED_RETCODES if method != "sign_in" or c not in CREDENTIAL_RETCODES
    ]
    text = hostile_text
    if method == "sign_in":
        text = hostile_text.filter(lambda t: t.strip() not in CREDENTIAL_RETCODES)
    return st.one_of(
        st.sampled_from(documented),
        st.from_regex(r"\A[0-9]{3}-[0-9]{3}\Z"),
        text,
        numbers,
        st.none(),
        json_values,
    )


# -- envelopes per method ----------------------------------------------------------------------

conf_ids = st.one_of(st.sampled_from([1001, 1002, 1003]), numbers, hostile_text)

participants = st.fixed_dictionaries(
    {},
    optional={
        "addressType": st.one_of(st.sampled_from(["6", "9", 6, 9]), scalars),
        "address": st.one_of(hostile_text, numbers, json_values),
        "deviceCallType": scalars,
        "deviceType": scalars,
        "channelAttrib": st.one_of(st.sampled_from([1, 2, 3]), scalars),
        "channelState": st.one_of(st.sampled_from([0, 1, 2]), scalars),
        "role": st.one_of(st.sampled_from([0, 1]), scalars),
        "enterTime": numbers,
    },
)
conferences = st.fixed_dictionaries(
    {"confId": conf_ids},
    optional={
        "confState": scalars,
        "startTime": numbers,
        "applyConfTime": numbers,
        "confHaveBeenTime": numbers,
        "addresses": st.one_of(st.lists(participants, max_size=5), json_values),
    },
)
many_ids = st.builds(
    lambda n, start: Raw("[" + ",".join(str(start + i) for i in range(n)) + "]"),
    st.sampled_from([100, 2_000]),
    st.sampled_from([0, 1001, 2**62]),
)
EVENT_TYPES = (
    "AgentConf_RequestSuccess",
    "AgentConf_SelfJoinResult",
    "AgentConf_SelfLeaveResult",
    "AgentConf_ParticipantChanged",
    "AgentConf_Timeout",
    "AgentOther_InService",
)
events = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"eventType": st.one_of(st.sampled_from(EVENT_TYPES), hostile_text)},
        optional={
            "workNo": scalars,
            "content": st.one_of(json_values, st.fixed_dictionaries({"confId": conf_ids})),
        },
    ),
)


def results(method: Method) -> st.SearchStrategy[object]:
    if method == "sign_in":
        vendor = st.fixed_dictionaries(
            {}, optional={"vdnid": scalars, "workno": scalars, "mediatype": scalars}
        )
        return st.one_of(vendor, anything)
    if method == "discovery":
        listed = st.one_of(st.lists(conf_ids, max_size=30), many_ids, anything)
        return st.one_of(st.fixed_dictionaries({"confIds": listed}), anything)
    if method == "queryconfinfos":
        listed = st.one_of(st.lists(conferences, max_size=4), anything)
        return st.one_of(st.fixed_dictionaries({"confs": listed}), listed, anything)
    return anything


def envelopes(method: Method) -> st.SearchStrategy[bytes]:
    """The vendor's envelope with hostile values, as JSON text (UTF-8)."""
    retcode = st.one_of(st.just("0"), retcodes(method))
    payload_key = "event" if method == "poll" else "result"
    payload = events if method == "poll" else results(method)
    fields = st.fixed_dictionaries(
        {"retcode": retcode},
        optional={"message": st.one_of(hostile_text, scalars), payload_key: payload},
    )
    return fields.map(lambda f: encode(f).encode())


def well_formed(method: Method) -> bytes:
    """A plausible success answer (for the answers whose point is their headers or framing)."""
    if method == "discovery":
        return b'{"message":"success","retcode":"0","result":{"confIds":[1001,1002,1003]}}'
    if method == "queryconfinfos":
        return b'{"message":"","retcode":"0","result":{"confs":[]}}'
    return b'{"message":"","retcode":"0"}'


# -- headers -----------------------------------------------------------------------------------

Headers = tuple[tuple[bytes, bytes], ...]
CONTROL_BYTES = (b"\x00", b"\x01", b"\x08", b"\x1b", b"\x7f", b"\r", b"\x0b", b"\x0c", b"\xff")


def _guid(u: object, node: int = 1) -> bytes:
    return f"{u}.AgentGateway{node}".encode()


good_set_guid = st.builds(lambda u: ((b"Set-GUID", b"JSESSIONID=" + _guid(u)),), st.uuids())
bad_set_guid_values = st.one_of(
    # A control character inside an otherwise valid Guid (issue 12, item 5).
    st.builds(
        lambda u, c, at: b"JSESSIONID=" + _guid(u)[:at] + c + _guid(u)[at:],
        st.uuids(),
        st.sampled_from(CONTROL_BYTES),
        st.integers(0, 50),
    ),
    # A header-injection attempt; raw CR LF would end the header, so CR alone and obs-fold.
    st.builds(lambda u: b"JSESSIONID=" + _guid(u) + b"\rSet-Cookie: evil=1", st.uuids()),
    st.builds(lambda u: b"JSESSIONID=" + _guid(u) + b"\r\n folded", st.uuids()),
    # Huge, empty, malformed, foreign names, attributes, non-ASCII.
    st.builds(lambda n: b"JSESSIONID=" + b"a" * n, st.sampled_from([200, 4_000, 9_000, 100_000])),
    st.sampled_from(
        [
            b"",
            b" ",
            b"JSESSIONID",
            b"JSESSIONID=",
            b"=x",
            b"JSESSIONID==;",
            b"GUID=abc",
            b"\xff\xfe",
        ]
    ),
    st.builds(lambda u: b"jsessionid=" + _guid(u) + b"; Path=/; HttpOnly", st.uuids()),
    st.builds(lambda u: _guid(u, 99), st.uuids()),
    st.binary(max_size=60).filter(lambda b: b"\n" not in b),
)
bad_set_guid = st.one_of(
    bad_set_guid_values.map(lambda v: ((b"Set-GUID", v),)),
    st.lists(
        st.one_of(bad_set_guid_values, st.uuids().map(lambda u: b"JSESSIONID=" + _guid(u))),
        min_size=2,
        max_size=40,
    ).map(lambda vs: tuple((b"Set-GUID", v) for v in vs)),
)
cookie_flood = st.builds(
    lambda n, size: tuple((b"Set-Cookie", b"c%d=%s; Path=/" % (i, b"v" * size)) for i in range(n)),
    st.sampled_from([1, 50, 1_000]),
    st.sampled_from([1, 100, 4_000]),
)
odd_headers = st.one_of(
    st.sampled_from(
        [
            ((b"Content-Encoding", b"gzip"),),
            ((b"Content-Encoding", b"br"),),
            ((b"Content-Encoding", b"deflate, gzip"),),
            ((b"Content-Encoding", b"x-unknown"),),
            ((b"Transfer-Encoding", b"chunked"),),
            ((b"Transfer-Encoding", b"gzip, chunked"),),
            ((b"Content-Length", b"5"),),
            ((b"Content-Length", b"-1"),),
            ((b"Content-Type", b"text/html; charset=gbk"),),
            ((b"Content-Type", b"application/json; charset=utf-16"),),
            ((b"Content-Type", b"\x01\x02"),),
            ((b"Location", b"{{FOREIGN}}/steal/{{AGENT}}"),),
            ((b"Connection", b"keep-alive"), (b"Keep-Alive", b"timeout=0, max=0")),
            ((b"X-Echo", b"{{GUID}}"),),
        ]
    ),
    st.builds(
        lambda n: tuple((b"X-Junk-%d" % i, b"j") for i in range(n)), st.sampled_from([100, 1_000])
    ),
    st.builds(lambda n: ((b"X-Huge", b"h" * n),), st.sampled_from([8_000, 9_000, 70_000])),
    st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=12).filter(
                lambda b: b":" not in b and b"\n" not in b and b"\r" not in b
            ),
            st.binary(max_size=40).filter(lambda b: b"\n" not in b),
        ),
        min_size=1,
        max_size=4,
    ).map(tuple),
)
headers = st.one_of(good_set_guid, bad_set_guid, cookie_flood, odd_headers)


# -- answers -----------------------------------------------------------------------------------


def json_answers(method: Method) -> st.SearchStrategy[Answer]:
    """200 with the hostile envelope; a sign-in or a poll may carry a `Set-GUID`."""
    guid = (
        st.one_of(st.just(()), good_set_guid, bad_set_guid)
        if method in ("sign_in", "poll")
        else st.just(())
    )
    return st.builds(
        lambda body, hs, charset: Answer(
            body=Fixed(body), headers=hs, content_type=charset, label=f"json {method}"
        ),
        envelopes(method),
        guid,
        st.sampled_from([JSON_TYPE, b"application/json", b"text/plain", None]),
    )


def header_answers(method: Method) -> st.SearchStrategy[Answer]:
    """A plausible envelope under hostile headers."""
    return st.builds(
        lambda hs: Answer(body=Fixed(well_formed(method)), headers=hs, label=f"headers {method}"),
        headers,
    )


ECHO_BODIES = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1>nginx</body></html>",
    b"{{GUID}} is not a valid session",
    b"Guid={{GUID}}&request={{BODY}}",
    b"{{BODY}}",
    b"<html><body>Error: request {{BODY}} for {{GUID}} failed</body></html>",
    b"",
)
status_answers = st.builds(
    lambda status, reason, body, json_body: Answer(
        status=status,
        reason=reason,
        body=Fixed(body),
        content_type=JSON_TYPE if json_body else b"text/html",
        label=f"status {status}",
    ),
    st.one_of(
        st.sampled_from([400, 401, 403, 404, 405, 500, 502, 503, 504]),
        st.integers(100, 599),
        st.sampled_from([0, 99, 600, 999]),
    ),
    st.one_of(
        st.just(b"Whatever"),
        st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b),
    ),
    st.one_of(st.sampled_from(ECHO_BODIES), st.binary(max_size=200)),
    st.booleans(),
)
LOCATIONS = (
    b"{{FOREIGN}}/agentgateway/resource/onlineagent/{{AGENT}}/loginex",
    b"{{FOREIGN}}/steal/{{AGENT}}?guid={{GUID}}",
    b"{{SELF}}/followed-redirect/{{AGENT}}",
    b"/followed-redirect",
    b"//127.0.0.1:1/unreachable",
    b"https://{{FOREIGN}}/x/{{AGENT}}",
    b"",
)
redirects = st.builds(
    lambda status, location, body: Answer(
        status=status,
        reason=b"Moved",
        headers=((b"Location", location),),
        body=Fixed(body),
        label=f"redirect {status}",
    ),
    st.sampled_from([301, 302, 303, 307, 308]),
    st.sampled_from(LOCATIONS),
    st.sampled_from([b"", b'{"message":"","retcode":"0"}']),
)


def framing_answers(method: Method) -> st.SearchStrategy[Answer]:
    body = Fixed(well_formed(method))
    endless = Endless(b'{"message":"","retcode":"0","result":{"confs":[', b'{"confId":1},')
    return st.one_of(
        # Content-Length lies, and the connection then held or closed.
        st.builds(
            lambda delta, after: Answer(
                body=body, length_delta=delta, after=after, label=f"length {delta:+d}"
            ),
            st.one_of(st.integers(-20, -1), st.integers(1, 10_000)),
            st.sampled_from([0.0, 0.5, 1.5]),
        ),
        # A chunked body that never ends, flooding or dripping.
        st.builds(
            lambda drip: Answer(
                body=endless,
                framing="chunked",
                drip=drip,
                piece=4096 if drip else 1 << 16,
                time_cap=2.0,
                byte_cap=48 * MiB,
                label="endless chunked",
            ),
            st.sampled_from([0.0, 0.05]),
        ),
        # A valid body, dripped a few bytes at a time.
        st.builds(
            lambda drip, framing: Answer(
                body=body, drip=drip, piece=3, framing=framing, time_cap=3.0, label="drip"
            ),
            st.sampled_from([0.01, 0.1]),
            st.sampled_from(["length", "chunked", "close"]),
        ),
        # Silence, then maybe the answer.
        st.builds(
            lambda before: Answer(
                body=body, before=before, time_cap=before + 0.5, label=f"hang {before}s"
            ),
            st.sampled_from([0.5, 1.8, 3.0]),
        ),
        # Bytes that are not HTTP (a TLS hello, garbage, nothing at all).
        st.builds(
            lambda raw: Answer(raw=raw, label="raw"),
            st.one_of(
                st.sampled_from(
                    [
                        b"",
                        b"\x16\x03\x01\x02\x00\x01\x00",
                        b"HTTP/1.1 200 OK\r\n",
                        b'HTTP/1.0 200 OK\r\n\r\n{"retcode":"0"}',
                        b"HTTP/2 200\r\n\r\n",
                        b"ICY 200 OK\r\n\r\n",
                        b"HTTP/1.1 200 OK\r\nX-Guid: {{GUID}}\x00\r\n\r\n",
                        b"HTTP/1.1 2{{GUID}} OK\r\n\r\n",
                    ]
                ),
                st.binary(max_size=300),
            ),
        ),
    )


def size_answers(method: Method) -> st.SearchStrategy[Answer]:
    head = b'{"message":"'
    tail = (
        b'","retcode":"0"}'
        if method != "queryconfinfos"
        else b'","retcode":"0","result":{"confs":[]}}'
    )
    return st.one_of(
        # Over the 16 MiB cap, with an honest length, chunked, or until close.
        st.builds(
            lambda size, framing: Answer(
                body=Repeat(head, b"x", size, tail), framing=framing, label=f"{size >> 20} MiB"
            ),
            st.sampled_from([17 * MiB, 40 * MiB]),
            st.sampled_from(["length", "chunked", "close"]),
        ),
        # Endless, as fast as the client reads.
        st.builds(
            lambda framing: Answer(
                body=Endless(head, b"x" * 64),
                framing=framing,
                time_cap=2.0,
                byte_cap=64 * MiB,
                label="endless",
            ),
            st.sampled_from(["chunked", "close"]),
        ),
        # Compression bombs: valid JSON (whitespace) inflating far past the cap.
        st.builds(
            lambda size, encoding: Answer(
                body=Repeat(b'{"message":"","retcode":"0"', b" ", size, b"}"),
                encoding=encoding,
                label=f"{encoding} bomb {size >> 20} MiB",
            ),
            st.sampled_from([64 * MiB, 512 * MiB]),
            st.sampled_from(["gzip", "deflate"]),
        ),
    )


def answers(method: Method) -> st.SearchStrategy[Answer]:
    """Any hostile answer to `method`."""
    return st.one_of(
        json_answers(method),
        header_answers(method),
        status_answers,
        redirects,
        framing_answers(method),
        size_answers(method),
    )


@dataclass(frozen=True, slots=True)
class Attack:
    """What one example does: these answers, in turn, to the next calls of `method`."""

    method: Method
    answers: tuple[Answer, ...]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def __repr__(self) -> str:
        return f"Attack({self.method}: {', '.join(repr(a) for a in self.answers)})"


def attacks(methods: Sequence[Method]) -> st.SearchStrategy[Attack]:
    def build(method: Method) -> st.SearchStrategy[Attack]:
        # Two answers at most on the event poll: each failed poll backs the next off (1-2 s,
        # then 2-4 s), and the example waits for the poll to come back.
        most = 2 if method == "poll" else 3
        return st.lists(answers(method), min_size=1, max_size=most).map(
            lambda found: Attack(method, tuple(found))
        )

    return st.sampled_from(list(methods)).flatmap(build)


def curated(method: Method) -> Attack:
    """A hand-picked nasty sequence per method: the explicit example `make test` always runs
    (with one generated example), and `make fuzz` starts from."""
    guid = b"JSESSIONID=0a1b2c3d\x01-4e5f-6a7b-8c9d-0e1f2a3b4c5d.AgentGateway0"
    steal = b"{{FOREIGN}}/steal/{{AGENT}}?guid={{GUID}}"
    html = b"<html><body><h1>502 Bad Gateway</h1>{{GUID}} {{BODY}}</body></html>"
    found: tuple[Answer, ...]
    if method == "sign_in":
        found = (
            Answer(
                body=Fixed(encode({"message": "\ud800", "retcode": "\ud800\x00",
                                   "result": {"vdnid": Raw("1e999")}}).encode()),
                headers=((b"Set-GUID", guid),),
                label="surrogate retcode, control character in Set-GUID",
            ),
            Answer(status=307, headers=((b"Location", steal),), label="307 to the foreign host"),
            Answer(status=502, body=Fixed(html), content_type=b"text/html", label="502 echo"),
        )  # fmt: skip
    elif method == "poll":
        event = {"eventType": "AgentConf_SelfJoinResult", "content": {"confId": Raw("1e999")}}
        flood = tuple((b"Set-GUID", guid + b"%d" % n) for n in range(40)) + tuple(
            (b"Set-Cookie", b"c%d=%s; Path=/" % (n, b"v" * 100)) for n in range(1_000)
        )
        # (Bombs and endless polls: tests/hostile/test_sizes.py.)
        found = (
            Answer(
                body=Fixed(encode({"message": "", "retcode": "0", "event": event}).encode()),
                headers=flood,
                label="Set-GUID and Set-Cookie flood",
            ),
        )
    elif method == "discovery":
        ids = Raw("[" + ",".join(str(n) for n in range(1, 2_001)) + ',-1,1e999,"1002",NaN]')
        found = (
            Answer(
                body=Fixed(encode({"message": "m" * 100_000, "retcode": "0",
                                   "result": {"confIds": ids}}).encode()),
                label="2,000 IDs and odd numbers",
            ),
            Answer(status=308, headers=((b"Location", steal),), label="308 to the foreign host"),
            Answer(status=502, body=Fixed(html), content_type=b"text/html", label="502 echo"),
        )  # fmt: skip
    else:
        people = [{"address": a, "channelState": Raw("NaN"), "role": -1, "enterTime": Raw("1e999")}
                  for a in ("\ud800", "\r", "dup", "dup", "x" * 100_000)]  # fmt: skip
        conf = {"confId": "1001", "startTime": Raw("1e999"), "applyConfTime": -5,
                "confHaveBeenTime": "NaN", "addresses": people}  # fmt: skip
        hostile = encode({"message": "", "retcode": "0", "result": {"confs": [conf]}}).encode()
        found = (
            Answer(body=Fixed(hostile), label="hostile conference"),
            Answer(
                body=Endless(b'{"message":"","retcode":"0","result":{"confs":[', b'{"confId":1},'),
                framing="chunked", time_cap=2.0, byte_cap=48 * MiB, label="endless chunked",
            ),
            Answer(
                body=Repeat(b'{"message":"', b"x", 40 * MiB, b'","retcode":"0"}'), label="40 MiB",
            ),
        )  # fmt: skip
    return Attack(method, found)
