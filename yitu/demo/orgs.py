"""Organisations (实有单位) with valid 统一社会信用代码, and their people
(法定代表人, 负责人, 内保负责人, 从业人员)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yitu.demo.names import (
    ENTERPRISE_TRADES,
    FIRM_WORDS,
    GOVERNMENT_DEPARTMENTS,
    HOME_REGION,
    SHOP_TRADES,
    SURNAMES,
)
from yitu.registry.codes import credit_check_char

# kind -> (登记管理部门码 + 机构类别码)
CODE_PREFIX = {
    "government": "11",
    "public_institution": "12",
    "enterprise": "91",
    "individual_business": "92",
    "social_organisation": "51",
    "other": "93",
}
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def org_code_check(body8: np.ndarray) -> np.ndarray:
    """GB 11714 组织机构代码 check character of 8-digit bodies (values 0-99999999)."""
    digits = np.column_stack([body8 // 10**k % 10 for k in range(7, -1, -1)])
    c = 11 - (digits @ _ORG_WEIGHTS) % 11
    return np.where(c == 10, "X", np.where(c == 11, "0", c.astype(str)))


def credit_codes(kinds: list[str], rng: np.random.Generator) -> list[str]:
    raw = rng.integers(10_000_000, 99_999_999, int(len(kinds) * 1.05) + 8)
    _, first = np.unique(raw, return_index=True)
    body = raw[np.sort(first)][: len(kinds)]
    check = org_code_check(body)
    out = []
    for kind, b, c in zip(kinds, body.tolist(), check.tolist(), strict=True):
        first17 = f"{CODE_PREFIX[kind]}{HOME_REGION}{b:08d}{c}"
        out.append(first17 + credit_check_char(first17))
    return out


@dataclass
class Orgs:
    name: list[str]
    kind: list[str]
    industry: list[str]
    building: np.ndarray
    employees: np.ndarray
    credit_code: list[str]
    # relations
    rel_org: np.ndarray
    rel_person: np.ndarray
    rel_kind: list[str]
    rel_since: np.ndarray  # days before today


def make_orgs(
    factor: float,
    use: np.ndarray,
    town_of_b: np.ndarray,
    village_of_b: np.ndarray,
    kind_of_b: np.ndarray,
    town_names: list[str],
    village_names: list[str],
    street_towns: set[int],
    adult_people: np.ndarray,
    rng: np.random.Generator,
) -> Orgs:
    name: list[str] = []
    kind: list[str] = []
    industry: list[str] = []
    building: list[int] = []
    employees: list[int] = []

    def pick(mask: np.ndarray, n: int) -> np.ndarray:
        cands = np.flatnonzero(mask)
        if not len(cands) or n <= 0:
            return np.zeros(0, np.int64)
        return cands[rng.integers(0, len(cands), n)]

    def add(names: list[str], k: str, ind: list[str], bld: np.ndarray, emp: np.ndarray) -> None:
        m = len(bld)
        name.extend(names[:m])
        kind.extend([k] * m)
        industry.extend(ind[:m])
        building.extend(bld.tolist())
        employees.extend(emp.tolist())

    public = np.isin(use, ["public", "office"])
    urban_b = kind_of_b <= 2
    non_street = ~np.isin(town_of_b, list(street_towns))
    # 机关: county departments in the core, one office per town/street at its seat.
    bld = pick(public & urban_b, len(GOVERNMENT_DEPARTMENTS))
    add(
        [f"老河口市{d}" for d in GOVERNMENT_DEPARTMENTS],
        "government",
        ["公共管理"] * len(bld),
        bld,
        rng.integers(30, 220, len(bld)),
    )
    for ti, tname in enumerate(town_names):
        here = town_of_b == ti
        bld = pick(here & (public | (use == "office")), 1)
        if not len(bld):
            bld = pick(here & (use != "residential"), 1)
        if not len(bld):
            bld = pick(here, 1)
        suffix = "办事处" if tname.endswith("街道") else "人民政府"
        add(
            [f"老河口市{tname}{suffix}"],
            "government",
            ["公共管理"],
            bld,
            rng.integers(40, 120, len(bld)),
        )
        # 卫生院 and 中心小学 in each town.
        bld = pick(here & (use != "residential"), 2)
        if len(bld) < 2:
            bld = pick(here, 2)
        add(
            [f"老河口市{tname}卫生院", f"老河口市{tname}中心小学"],
            "public_institution",
            ["卫生", "教育"],
            bld,
            rng.integers(20, 90, len(bld)),
        )
    # 村卫生室 in each village that has buildings.
    for vi, vname in enumerate(village_names):
        bld = pick(village_of_b == vi, 1 if rng.random() < max(factor, 0.3) else 0)
        add(
            [f"{vname.removesuffix('村委会').removesuffix('居委会')}卫生室"],
            "public_institution",
            ["卫生"],
            bld,
            rng.integers(2, 6, len(bld)),
        )
    n_school = max(2, round(18 * factor))
    bld = pick(public & urban_b, n_school)
    add(
        [f"老河口市第{i + 1}{'中学' if i % 2 else '小学'}" for i in range(n_school)],
        "public_institution",
        ["教育"] * n_school,
        bld,
        rng.integers(40, 160, len(bld)),
    )
    # 企业 in industrial/commercial/office/warehouse buildings (core and seats).
    n_ent = max(5, round(2_600 * factor))
    bld = pick(np.isin(use, ["industrial", "commercial", "warehouse", "office"]), n_ent)
    w = np.array(list(FIRM_WORDS))
    t = rng.integers(0, len(ENTERPRISE_TRADES), n_ent)
    a, b = w[rng.integers(0, len(w), n_ent)], w[rng.integers(0, len(w), n_ent)]
    add(
        [f"老河口市{x}{y}{ENTERPRISE_TRADES[k][0]}" for x, y, k in zip(a, b, t, strict=True)],
        "enterprise",
        [ENTERPRISE_TRADES[k][1] for k in t],
        bld,
        np.clip(rng.lognormal(2.6, 1.0, len(bld)).astype(np.int64), 3, 900),
    )
    # 个体工商户: shop floors of mixed and commercial buildings, some rural.
    n_shop = max(10, round(7_000 * factor))
    mask = np.isin(use, ["mixed", "commercial"]) | (
        (kind_of_b == 5) & (rng.random(len(use)) < 0.02)
    )
    bld = pick(mask, n_shop)
    t = rng.integers(0, len(SHOP_TRADES), n_shop)
    sur = np.array(list(SURNAMES))[rng.integers(0, 30, n_shop)]
    add(
        [
            f"老河口市{town_names[town_of_b[b_]][:2]}{s}记{SHOP_TRADES[k][0]}"
            for s, k, b_ in zip(sur, t, bld, strict=False)
        ],
        "individual_business",
        [SHOP_TRADES[k][1] for k in t],
        bld,
        rng.integers(1, 6, len(bld)),
    )
    # 社会组织 and 农民专业合作社.
    n_soc = max(2, round(40 * factor))
    bld = pick(urban_b & (use != "residential"), n_soc)
    add(
        [
            f"老河口市{x}协会"
            for x in np.array(
                ["书法", "志愿者", "老年人体育", "个体劳动者", "红白理事", "象棋", "广场舞", "诗词"]
            )[rng.integers(0, 8, n_soc)]
        ],
        "social_organisation",
        ["社会组织"] * n_soc,
        bld,
        rng.integers(3, 20, len(bld)),
    )
    n_coop = max(3, round(300 * factor))
    bld = pick((kind_of_b >= 5) & non_street, n_coop)
    crop = np.array(["柑橘", "梨", "蔬菜", "小麦", "养殖", "茶叶", "食用菌"])[
        rng.integers(0, 7, n_coop)
    ]
    add(
        [
            f"老河口市{village_names[village_of_b[b_]][:2]}{c}专业合作社"
            for c, b_ in zip(crop, bld, strict=False)
        ],
        "other",
        ["农业"] * len(bld),
        bld,
        rng.integers(5, 50, len(bld)),
    )

    n = len(name)
    emp = np.asarray(employees, np.int64)
    # One 法定代表人/负责人 each; up to 12 从业人员 each; 内保负责人 for 机关/学校/大企业.
    heads = adult_people[rng.integers(0, len(adult_people), n)]
    head_kind = [
        "legal_representative"
        if k in ("enterprise", "individual_business", "other")
        else "principal"
        for k in kind
    ]
    staff_n = np.minimum(np.maximum(emp - 1, 0), 12)
    staff_org = np.repeat(np.arange(n), staff_n)
    staff = adult_people[rng.integers(0, len(adult_people), len(staff_org))]
    sec_org = np.flatnonzero(np.isin(kind, ["government", "public_institution"]) | (emp >= 100))
    sec = adult_people[rng.integers(0, len(adult_people), len(sec_org))]
    rel_org = np.concatenate([np.arange(n), staff_org, sec_org])
    rel_person = np.concatenate([heads, staff, sec])
    rel_kind = head_kind + ["employee"] * len(staff_org) + ["security_officer"] * len(sec_org)
    return Orgs(
        name,
        kind,
        industry,
        np.asarray(building, np.int64),
        emp,
        credit_codes(kind, rng),
        rel_org,
        rel_person,
        rel_kind,
        rng.integers(30, 12 * 365, len(rel_org)),
    )
