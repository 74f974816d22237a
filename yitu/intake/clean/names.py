"""姓名 cleaning and phonetic keys.

Rules, in order: NFKC (full-width letters and compatibility ideographs), a bracketed remark
("张三（已故）") dropped, every middle-dot look-alike (• ‧ ・ ． . ∙ ⋅) to U+00B7 "·" as on ID
cards for minority and foreign names, all whitespace removed from Chinese names (U+3000 too;
Latin names keep single spaces and go upper case), then each character traditional →
simplified (OpenCC ``t2s``, character by character so no phrase rewriting touches a name) and
the 异体字 OpenCC leaves alone to their standard form. Characters the 2013 通用规范汉字表
keeps for names (乾, 喆, 堃, 甯 …) stay as written.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import opencc
from pypinyin import lazy_pinyin

from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, nfkc, single_spaces, squeeze

FIELD = "name"
DOT = "\u00b7"
PLACEHOLDERS = frozenset({"无", "不详", "未知", "空", "-", "--", "/", "NULL", "NONE", "N/A", "NA"})
_REMARK = re.compile(r"[(\[（【［].*?[)\]）】］]")
_DOTS = re.compile(r"[\u00b7\u2022\u2027\u30fb\uff65\u2219\u22c5\u0387\u002e\uff0e\u2024\u16eb]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")
_CHINESE_NAME = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]+"
    r"(?:\u00b7[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]+)*"
)
_LATIN_NAME = re.compile(r"[A-Z]+(?:[ \u00b7'-][A-Z]+)*")
# 异体字 (第一批异体字整理表) seen in names that OpenCC t2s does not convert.
VARIANTS = {
    "凖": "准",
    "寗": "宁",
    "衞": "卫",
    "囘": "回",
    "囬": "回",
    "秊": "年",
    "靑": "青",
    "荘": "庄",
    "姪": "侄",
    "眞": "真",
    "敎": "教",
    "兾": "冀",
    "峯": "峰",
    "羣": "群",
    "甞": "尝",
    "鬪": "斗",
    "菓": "果",
    "綫": "线",
    "冩": "写",
    "恠": "怪",
}
# OpenCC maps these to another character, but in names they are standard simplified forms.
KEEP = frozenset("乾於甯喆堃淼昇甦陞邨")
_t2s = opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def simplify_char(char: str) -> str:
    """One character to its standard simplified form (a fixpoint: applying it twice is once)."""
    if char in KEEP or not _CJK.fullmatch(char):
        return char
    seen = char
    for _ in range(3):
        nxt = VARIANTS.get(seen) or _t2s.convert(seen)
        if len(nxt) != 1 or nxt == seen or nxt in KEEP:
            return nxt if len(nxt) == 1 else seen
        seen = nxt
    return seen


def _issue(code: str, message: str) -> Issue:
    return Issue(FIELD, code, message)


@lru_cache(maxsize=1 << 18)
def clean_name(raw: str | None) -> Cleaned[str]:
    """Canonical name or None with ``name_missing`` / ``name_format``; informational
    ``name_variant`` (traditional or variant characters changed) and ``name_remark``."""
    if blank(raw) or squeeze(nfkc(str(raw))).upper() in PLACEHOLDERS:
        return Cleaned(None, (_issue("name_missing", "name is missing"),))
    issues: list[Issue] = []
    text = nfkc(str(raw))
    stripped = _REMARK.sub("", text)
    if stripped != text:
        issues.append(_issue("name_remark", "bracketed remark removed from the name"))
        text = stripped
    text = _DOTS.sub(DOT, text)
    if _CJK.search(text):
        text = squeeze(text)
        simple = "".join(simplify_char(c) for c in text)
        if simple != text:
            issues.append(_issue("name_variant", "traditional or variant characters simplified"))
        text = simple
        # A dot next to a space or at an end is noise; two dots are one.
        text = re.sub(DOT + "+", DOT, text).strip(DOT)
        if not _CHINESE_NAME.fullmatch(text):
            return _bad(issues, "name holds characters other than Chinese characters and '·'")
        if len(text.replace(DOT, "")) < 2:
            return _bad(issues, "a Chinese name has at least two characters")
        if len(text) > 30:
            return _bad(issues, "name is longer than 30 characters")
        return Cleaned(text, tuple(issues))
    text = single_spaces(text).upper().strip(DOT + " ")
    text = re.sub(r"\s*" + DOT + r"\s*", DOT, text)
    if not text:
        return Cleaned(None, (*issues, _issue("name_missing", "name is missing")))
    if not _LATIN_NAME.fullmatch(text) or len(text) > 60:
        return _bad(issues, "name holds characters other than letters, spaces and '·'")
    return Cleaned(text, tuple(issues))


def _bad(issues: list[Issue], message: str) -> Cleaned[str]:
    return Cleaned(None, (*issues, _issue("name_format", message)))


# Dialect-tolerant folding (湖北话 mixes n/l and front/back nasals; zh/ch/sh vs z/c/s).
_LOOSE = (
    (re.compile(r"^(z|c|s)h"), r"\1"),
    (re.compile(r"^l"), "n"),
    (re.compile(r"(a|e|i)ng$"), r"\1n"),
)


def _latin(text: str) -> list[str]:
    return [c.lower() for c in text if c.isalpha()]


@cache
def _syllables(char: str) -> tuple[str, ...]:
    """One character's toneless reading (its most common one); a Latin letter, lower case."""
    return tuple(lazy_pinyin(char, errors=_latin))


@lru_cache(maxsize=1 << 18)
def name_key(name: str, loose: bool = False) -> str:
    """Pinyin without tones, lower case, no separators: 张伟 and 章伟 → "zhangwei".
    ``loose`` also folds zh/z, ch/c, sh/s, l/n and -ng/-n (章 and 赞 stay apart; 刘 and 牛 meet).
    Latin names: letters only, lower case.
    Each character is read on its own (a name is not a phrase): the same characters give the
    same key in any name, as the homophones a clerk types are chosen character by character;
    and a character's reading is looked up once, not segmented again in every name (pinyin
    by phrase was a quarter of the cleaning time of a county's people)."""
    syllables = [s for c in name.replace(DOT, "") for s in _syllables(c)]
    if loose:
        folded = []
        for s in syllables:
            for pattern, repl in _LOOSE:
                s = pattern.sub(repl, s)
            folded.append(s)
        syllables = folded
    return "".join(syllables)
