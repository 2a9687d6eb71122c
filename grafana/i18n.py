"""The Chinese dashboards: the English ones, with every text a reader sees translated.

`to_chinese(board)` walks a dashboard built by grafana/build.py and replaces, through the table
in grafana/zh_cn.py, exactly the fields Grafana shows as text: titles, descriptions, legends,
value-mapping texts, column names, link titles, variable labels. Queries, units, colours,
layout and label values (gateway names, retcodes, `held`) stay as they are, so both sets show
the same data. The uids and file names get a language suffix, and the dashboards' links list the
dashboards of their own language.

A text without a translation is an error naming it (so an English change cannot ship half
translated); `python -m grafana.i18n` prints the texts still missing, ready to paste into the
table. Vendor terms follow the vendor's Chinese pages (cec_07_0485 and siblings): 会议, 与会者,
座席, 质检员, 签入/签出, 保持, 放音, 申请会议时长, 会议已进行时长, 主席, 错误码.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from grafana.zh_cn import ZH_CN

JSON = dict[str, Any]
LANGUAGE = "zh-CN"
UID_SUFFIX = "-zh-cn"


class MissingTranslation(KeyError):
    """Texts of a dashboard that the table does not translate."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing)
        self.missing = missing

    def __str__(self) -> str:
        listed = "\n".join(f"  {text!r}" for text in self.missing)
        return f"{len(self.missing)} text(s) without a translation in grafana/zh_cn.py:\n{listed}"


def _needs_translation(text: str) -> bool:
    """Texts with a letter outside placeholders: `{{gateway}}` alone or "" need none."""
    bare = re.sub(r"\{\{\s*\w+\s*\}\}|\$\{?\w+\}?", "", text)
    return bool(re.search(r"[A-Za-z]", bare))


def _texts(board: JSON, change: Callable[[str], str]) -> None:
    """Apply `change` to every displayed text of `board`, in place."""

    def mapping_texts(mappings: list[JSON]) -> None:
        for mapping in mappings:
            for option in mapping.get("options", {}).values():
                if isinstance(option, dict) and option.get("text"):
                    option["text"] = change(option["text"])

    def panel(node: JSON) -> None:
        for key in ("title", "description"):
            if node.get(key):
                node[key] = change(node[key])
        for target in node.get("targets", []):
            legend = target.get("legendFormat", "")
            if legend and legend != "__auto":
                target["legendFormat"] = change(legend)
        field_config = node.get("fieldConfig", {})
        mapping_texts(field_config.get("defaults", {}).get("mappings", []))
        for item in field_config.get("overrides", []):
            matcher = item.get("matcher", {})
            if matcher.get("id") == "byName":  # a column renamed below
                matcher["options"] = change(matcher["options"])
            for prop in item.get("properties", []):
                if prop["id"] == "mappings":
                    mapping_texts(prop["value"])
                elif prop["id"] == "links":
                    for link in prop["value"]:
                        link["title"] = change(link["title"])
                elif prop["id"] == "displayName":
                    prop["value"] = change(prop["value"])
        for transformation in node.get("transformations", []):
            renamed = transformation.get("options", {}).get("renameByName", {})
            for column, name in renamed.items():
                renamed[column] = change(name)
        for sort in node.get("options", {}).get("sortBy", []):
            sort["displayName"] = change(sort["displayName"])
        for child in node.get("panels", []):
            panel(child)

    for key in ("title", "description"):
        if board.get(key):
            board[key] = change(board[key])
    for link in board.get("links", []):
        link["title"] = change(link["title"])
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("label"):
            variable["label"] = change(variable["label"])
    for node in board.get("panels", []):
        panel(node)


def displayed_texts(board: JSON) -> Iterator[str]:
    """Every text of `board` that a translation must cover."""
    seen: list[str] = []

    def record(text: str) -> str:
        if _needs_translation(text):
            seen.append(text)
        return text

    _texts(copy.deepcopy(board), record)
    yield from seen


def translate(board: JSON, table: Mapping[str, str], language: str, uid_suffix: str) -> JSON:
    """A translated copy of `board`; MissingTranslation lists every text the table lacks."""
    translated = copy.deepcopy(board)
    missing: list[str] = []

    def change(text: str) -> str:
        if not _needs_translation(text):
            return text
        if text not in table:
            missing.append(text)
            return text
        return table[text]

    _texts(translated, change)
    if missing:
        raise MissingTranslation(sorted(set(missing)))
    english_uid = translated["uid"]
    translated["uid"] = english_uid + uid_suffix
    translated["tags"] = [language if tag == "en" else tag for tag in translated["tags"]]
    for link in translated.get("links", []):
        link["tags"] = [language if tag == "en" else tag for tag in link.get("tags", [])]
    _retarget_links(translated, uid_suffix)
    return translated


def _retarget_links(board: JSON, uid_suffix: str) -> None:
    """Data links to another ccgw dashboard (`/d/<uid>?...`) point at its translation."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            url = node.get("url")
            if isinstance(url, str):
                node["url"] = re.sub(r"^/d/(ccgw-[a-z-]+)\?", rf"/d/\1{uid_suffix}?", url)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(board.get("panels", []))


def to_chinese(board: JSON) -> JSON:
    return translate(board, ZH_CN, LANGUAGE, UID_SUFFIX)


def main() -> int:
    """Print the texts of the English dashboards that grafana/zh_cn.py does not translate."""
    from grafana.build import ENGLISH  # build imports this module: import when run

    missing = sorted(
        {
            text
            for build in ENGLISH.values()
            for text in displayed_texts(build())
            if text not in ZH_CN
        }
    )
    for text in missing:
        print(f"    {text!r}: ,")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
