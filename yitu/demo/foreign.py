"""境外人员 identities: nationality, passport-style names, and document numbers.

Two kinds of number go into ``people.id_number`` for a foreign resident:

* 外国人永久居留身份证 (2023 edition, issued since 2023-12-01; the 2017 edition's number was
  15 characters, 3 letters + 12 digits): 18 characters, built like a citizen number so the same
  GB 11643 (MOD 11-2) check applies: ``9`` (foreigner) + 2-digit province of issue (42 湖北) +
  3-digit nationality (GB/T 2659 numeric) + birth date YYYYMMDD + 3-digit order (odd = male) +
  check character;
* otherwise the passport number, in the issuing country's usual shape (letters and digits,
  7–10 characters; no check digit is public for most, so none is modelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROVINCE_OF_ISSUE = "42"  # 湖北省
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = "10X98765432"
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # passport series avoid I and O
_DE = "CFGHJKLMNPRTVWXYZ0123456789"  # German passport alphabet


@dataclass(frozen=True)
class Nationality:
    iso: str  # ISO 3166-1 alpha-3
    numeric: int  # GB/T 2659 / ISO 3166-1 numeric
    name: str  # Chinese name, what 户籍地/国籍 shows
    passport: str  # pattern: '#' digit, '@' letter, '%' German alphabet, others literal
    surnames: tuple[str, ...]
    male: tuple[str, ...]
    female: tuple[str, ...]


_SEA_F = ("MALY", "NOY", "SOMPHONE", "DAVONE", "KHAM")
NATIONALITIES = {
    n.iso: n
    for n in (
        Nationality(
            "VNM",
            704,
            "越南",
            "C#######",
            ("NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "PHAN", "VU", "DANG", "BUI", "DO"),
            ("VAN HUNG", "VAN NAM", "MINH TUAN", "DUC ANH", "VAN LONG"),
            ("THI LAN", "THI HOA", "THI HUONG", "THI MAI", "THI LINH", "THI THU", "NGOC ANH"),
        ),
        Nationality(
            "LAO",
            418,
            "老挝",
            "P#######",
            ("PHOMMACHANH", "SOUVANNAVONG", "KEOMANY", "VONGSA", "INTHAVONG"),
            ("SOMSAK", "BOUNMY", "KHAMPHOUI"),
            _SEA_F,
        ),
        Nationality(
            "MMR",
            104,
            "缅甸",
            "M@######",
            ("",),
            ("AUNG KYAW", "ZAW MIN", "KO KO"),
            ("AYE AYE", "THIN THIN", "SU MYAT", "MAY THU"),
        ),
        Nationality(
            "KHM",
            116,
            "柬埔寨",
            "N#######",
            ("SOK", "CHAN", "KIM", "LIM", "HENG"),
            ("DARA", "VIBOL", "SAMNANG"),
            ("SREYMOM", "CHANTHA", "BOPHA", "SOKHA"),
        ),
        Nationality(
            "PHL",
            608,
            "菲律宾",
            "P#######@",
            ("SANTOS", "REYES", "CRUZ", "BAUTISTA", "GARCIA"),
            ("JOSE", "MARK", "JOHN PAUL"),
            ("MARIA", "ANGELICA", "KRISTINE", "JOY"),
        ),
        Nationality(
            "KOR",
            410,
            "韩国",
            "M########",
            ("KIM", "LEE", "PARK", "CHOI", "JUNG", "KANG", "CHO"),
            ("MINJUN", "JIHOON", "HYUNWOO", "SUNGMIN"),
            ("SEOYEON", "JIYOUNG", "MINJI", "EUNJI"),
        ),
        Nationality(
            "JPN",
            392,
            "日本",
            "@@#######",
            ("SATO", "SUZUKI", "TAKAHASHI", "TANAKA", "WATANABE", "ITO"),
            ("HARUTO", "KENJI", "TAKESHI", "HIROSHI"),
            ("YUI", "AKIKO", "YUKI", "MEGUMI"),
        ),
        Nationality(
            "USA",
            840,
            "美国",
            "#########",
            ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "MILLER"),
            ("JAMES", "MICHAEL", "DAVID", "ROBERT"),
            ("EMILY", "SARAH", "JESSICA", "LAURA"),
        ),
        Nationality(
            "GBR",
            826,
            "英国",
            "#########",
            ("TAYLOR", "DAVIES", "EVANS", "WILSON", "THOMAS"),
            ("OLIVER", "GEORGE", "HARRY"),
            ("AMELIA", "OLIVIA", "EMMA"),
        ),
        Nationality(
            "CAN",
            124,
            "加拿大",
            "@@######",
            ("TREMBLAY", "MARTIN", "ROY", "CAMPBELL"),
            ("LIAM", "NOAH", "ETHAN"),
            ("CHLOE", "ZOE", "CHARLOTTE"),
        ),
        Nationality(
            "AUS",
            36,
            "澳大利亚",
            "@#######",
            ("NGUYEN", "WHITE", "RYAN", "KELLY"),
            ("JACK", "WILLIAM"),
            ("ISLA", "MIA"),
        ),
        Nationality(
            "PAK",
            586,
            "巴基斯坦",
            "@@#######",
            ("KHAN", "AHMED", "ALI", "HUSSAIN", "RAZA"),
            ("MUHAMMAD BILAL", "USMAN", "HAMZA"),
            ("AYESHA", "FATIMA", "SANA"),
        ),
        Nationality(
            "IND",
            356,
            "印度",
            "@#######",
            ("SHARMA", "PATEL", "SINGH", "KUMAR", "REDDY"),
            ("RAHUL", "AMIT", "VIKRAM"),
            ("PRIYA", "ANANYA", "DEEPIKA"),
        ),
        Nationality(
            "RUS",
            643,
            "俄罗斯",
            "#########",
            ("IVANOV", "SMIRNOV", "KUZNETSOV", "POPOV", "SOKOLOV"),
            ("ALEXEI", "DMITRI", "SERGEI"),
            ("OLGA", "ANNA", "TATIANA", "ELENA"),
        ),
        Nationality(
            "DEU",
            276,
            "德国",
            "C%%%%%%%%",
            ("MUELLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER"),
            ("LUKAS", "JONAS", "FELIX"),
            ("HANNAH", "LENA", "SOPHIE"),
        ),
    )
}
# Who comes: marriage migrants (mostly from South-East Asia) and professionals (teachers,
# engineers of the county's joint ventures, traders).
SPOUSE_ORIGIN = {"VNM": 0.6, "LAO": 0.12, "MMR": 0.1, "KHM": 0.1, "PHL": 0.08}
WORKER_ORIGIN = {
    "KOR": 0.22,
    "JPN": 0.1,
    "USA": 0.14,
    "GBR": 0.08,
    "CAN": 0.05,
    "AUS": 0.04,
    "PAK": 0.1,
    "IND": 0.07,
    "RUS": 0.08,
    "DEU": 0.06,
    "PHL": 0.06,
}


def pick(origin: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    keys = list(origin)
    p = np.array([origin[k] for k in keys])
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def latin_names(iso: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Passport-style names, surname first (as the 境外人员住宿登记 records them)."""
    out = []
    for code, m in zip(iso.tolist(), male.tolist(), strict=True):
        nat = NATIONALITIES[code]
        given = nat.male if m else nat.female
        sur = nat.surnames[rng.integers(len(nat.surnames))]
        out.append(f"{sur} {given[rng.integers(len(given))]}".strip())
    return np.array(out, dtype=object)


def passport_numbers(iso: np.ndarray, rng: np.random.Generator) -> list[str]:
    out = []
    for code in iso.tolist():
        chars = []
        for c in NATIONALITIES[code].passport:
            if c == "#":
                chars.append(str(rng.integers(10)))
            elif c == "@":
                chars.append(_LETTERS[rng.integers(len(_LETTERS))])
            elif c == "%":
                chars.append(_DE[rng.integers(len(_DE))])
            else:
                chars.append(c)
        out.append("".join(chars))
    return out


def residence_numbers(
    iso: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """2023-edition permanent residence card numbers (see the module docstring)."""
    out = []
    for code, b, m in zip(iso.tolist(), birth.astype(str).tolist(), male.tolist(), strict=True):
        order = int(rng.integers(0, 500)) * 2 + (1 if m else 0)
        body = f"9{PROVINCE_OF_ISSUE}{NATIONALITIES[code].numeric:03d}{b.replace('-', '')}"
        body += f"{order:03d}"
        digits = np.array([int(c) for c in body])
        out.append(body + _CHECK[int(digits @ _WEIGHTS) % 11])
    return out


def document_numbers(
    iso: np.ndarray,
    birth: np.ndarray,
    male: np.ndarray,
    resident: np.ndarray,
    taken: set[str],
    rng: np.random.Generator,
) -> np.ndarray:
    """A permanent residence number where ``resident``, else a passport number; unique among
    themselves and against ``taken`` (drawn again on a clash)."""
    out = np.empty(len(iso), dtype=object)
    todo = np.arange(len(iso))
    seen = set(taken)
    while len(todo):
        pr = resident[todo]
        nums = np.empty(len(todo), dtype=object)
        nums[pr] = residence_numbers(iso[todo][pr], birth[todo][pr], male[todo][pr], rng)
        nums[~pr] = passport_numbers(iso[todo][~pr], rng)
        again = []
        for i, num in zip(todo.tolist(), nums.tolist(), strict=True):
            if num in seen:
                again.append(i)
            else:
                seen.add(num)
                out[i] = num
        todo = np.array(again, dtype=np.int64)
    return out
