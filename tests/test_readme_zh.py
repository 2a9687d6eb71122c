"""README.zh-CN.md stays in step with README.md.

The Chinese README is a translation for contact-center operators, so prose may differ freely;
what a reader types or looks up may not. Each check below compares one kind of fact between the
two files and names what the Chinese file lacks (or still has after README.md dropped it):
sections, commands, code blocks, inline code, flags, config keys, metrics, alerts, retcodes,
vendor page ids, links, figures, and the generated metrics reference. The last tests feed the
checks a README.md that gained a flag, a key, a metric, a command, a section or a new figure,
and require each to be caught.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EN = (ROOT / "README.md").read_text(encoding="utf-8")
ZH = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")

#: Put before a code block of the Chinese README whose explanations are translated (a diagram,
#: a file tree): it must keep every identifier of its English block, not every word.
TRANSLATED_BLOCK = "<!-- translated-block -->"
#: Put before each `##`/`###` heading of the Chinese README: the GitHub anchor of its English
#: heading, so the sections pair up whatever their Chinese titles.
SECTION = re.compile(r"<!-- section: ([^ ]+) -->\n(#{2,3}) ")


# ---------------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, its text, and whether it is marked translated."""

    lang: str
    text: str
    translated: bool


FENCE = re.compile(r"^(<!-- translated-block -->\n(?:<!--[^\n]*-->\n)*)?```([^\n`]*)\n(.*?)^```$",
                   re.M | re.S)  # fmt: skip


def blocks(text: str) -> list[Block]:
    return [Block(m.group(2).strip(), m.group(3), m.group(1) is not None)
            for m in FENCE.finditer(text)]  # fmt: skip


def prose(text: str) -> str:
    """The text without its fenced code blocks (their lines could look like headings)."""
    return re.sub(r"^```[^\n]*\n.*?^```$", "", text, flags=re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation (ASCII or full-width) dropped,
    spaces to hyphens; letters of any script kept."""
    kept = []
    for char in heading.strip().lower():
        category = unicodedata.category(char)
        if char in " -" or category[0] in "LMN" or category == "Pc":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, anchor) of every `##` and `###` heading, in order."""
    return [(len(m.group(1)), slug(m.group(2)))
            for m in re.finditer(r"^(#{2,3}) (.+)$", prose(text), re.M)]  # fmt: skip


def inline_code(text: str) -> set[str]:
    """Every inline code span outside code blocks, whitespace collapsed (spans wrap lines)."""
    spans = re.findall(r"(?<!`)`([^`]+)`(?!`)", prose(text))
    return {" ".join(span.split()) for span in spans}


def without_reference(text: str) -> str:
    return re.sub(r"<!-- metrics-reference:begin -->.*?<!-- metrics-reference:end -->", "",
                  text, flags=re.S)  # fmt: skip


def tokens(pattern: str, text: str) -> set[str]:
    return set(re.findall(pattern, text))


def shell_lines(block: Block) -> list[str]:
    """A shell block's commands: comments (which may be translated) and spacing dropped."""
    lines = (re.sub(r"(^|\s+)#\s.*$", "", line) for line in block.text.splitlines())
    return [" ".join(line.split()) for line in lines if line.strip()]


IDENTIFIER = re.compile(r"[A-Za-z_][\w.:/\-\[\]{}()*]*[\w\])]", re.ASCII)


def identifiers(text: str) -> set[str]:
    """Words of a diagram that are code: file names, methods, keys, calls and headers (they
    hold `.`, `_`, `/`, `(`, or a capital inside); plain English words such as `stand-in` are
    not. Chinese characters end a word."""
    found = set()
    for token in IDENTIFIER.findall(text):
        while token.endswith(")") and token.count(")") > token.count("("):
            token = token[:-1]
        if re.search(r"[._/(\[]|[a-z][A-Z]|-[A-Z]", token):
            found.add(token)
    return found


def numbers(text: str) -> set[str]:
    """Every figure written with digits, Chinese characters around it or not."""
    return tokens(r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)*(?![A-Za-z0-9_])", text)


def link_targets(text: str) -> set[str]:
    """Targets of Markdown and angle-bracket links, in-page anchors left out."""
    found = set(re.findall(r"\]\(([^)\s]+)\)", text)) | set(re.findall(r"<(https?://[^>]+)>", text))
    return {t for t in found if not t.startswith("#")}


def table_rows(text: str) -> list[list[str]]:
    """Cells of every table row (header and separator rows included), per row."""
    rows = []
    for line in prose(text).splitlines():
        if line.startswith("|") and line.rstrip().endswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            rows.append([c.strip() for c in cells])
    return rows


# ---------------------------------------------------------------------------------- checks
def set_drift(what: str, en: set[str], zh: set[str], *, extra_ok: bool = False) -> list[str]:
    problems = [f"{what} missing from README.zh-CN.md: {x}" for x in sorted(en - zh)]
    if not extra_ok:
        problems += [f"{what} in README.zh-CN.md but not in README.md: {x}"
                     for x in sorted(zh - en)]  # fmt: skip
    return problems


def check_sections(en: str, zh: str) -> list[str]:
    want = headings(en)
    have = [(len(level), anchor) for anchor, level in SECTION.findall(zh)]
    if want == have:
        unmarked = len(headings(zh)) - len(have)
        return [f"{unmarked} heading(s) of README.zh-CN.md lack a section comment"] * bool(unmarked)
    return [f"sections differ: README.md has {want}, README.zh-CN.md marks {have}"]


def check_anchors(en: str, zh: str) -> list[str]:
    """Every in-page link of the Chinese README lands on one of its own headings."""
    del en
    own = {anchor for _, anchor in headings(zh)}
    return [f"README.zh-CN.md links to #{a}, which is none of its headings"
            for a in sorted(tokens(r"\]\(#([^)]+)\)", zh) - own)]  # fmt: skip


def check_blocks(en: str, zh: str) -> list[str]:
    want, have = blocks(en), blocks(zh)
    if [b.lang for b in want] != [b.lang for b in have]:
        return [f"code blocks differ: README.md {[b.lang for b in want]}, "
                f"README.zh-CN.md {[b.lang for b in have]}"]  # fmt: skip
    problems = []
    for number, (a, b) in enumerate(zip(want, have, strict=True), 1):
        where = f"code block {number} ({a.lang or 'text'})"
        if a.lang in ("sh", "bash"):
            if shell_lines(a) != shell_lines(b):
                problems.append(f"{where}: commands {shell_lines(a)} != {shell_lines(b)}")
        elif a.lang == "yaml":
            if yaml.safe_load(a.text) != yaml.safe_load(b.text):
                problems.append(f"{where}: YAML differs (only comments may be translated)")
        elif b.translated:
            lost = identifiers(a.text) - identifiers(b.text)
            if lost:
                problems.append(f"{where}: translated block lost {sorted(lost)}")
        elif a.text != b.text:
            problems.append(f"{where}: differs (mark it {TRANSLATED_BLOCK} if translated)")
    return problems


def check_inline_code(en: str, zh: str) -> list[str]:
    return set_drift("inline code", inline_code(en), inline_code(zh), extra_ok=True)


def check_commands(en: str, zh: str) -> list[str]:
    """Commands written inline (`make demo DEMO_ADDR=...`, `python -m exporter.metrics`)."""
    starts = ("make", "ccgw-exporter", "ccgw-gateway-sim", "python", "pip", "promtool",
              "amtool", "apt-get", "openssl", "docker-compose", "kubernetes-validate")  # fmt: skip

    def commands(text: str) -> set[str]:
        return {c for c in inline_code(text) if c.split(" ")[0] in starts}

    return set_drift("command", commands(en), commands(zh))


def check_flags(en: str, zh: str) -> list[str]:
    pattern = r"(?<![\w-])--[a-z][a-z0-9.-]*[a-z0-9]"
    return set_drift("flag", tokens(pattern, en), tokens(pattern, zh))


def check_config_keys(en: str, zh: str) -> list[str]:
    def keys(text: str) -> list[str]:
        return re.findall(r"^\| `((?:gateways|web)[\w\[\].]*)`", text, re.M)

    want, have = keys(en), keys(zh)
    if want != have:
        return set_drift("config key", set(want), set(have)) or [
            f"config keys in another order: {have}"
        ]
    return []


def check_metrics(en: str, zh: str) -> list[str]:
    pattern = r"\b(?:ccgw|process)_[a-z0-9_]*[a-z0-9*]"
    return set_drift("metric", tokens(pattern, en), tokens(pattern, zh))


def check_alerts(en: str, zh: str) -> list[str]:
    pattern = r"\bCcgw[A-Z]\w+"
    return set_drift("alert", tokens(pattern, en), tokens(pattern, zh))


def check_retcodes(en: str, zh: str) -> list[str]:
    pattern = r"\b\d{3}-\d{3}\b"
    return set_drift("retcode", tokens(pattern, en), tokens(pattern, zh))


def check_vendor_pages(en: str, zh: str) -> list[str]:
    pattern = r"\bcec_\d\d_\d{4}\b"
    return set_drift("vendor page id", tokens(pattern, en), tokens(pattern, zh))


def check_links(en: str, zh: str) -> list[str]:
    return set_drift("link", link_targets(en) - {"README.zh-CN.md"},
                     link_targets(zh) - {"README.md"})  # fmt: skip


def check_figures(en: str, zh: str) -> list[str]:
    """Measured figures, limits and defaults: each number of README.md is in the Chinese one
    (which may add some, e.g. a month written as a number)."""
    return set_drift("number", numbers(without_reference(en)), numbers(without_reference(zh)),
                     extra_ok=True)  # fmt: skip


def check_tables(en: str, zh: str) -> list[str]:
    """Same tables row for row; a first cell that is code is the same code."""
    want, have = table_rows(en), table_rows(zh)
    if len(want) != len(have):
        return [f"table rows: README.md has {len(want)}, README.zh-CN.md {len(have)}"]
    problems = []
    for a, b in zip(want, have, strict=True):
        if len(a) != len(b):
            problems.append(f"table row {a[0]!r}: {len(a)} cells, Chinese row {len(b)}")
        elif a[0].startswith("`") and a[0] != b[0]:
            problems.append(f"table row {a[0]!r} is {b[0]!r} in README.zh-CN.md")
    return problems


def check_reference(en: str, zh: str) -> list[str]:
    pattern = r"<!-- metrics-reference:begin -->\n.*?<!-- metrics-reference:end -->"
    a, b = re.search(pattern, en, re.S), re.search(pattern, zh, re.S)
    if not (a and b):
        return ["metrics reference markers missing"]
    return [] if a.group(0) == b.group(0) else ["metrics reference differs from README.md's"]


def check_cross_links(en: str, zh: str) -> list[str]:
    problems = []
    if "](README.zh-CN.md)" not in "\n".join(en.splitlines()[:5]):
        problems.append("README.md does not link README.zh-CN.md near its top")
    if "](README.md)" not in "\n".join(zh.splitlines()[:5]):
        problems.append("README.zh-CN.md does not link README.md near its top")
    return problems


def check_vendor_terms(en: str, zh: str) -> list[str]:
    """The vendor's Chinese pages write 座席 (not 坐席), 质检员, 签入, 会议 (cec_07_0485,
    cec_07_1202)."""
    del en
    problems = ["README.zh-CN.md writes 坐席: the vendor writes 座席"] if "坐席" in zh else []
    return problems + [f"README.zh-CN.md never says {t}" for t in ("座席", "质检员", "签入", "会议")
                       if t not in zh]  # fmt: skip


CHECKS: dict[str, Callable[[str, str], list[str]]] = {
    "sections": check_sections,
    "anchors": check_anchors,
    "code blocks": check_blocks,
    "inline code": check_inline_code,
    "commands": check_commands,
    "flags": check_flags,
    "config keys": check_config_keys,
    "metrics": check_metrics,
    "alerts": check_alerts,
    "retcodes": check_retcodes,
    "vendor pages": check_vendor_pages,
    "links": check_links,
    "figures": check_figures,
    "tables": check_tables,
    "metrics reference": check_reference,
    "links between the two": check_cross_links,
    "vendor terms": check_vendor_terms,
}


def drift(en: str, zh: str) -> list[str]:
    return [problem for check in CHECKS.values() for problem in check(en, zh)]


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", CHECKS)
def test_chinese_readme_is_in_step(name: str) -> None:
    problems = CHECKS[name](EN, ZH)
    assert not problems, "README.zh-CN.md drifted from README.md:\n" + "\n".join(problems)


def test_the_reference_block_is_found_in_both() -> None:
    assert "<!-- metrics-reference:begin -->" in ZH
    assert len(blocks(EN)) >= 10
    assert len(headings(EN)) >= 20


def _insert_before(text: str, marker: str, addition: str) -> str:
    assert marker in text
    return text.replace(marker, addition + marker, 1)


def _bump_first_figure(en: str, section: str) -> str:
    """A measured figure of `section` changed, as when the benchmarks are run again."""
    start = en.index(section)
    match = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])").search(en, start)
    assert match
    return en[: match.end()] + "7" + en[match.end() :]


MUTATIONS: dict[str, Callable[[str], str]] = {
    "a new flag": lambda en: _insert_before(
        en, "| `--version` |", "| `--web.new-thing` | | a flag the Chinese file lacks |\n"
    ),
    "a new config key": lambda en: _insert_before(
        en, "\nRelative paths resolve", "| `gateways[].new_key` | bool | `false` | new |\n"
    ),
    "a new metric in prose": lambda en: _insert_before(
        en, "### Conference activity\n", "`ccgw_new_metric` counts.\n\n"
    ),
    "a new command line": lambda en: en.replace("```sh\n", "```sh\nmake new-target\n", 1),
    "a new inline command": lambda en: en.replace(
        "Stop it with Ctrl-C.", "Stop it with Ctrl-C or `make stop-demo`.", 1
    ),
    "a new section": lambda en: _insert_before(en, "## Development\n", "## Upgrading\n\nText.\n\n"),
    "a new performance figure": lambda en: _bump_first_figure(en, "## Performance\n"),
    "a new reliability figure": lambda en: _bump_first_figure(en, "## Reliability\n"),
    "a new test timing": lambda en: _bump_first_figure(en, "## Development\n"),
    "a new retcode": lambda en: _insert_before(en, "| `100-003` |", "| `100-019` | new | new |\n"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_change_to_the_english_readme_is_caught(name: str) -> None:
    changed = MUTATIONS[name](EN)
    assert changed != EN, f"mutation {name!r} did not apply: update it to README.md"
    assert drift(changed, ZH), f"README.md gained {name} and the checks did not notice"
