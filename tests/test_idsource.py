"""exporter.idsource: the watched `conferences.ids_file`.

The file's IDs follow the config's rule (exporter.primitives.parse_conference_id), so a token
the config would refuse is skipped and counted here, never an exception in a scrape; the file
is re-read when it changes and only then.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.idsource import IdsFile, parse_ids, parse_ids_text
from exporter.primitives import CONFERENCE_ID_MAX, parse_conference_id

# --------------------------------------------------------------------------------------------
# The format


def test_separators_and_comments() -> None:
    text = "# conferences of the morning shift\n1029888, 1029889\n  7\t8 9,,10 # ten\n\n#11\n"
    assert parse_ids(text) == (frozenset({1029888, 1029889, 7, 8, 9, 10}), 0)


def test_duplicates_count_once() -> None:
    assert parse_ids("5\n5,5 05\n") == (frozenset({5}), 0)


@pytest.mark.parametrize(
    "token",
    ["²", "٣", "1٣", "\uff15", "0", "-5", "+5", "1.0", "1e3", "abc", "0x10", "1_000", "\ufffd"],
)
def test_tokens_the_config_refuses_are_skipped_and_counted(token: str) -> None:
    """Issue 15: "²".isdigit() passed, int("²") raised, the scrape failed and the old IDs
    stayed. Now "²" is one invalid token like any other."""
    with pytest.raises(ValueError, match="conference ID"):
        parse_conference_id(token)
    parsed = parse_ids_text(f"7\n{token}\n8\n")
    assert parsed.ids == frozenset({7, 8})
    assert parsed.invalid == 1
    assert parsed.first_invalid == token


def test_too_large_is_invalid() -> None:
    assert parse_ids(f"{CONFERENCE_ID_MAX}\n{CONFERENCE_ID_MAX + 1}\n{'9' * 5000}\n") == (
        frozenset({CONFERENCE_ID_MAX}),
        2,
    )


def test_first_invalid_is_the_first() -> None:
    assert parse_ids_text("x 1 y z").first_invalid == "x"


@given(st.lists(st.integers(1, CONFERENCE_ID_MAX), max_size=20), st.sampled_from(["\n", ",", " "]))
def test_any_list_of_ids_round_trips(ids: list[int], separator: str) -> None:
    assert parse_ids(separator.join(map(str, ids))) == (frozenset(ids), 0)


@given(st.text(max_size=60))
def test_any_text_gives_ids_the_config_would_accept(text: str) -> None:
    """Never an exception, and every ID found is one the config's `ids` would take too."""
    parsed = parse_ids_text(text)
    assert all(parse_conference_id(str(number)) == number for number in parsed.ids)
    assert parsed.invalid >= 0


# --------------------------------------------------------------------------------------------
# The watched file


def _touch_later(path: Path) -> None:
    """Move the modification time on, so the change is seen even on a coarse clock."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_missing_file_gives_no_ids_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.idsource")
    source = IdsFile(str(tmp_path / "ids"), gateway="gw")
    assert source.current() == frozenset()
    assert source.current() == frozenset()
    assert [r.message for r in caplog.records] == ["ids_file does not exist (yet); no IDs from it"]


def test_file_appearing_changing_and_disappearing(tmp_path: Path) -> None:
    path = tmp_path / "ids"
    source = IdsFile(str(path), gateway="gw")
    assert source.current() == frozenset()

    path.write_text("1\n2\n")
    assert source.current() == frozenset({1, 2})

    path.write_text("3\n")
    _touch_later(path)
    assert source.current() == frozenset({3})

    path.unlink()
    assert source.current() == frozenset()
    assert source.invalid == 0


def test_atomic_replace_of_the_same_size_and_time_is_seen(tmp_path: Path) -> None:
    """A side job writes a new file and renames it over the old one: a new inode."""
    path = tmp_path / "ids"
    path.write_text("1\n")
    source = IdsFile(str(path))
    assert source.current() == frozenset({1})
    new = tmp_path / "ids.new"
    new.write_text("2\n")
    st = path.stat()
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, path)
    assert source.current() == frozenset({2})


def test_unchanged_file_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ids"
    path.write_text("1\n")
    source = IdsFile(str(path))
    assert source.current() == frozenset({1})

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("read again")

    monkeypatch.setattr("builtins.open", no_reading)
    assert source.current() == frozenset({1})


def test_invalid_tokens_are_counted_and_logged_with_the_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.idsource")
    path = tmp_path / "ids"
    path.write_text("7\n²\n8 0\n")
    source = IdsFile(str(path), gateway="gw")
    assert source.current() == frozenset({7, 8})
    assert source.invalid == 2
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.kv == {  # type: ignore[attr-defined]
        "gateway": "gw",
        "path": str(path),
        "ids": 2,
        "invalid": 2,
        "first_invalid": '"²"',
    }


def test_not_utf8_bytes_are_invalid_tokens_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ids"
    path.write_bytes(b"7\n\xff\xfe\n8\n")
    source = IdsFile(str(path))
    assert source.current() == frozenset({7, 8})
    assert source.invalid == 1


def test_unreadable_file_keeps_the_last_good_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ids"
    path.write_text("1\n")
    source = IdsFile(str(path), gateway="gw")
    assert source.current() == frozenset({1})
    # A directory where the file was: stat works, reading does not (also as root).
    path.unlink()
    path.mkdir()
    assert source.current() == frozenset({1})
    assert "cannot read ids_file" in caplog.text
    # Once it is a file again, it is read.
    path.rmdir()
    path.write_text("4\n")
    assert source.current() == frozenset({4})
