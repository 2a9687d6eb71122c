"""Each parser of exporter.primitives against the grammar its docstring states: what the
grammar generates parses to the value it denotes, and anything else is a ValueError with a
message that quotes the input (never another exception)."""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import pytest
import trustme
from hypothesis import assume, example, given
from hypothesis import strategies as st

from exporter.primitives import (
    CONFERENCE_ID_MAX,
    SIZE_UNITS,
    ConfigError,
    KeyPairError,
    Problems,
    Section,
    check_ca_bundle,
    check_cert_and_key,
    format_size,
    is_host_name,
    load_yaml_file,
    parse_conference_id,
    parse_duration,
    parse_listen_address,
    parse_size,
    read_file_capped,
    resolve_path,
    show,
)

T = TypeVar("T")
ASCII_DIGITS = set(string.digits)
# Characters str.isdigit() accepts that are not ASCII digits: "²", "٣", fullwidth 5.
OTHER_DIGITS = st.characters(categories=["Nd", "No"]).filter(lambda c: c not in ASCII_DIGITS)


# --------------------------------------------------------------------------------------------
# Conference IDs


@given(st.integers(1, CONFERENCE_ID_MAX), st.integers(0, 3))
def test_conference_id_decimal_text_round_trips(number: int, zeros: int) -> None:
    assert parse_conference_id("0" * zeros + str(number)) == number
    assert parse_conference_id(number) == number


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=CONFERENCE_ID_MAX + 1)))
def test_conference_id_out_of_range_refused(number: int) -> None:
    with pytest.raises(ValueError, match="conference ID"):
        parse_conference_id(number)
    if number >= 0:
        with pytest.raises(ValueError, match="conference ID"):
            parse_conference_id(str(number))


@given(st.text(st.sampled_from("0123456789"), max_size=3), OTHER_DIGITS, st.text("0123456789"))
@example("", "²", "")
@example("", "٣", "")
@example("1", "\uff15", "")
def test_conference_id_other_digit_scripts_refused(before: str, digit: str, after: str) -> None:
    """The divergence of issue 15: "²".isdigit() is true and int("²") raises."""
    with pytest.raises(ValueError, match=r"is not a conference ID \(a positive integer\)"):
        parse_conference_id(before + digit + after)


def outcome(parse: Callable[[str], T], text: str) -> T | ValueError:
    """What a parser makes of ``text``: its value, or the ValueError it raised."""
    try:
        return parse(text)
    except ValueError as exc:
        return exc


def refused_quoting(result: object, text: str) -> bool:
    return isinstance(result, ValueError) and str(result).startswith(show(text))


@given(st.text(max_size=25))
def test_conference_id_any_text_is_the_grammar_or_a_value_error(text: str) -> None:
    valid = re.fullmatch(r"[0-9]+", text) is not None and 1 <= int(text) <= CONFERENCE_ID_MAX
    result = outcome(parse_conference_id, text)
    assert (result == int(text)) if valid else refused_quoting(result, text)


@pytest.mark.parametrize("value", [True, False, 1.0, None, [1], " 1", "+1", "1_000", "1e3", "-1"])
def test_conference_id_other_types_and_spellings_refused(value: object) -> None:
    with pytest.raises(ValueError, match="is not a conference ID"):
        parse_conference_id(value)


def test_conference_id_thousands_of_digits_is_too_large_not_a_crash() -> None:
    with pytest.raises(ValueError, match="too large for a conference ID"):
        parse_conference_id("9" * 5000)
    assert parse_conference_id("0" * 5000 + "7") == 7


def test_thousands_of_leading_zeros_are_not_a_crash() -> None:
    """int() refuses more than 4300 digits; the parsers strip zeros before converting."""
    assert parse_listen_address(":" + "0" * 5000 + "80") == ("0.0.0.0", 80)
    assert parse_size("0" * 5000 + "1.5" + "0" * 5000 + "KiB") == 1536
    with pytest.raises(ValueError, match="more decimal places"):
        parse_size("1." + "1" * 5000 + "KiB")


# --------------------------------------------------------------------------------------------
# Durations

NUMBERS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.tuples(st.integers(0, 10**6), st.integers(0, 999)).map(lambda p: f"{p[0]}.{p[1]}"),
)


@given(st.fixed_dictionaries({}, optional={u: NUMBERS for u in ("h", "m", "s", "ms")}))
def test_duration_components_in_order_sum(parts: dict[str, str]) -> None:
    assume(parts)
    text = "".join(f"{parts[u]}{u}" for u in ("h", "m", "s", "ms") if u in parts)
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    expected = sum(float(value) * scale[unit] for unit, value in parts.items())
    assert parse_duration(text) == pytest.approx(expected)


@given(NUMBERS)
def test_duration_bare_number_is_seconds(number: str) -> None:
    assert parse_duration(number) == float(number)


@given(NUMBERS, st.sampled_from(["h", "m", "s", "ms"]))
def test_duration_negative_refused_as_negative(number: str, unit: str) -> None:
    with pytest.raises(ValueError, match="is negative; a duration is 0 or more"):
        parse_duration(f"-{number}{unit}")


@given(st.permutations(["1h", "1m", "1s", "1ms"]))
def test_duration_units_out_of_order_refused(units: list[str]) -> None:
    text = "".join(units)
    if text == "1h1m1s1ms":
        assert parse_duration(text) == pytest.approx(3661.001)
    else:
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(text)


@given(st.text(max_size=14))
def test_duration_any_text_is_a_non_negative_number_or_a_value_error(text: str) -> None:
    result = outcome(parse_duration, text)
    if isinstance(result, float):
        assert result >= 0
        assert re.fullmatch(r"[0-9hms.]+", text)
    else:
        assert refused_quoting(result, text)


@given(OTHER_DIGITS)
def test_duration_other_digit_scripts_refused(digit: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(f"{digit}s")


# --------------------------------------------------------------------------------------------
# Sizes


@given(st.integers(0, 10**12), st.sampled_from(sorted(SIZE_UNITS)))
def test_size_integer_with_unit(number: int, unit: str) -> None:
    assert parse_size(f"{number}{unit}") == number * SIZE_UNITS[unit]


@given(st.integers(0, 10**15))
def test_size_bare_integer_is_bytes(number: int) -> None:
    assert parse_size(str(number)) == number


@given(st.integers(0, 10**6), st.integers(0, 999), st.sampled_from(sorted(SIZE_UNITS)))
def test_size_fraction_is_exact_or_refused(whole: int, frac: int, unit: str) -> None:
    text = f"{whole}.{frac:03d}{unit}"
    exact = Fraction(f"{whole}.{frac:03d}") * SIZE_UNITS[unit]
    if exact.denominator == 1:
        assert parse_size(text) == exact
    else:
        with pytest.raises(ValueError, match="not a whole number of bytes"):
            parse_size(text)


@given(st.integers(0, 2**40))
def test_format_size_parses_back(size: int) -> None:
    assert parse_size(format_size(size)) == size


@pytest.mark.parametrize(
    "text", ["16mib", "16 MiB", "16M", "16Mi", "MiB", "", "1.5", "-1", "1e6", "16MiBs", "0x10"]
)
def test_size_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(show(text))):
        parse_size(text)


@given(st.text(max_size=10))
def test_size_any_text_is_bytes_or_a_value_error(text: str) -> None:
    result = outcome(parse_size, text)
    if isinstance(result, int):
        assert result >= 0
        assert re.fullmatch(r"[0-9.]+(?:[KMG]i?)?B?", text)
    else:
        assert refused_quoting(result, text)


def test_size_of_thirty_thousand_digits_is_refused_quickly() -> None:
    with pytest.raises(ValueError, match="too large for a size"):
        parse_size("9" * 30_000 + "GiB")


# --------------------------------------------------------------------------------------------
# Listen addresses

LABELS = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
HOSTS = st.one_of(
    st.lists(LABELS, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
)
PORTS = st.integers(0, 65535)


@given(HOSTS, PORTS)
def test_listen_host_and_port(host: str, port: int) -> None:
    assert parse_listen_address(f"{host}:{port}") == (host, port)


@given(st.ip_addresses(v=6), PORTS)
def test_listen_bracketed_ipv6(address: ipaddress.IPv6Address, port: int) -> None:
    assert parse_listen_address(f"[{address}]:{port}") == (str(address), port)


@given(PORTS)
def test_listen_empty_host_is_every_ipv4_interface(port: int) -> None:
    assert parse_listen_address(f":{port}") == ("0.0.0.0", port)


@given(HOSTS, st.integers(65536, 10**30))
def test_listen_port_out_of_range(host: str, port: int) -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT: it has a port outside 0 to 65535"):
        parse_listen_address(f"{host}:{port}")


@given(st.ip_addresses(v=6), PORTS)
def test_listen_ipv6_without_brackets_refused(address: ipaddress.IPv6Address, port: int) -> None:
    with pytest.raises(ValueError, match="needs brackets"):
        parse_listen_address(f"{address}:{port}")


@given(HOSTS, OTHER_DIGITS)
def test_listen_port_of_other_digits_refused(host: str, digit: str) -> None:
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        parse_listen_address(f"{host}:{digit}")


@pytest.mark.parametrize(
    "text", ["9865", "host:", "host:http", "host:70000", "my host:1", "[::g]:1", "[::1]", ":-1"]
)
def test_listen_refused_says_host_port(text: str) -> None:
    """cli.py's wording ("HOST:PORT") is kept, so it can switch to this parser."""
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen_address(text)


@given(st.text(max_size=20))
def test_listen_any_text_is_an_address_or_a_value_error(text: str) -> None:
    result = outcome(parse_listen_address, text)
    if isinstance(result, tuple):
        host, port = result
        assert 0 <= port <= 65535
        assert host == "0.0.0.0" or is_host_name(host) or ipaddress.IPv6Address(host)
    else:
        assert refused_quoting(result, text)


def test_host_names() -> None:
    assert is_host_name("gw.example.")
    assert is_host_name("a" * 63)
    assert not is_host_name("a" * 64)
    assert not is_host_name("-gw")
    assert not is_host_name("gw_1")
    assert not is_host_name("gw.example..")
    assert not is_host_name("\uff47\uff57")  # fullwidth "gw": not ASCII
    assert not is_host_name(".".join(["a" * 60] * 5))


# --------------------------------------------------------------------------------------------
# File paths


@given(st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=30))
def test_resolved_paths_are_absolute_and_under_base_unless_they_climb(text: str) -> None:
    base = Path("/etc/ccgw-exporter")
    path = resolve_path(text, base)
    assert path.is_absolute()
    if not text.startswith("/") and ".." not in Path(text).parts:
        assert path.is_relative_to(base)


def test_resolve_path_keeps_symlinks_and_tidies() -> None:
    assert resolve_path("a/../b", "/etc/x") == Path("/etc/x/b")
    assert resolve_path("/abs/pw", "/etc/x") == Path("/abs/pw")
    assert resolve_path("..data/pw", "/mnt") == Path("/mnt/..data/pw")


@pytest.mark.parametrize(("text", "message"), [("", "is empty"), ("a\0b", "NUL character")])
def test_resolve_path_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_path(text, "/etc")


def test_read_file_capped(tmp_path: Path) -> None:
    (tmp_path / "small").write_bytes(b"x" * 10)
    assert read_file_capped(tmp_path / "small", 10) == b"x" * 10
    with pytest.raises(ValueError, match=r"small is larger than 9 bytes"):
        read_file_capped(tmp_path / "small", 9)
    with pytest.raises(ValueError, match=r"cannot read .*missing: No such file or directory"):
        read_file_capped(tmp_path / "missing", 9)
    with pytest.raises(ValueError, match=r"cannot read .*: Is a directory"):
        read_file_capped(tmp_path, 9)


# --------------------------------------------------------------------------------------------
# TLS files


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives import serialization

    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("exporter.example")
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    ca.issue_cert("other.example").private_key_pem.write_to_path(str(root / "other-key.pem"))
    (root / "junk.pem").write_text("junk\n")
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    (root / "enc-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return root


def test_ca_bundle(pki: Path) -> None:
    check_ca_bundle(pki / "ca.pem")
    with pytest.raises(ValueError, match=r"junk\.pem holds no PEM certificate"):
        check_ca_bundle(pki / "junk.pem")


@pytest.mark.parametrize(
    ("cert", "key", "part", "message"),
    [
        ("cert.pem", "other-key.pem", "key", "does not match the certificate"),
        ("junk.pem", "key.pem", "cert", "holds no PEM certificate"),
        ("cert.pem", "junk.pem", "key", "holds no PEM private key"),
        ("cert.pem", "enc-key.pem", "key", "is encrypted; use an unencrypted key"),
        ("cert.pem", "missing.pem", "key", "cannot read"),
    ],
)
def test_cert_and_key_problems_name_the_file_at_fault(
    pki: Path, cert: str, key: str, part: str, message: str
) -> None:
    with pytest.raises(KeyPairError, match=message) as info:
        check_cert_and_key(pki / cert, pki / key)
    assert info.value.part == part


def test_cert_and_key_match(pki: Path) -> None:
    check_cert_and_key(pki / "cert.pem", pki / "key.pem")


# --------------------------------------------------------------------------------------------
# Section: the typed getters


def section(data: dict[object, object], known: tuple[str, ...] = ()) -> Section:
    return Section(Problems("/etc/x"), "top", data, known or tuple(map(str, data)))


def test_section_reports_unknown_keys_with_a_hint() -> None:
    problems = Problems("/etc/x")
    Section(problems, "web", {"listen": 1, 2: 3}, ("listen_address",))
    assert problems.errors == [
        "web.listen: unknown key (did you mean listen_address?)",
        "web.2: unknown key",
    ]


def test_section_getters_report_and_return_the_default() -> None:
    s = section(
        {
            "b": "yes",
            "i": "8",
            "d": "10x",
            "z": 5.5,
            "c": "maybe",
            "p": 3,
            "t": "",
            "m": [1],
        }
    )
    assert s.boolean("b", True) is True
    assert s.integer("i", 1, minimum=0) == 1
    assert s.duration("d", 2.0) == 2.0
    assert s.size("z", 7, minimum=0, maximum=10) == 7
    assert s.choice("c", "a", ("a", "b")) == "a"
    assert s.file_path("p") is None
    assert s.tls_file("t") is None  # "" means unset
    assert s.section("m", ()).data == {}
    assert s.problems.errors == [
        'top.b: expected true or false, got a string "yes"',
        'top.i: expected an integer, got a string "8"',
        'top.d: "10x" is not a duration (use e.g. 10s, 500ms, 1m30s)',
        "top.z: expected a size (use e.g. 16MiB, 512KiB, 8MB or a number of bytes), "
        "got a number 5.5",
        'top.c: "maybe" is not one of a, b',
        "top.p: expected a file path, got an integer 3",
        "top.m: expected a mapping, got a list",
    ]


def test_section_null_is_the_default() -> None:
    s = section({"b": None, "i": None, "d": None, "z": None, "p": None})
    assert s.boolean("b", True) is True
    assert s.integer("i", 4, minimum=0) == 4
    assert s.duration("d", 1.5) == 1.5
    assert s.size("z", 9, minimum=0, maximum=10) == 9
    assert s.file_path("p") is None
    assert not s.problems.errors


def test_section_size_bounds_in_units() -> None:
    s = section({"z": "2GiB"})
    assert s.size("z", 1, minimum=64 * 1024, maximum=1024**3) == 1
    assert s.problems.errors == ['top.z: must be 64KiB to 1GiB, got "2GiB"']


# --------------------------------------------------------------------------------------------
# The strict YAML loader


@dataclass(frozen=True)
class _Parsed:
    warnings: tuple[str, ...] = ()


def _parse(data: object, base_dir: Path) -> _Parsed:
    """A parse function that reports what it was given, as a problem."""
    raise ConfigError([f"parsed {data!r} in {base_dir.name}"])


def test_yaml_loader_reports_duplicates_before_the_parser_problems(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(ConfigError) as info:
        load_yaml_file(path, _parse, empty="write {}")
    assert info.value.messages == [
        'line 2: duplicate key "a" (first at line 1); YAML would silently keep only the last one',
        f"parsed {{'a': 2}} in {tmp_path.name}",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("0153", "0153"), ("1:30", "1:30"), ("010", "010"), ("0x10", 16), ("9" * 5000, "9" * 5000)],
)
def test_yaml_loader_keeps_yaml11_only_and_huge_integers_as_text(
    tmp_path: Path, text: str, value: object
) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(f"v: {text}\n")
    with pytest.raises(ConfigError) as info:
        load_yaml_file(path, _parse, empty="write {}")
    assert info.value.messages == [f"parsed {{'v': {value!r}}} in {tmp_path.name}"]


def test_yaml_loader_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match=re.escape("top level: the file is empty; write {}")):
        load_yaml_file(path, _parse, empty="write {}")
