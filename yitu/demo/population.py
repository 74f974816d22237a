"""People and households (实有人口, 人房关系).

One household per occupied room. Household types (独居老人, 空巢, 核心家庭, 三代同堂, 留守…) are
drawn per zone and tenure, members' ages follow the head's, so the county's age pyramid comes
out of its households: ~14 % aged 60+, with the rural villages older than the urban core.
Migrants (流动人口) are mostly tenants in the core; ~8 % of local households live away from
their 户籍 house (人户分离), which is then recorded as a ``registered`` relation. Lodgers (寄住)
and foreign residents (境外) join households (``guests.py``); ended relations (who lived where
before) come from ``history.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from yitu.demo import foreign, guests, history
from yitu.demo.names import (
    GIVEN_FEMALE,
    GIVEN_MALE,
    HOME_REGION,
    HUBEI_REGIONS,
    MOBILE_PREFIXES,
    OTHER_REGIONS,
    SURNAME_WEIGHTS,
    SURNAMES,
)

URBAN, SEAT, RURAL = 0, 1, 2
# (vacant, rented-of-occupied) by zone.
TENURE = {URBAN: (0.30, 0.28), SEAT: (0.32, 0.12), RURAL: (0.45, 0.02)}

# Slot: (role, sex, age rule, presence probability, inherits the head's surname, tag).
# age rule: ("abs", lo, hi) uniform years, or ("rel", lo, hi) head's age + U(lo, hi).
HEAD, SPOUSE, CHILD, ELDER = "head", "spouse", "child", "elder"
HOUSEHOLD_TYPES: list[list[tuple]] = [
    [(HEAD, "any", ("abs", 60, 93), 1.0, False, "elderly_alone")],  # 独居老人
    [
        (HEAD, "M", ("abs", 60, 89), 1.0, False, ""),  # 空巢老人
        (SPOUSE, "F", ("rel", -6, 2), 1.0, False, ""),
    ],
    [(HEAD, "any", ("abs", 19, 45), 1.0, False, "")],  # 单身
    [
        (HEAD, "M", ("abs", 23, 59), 1.0, False, ""),  # 夫妻
        (SPOUSE, "F", ("rel", -5, 2), 1.0, False, ""),
    ],
    [
        (HEAD, "M", ("abs", 27, 57), 1.0, False, ""),  # 核心家庭
        (SPOUSE, "F", ("rel", -5, 2), 0.95, False, ""),
        (CHILD, "any", ("rel", -34, -23), 1.0, True, ""),
        (CHILD, "any", ("rel", -40, -27), 0.45, True, ""),
    ],
    [
        (HEAD, "M", ("abs", 30, 56), 1.0, False, ""),  # 三代同堂
        (SPOUSE, "F", ("rel", -5, 2), 1.0, False, ""),
        (CHILD, "any", ("rel", -33, -23), 1.0, True, ""),
        (CHILD, "any", ("rel", -38, -26), 0.4, True, ""),
        (ELDER, "M", ("rel", 24, 32), 0.45, True, ""),
        (ELDER, "F", ("rel", 22, 30), 0.75, False, ""),
    ],
    [
        (HEAD, "M", ("abs", 56, 78), 1.0, False, ""),  # 留守: grandparents and grandchildren
        (SPOUSE, "F", ("rel", -5, 2), 0.65, False, ""),
        (CHILD, "any", ("abs", 3, 15), 1.0, True, "left_behind_child"),
        (CHILD, "any", ("abs", 1, 15), 0.35, True, "left_behind_child"),
    ],
]
TYPE_P = {
    (URBAN, False): [0.05, 0.07, 0.13, 0.17, 0.42, 0.13, 0.03],
    (URBAN, True): [0.02, 0.02, 0.38, 0.22, 0.34, 0.02, 0.00],
    (SEAT, False): [0.06, 0.08, 0.11, 0.15, 0.40, 0.15, 0.05],
    (SEAT, True): [0.03, 0.03, 0.30, 0.22, 0.38, 0.04, 0.00],
    (RURAL, False): [0.08, 0.09, 0.09, 0.15, 0.34, 0.15, 0.10],
    (RURAL, True): [0.05, 0.05, 0.30, 0.20, 0.40, 0.00, 0.00],
}
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


@dataclass
class Population:
    house_use: np.ndarray  # per house: self_occupied / rented / vacant
    # per person (ordered by household, then slot)
    household: np.ndarray  # household index = index into households
    house: np.ndarray  # resident house index
    relation: np.ndarray  # householder / family_member / tenant / lodger
    name: np.ndarray
    id_number: np.ndarray
    phone: np.ndarray
    gender: np.ndarray
    birth: np.ndarray  # datetime64[D]
    registration: np.ndarray  # hukou / floating / lodging / foreign
    region: np.ndarray  # 6-digit region of the ID number (HOME_REGION for foreigners: unused)
    place: np.ndarray  # 户籍地 of non-local people (region name, or nationality); "" for 户籍
    care_tags: np.ndarray
    ethnicity: np.ndarray
    moved_in: np.ndarray  # datetime64[D], valid_from of the resident relation
    registered_house: np.ndarray  # 户籍 house when it differs from the resident house, else -1
    # owners of rented and vacant rooms who live elsewhere: (person, house)
    owner_person: np.ndarray
    owner_house: np.ndarray
    past: history.Past  # ended relations


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, day


def id_numbers(
    region: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """GB 11643 numbers: region + birth date + 3-digit order (odd = male) + check digit,
    unique per (region, birth date) because the order is a per-day counter from a random start."""
    y, m, d = _ymd(birth)
    key = region.astype(np.int64) * 100_000_000 + y * 10_000 + m * 100 + d
    order = np.argsort(key, kind="stable")
    sk = key[order]
    start = np.r_[True, sk[1:] != sk[:-1]]
    group = np.cumsum(start) - 1
    rank = np.arange(len(sk)) - np.flatnonzero(start)[group]
    base = rng.integers(0, 400, group[-1] + 1 if len(sk) else 0)
    seq = np.empty(len(key), np.int64)
    seq[order] = (base[group] + rank) % 495 * 2 + 1
    seq = np.where(male, seq, seq - 1)
    digits = np.column_stack(
        [
            *(region.astype(np.int64) // 10**k % 10 for k in range(5, -1, -1)),
            *(y // 10**k % 10 for k in range(3, -1, -1)),
            m // 10,
            m % 10,
            d // 10,
            d % 10,
            seq // 100,
            seq // 10 % 10,
            seq % 10,
        ]
    )
    check = _CHECK[(digits @ _WEIGHTS) % 11]
    return np.array(
        [
            f"{r}{yy:04d}{mm:02d}{dd:02d}{s:03d}{c}"
            for r, yy, mm, dd, s, c in zip(
                region.tolist(),
                y.tolist(),
                m.tolist(),
                d.tolist(),
                seq.tolist(),
                check.tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )


def phones(n: int, has: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    space = len(MOBILE_PREFIXES) * 100_000_000
    raw = rng.integers(0, space, int(n * 1.02) + 16)
    _, first = np.unique(raw, return_index=True)
    raw = raw[np.sort(first)][:n]
    prefix = np.array(MOBILE_PREFIXES)[raw // 100_000_000]
    out = np.array(
        [f"{p}{r:08d}" for p, r in zip(prefix.tolist(), (raw % 100_000_000).tolist(), strict=True)],
        dtype=object,
    )
    out[~has] = ""
    return out


def names(surname_idx: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(male)
    pool_m, pool_f = np.array(list(GIVEN_MALE)), np.array(list(GIVEN_FEMALE))
    g1 = np.where(
        male, pool_m[rng.integers(0, len(pool_m), n)], pool_f[rng.integers(0, len(pool_f), n)]
    )
    g2 = np.where(
        male, pool_m[rng.integers(0, len(pool_m), n)], pool_f[rng.integers(0, len(pool_f), n)]
    )
    two = rng.random(n) < 0.72
    sur = np.array(list(SURNAMES))[surname_idx]
    return np.array(
        [
            s + a + (b if t else "")
            for s, a, b, t in zip(sur.tolist(), g1.tolist(), g2.tolist(), two.tolist(), strict=True)
        ],
        dtype=object,
    )


def populate(zone: np.ndarray, today: date, rng: np.random.Generator) -> Population:
    """People for rooms in the given zones (URBAN/SEAT/RURAL per room)."""
    n_house = len(zone)
    vac_p = np.array([TENURE[z][0] for z in (URBAN, SEAT, RURAL)])[zone]
    rent_p = np.array([TENURE[z][1] for z in (URBAN, SEAT, RURAL)])[zone]
    u = rng.random(n_house)
    use = np.where(
        u < vac_p, "vacant", np.where(rng.random(n_house) < rent_p, "rented", "self_occupied")
    ).astype(object)
    occupied = np.flatnonzero(use != "vacant")
    rented = use[occupied] == "rented"
    hh_zone = zone[occupied]
    hh_type = np.empty(len(occupied), np.int64)
    for (z, r), p in TYPE_P.items():
        mask = (hh_zone == z) & (rented == r)
        hh_type[mask] = rng.choice(len(p), size=int(mask.sum()), p=np.array(p) / sum(p))
    n_hh = len(occupied)
    # Floating (流动) households: mostly tenants in the core.
    float_p = np.where(
        rented, np.select([hh_zone == URBAN, hh_zone == SEAT], [0.7, 0.5], 0.3), 0.015
    )
    floating_hh = rng.random(n_hh) < float_p
    head_male = rng.random(n_hh) < 0.5
    head_surname = rng.choice(
        len(SURNAMES), size=n_hh, p=np.array(SURNAME_WEIGHTS) / sum(SURNAME_WEIGHTS)
    )

    hh_l, slot_l, age_l, male_l, sur_l, tag_l, role_l = [], [], [], [], [], [], []
    for t, slots in enumerate(HOUSEHOLD_TYPES):
        hs = np.flatnonzero(hh_type == t)
        if not len(hs):
            continue
        head_age = None
        for s, (role, sex, rule, prob, inherit, tag) in enumerate(slots):
            k = len(hs)
            kind, lo, hi = rule
            if kind == "abs":
                age = rng.integers(lo, hi + 1, k)
            else:
                age = head_age + rng.integers(lo, hi + 1, k)
            if role == HEAD:
                head_age = age
            present = (rng.random(k) < prob) & (age >= 0) & (age <= 100)
            male = (
                np.full(k, sex == "M")
                if sex != "any"
                else (head_male[hs] if role == HEAD else rng.random(k) < 0.51)
            )
            if role == HEAD and sex == "any":
                male = head_male[hs]
            sur = np.where(
                inherit | (role == HEAD),
                head_surname[hs],
                rng.choice(
                    len(SURNAMES), size=k, p=np.array(SURNAME_WEIGHTS) / sum(SURNAME_WEIGHTS)
                ),
            )
            if role == HEAD and t in (1, 3, 4, 5, 6):
                male = np.ones(k, bool)
            keep = present
            hh_l.append(hs[keep])
            slot_l.append(np.full(int(keep.sum()), s))
            age_l.append(age[keep])
            male_l.append(male[keep])
            sur_l.append(sur[keep])
            tag_l.append(np.full(int(keep.sum()), tag, dtype=object))
            role_l.append(np.full(int(keep.sum()), role, dtype=object))
    hh = np.concatenate(hh_l)
    slot = np.concatenate(slot_l)
    age = np.concatenate(age_l)
    male = np.concatenate(male_l)
    surname = np.concatenate(sur_l)
    tags = np.concatenate(tag_l)
    is_head = slot == 0
    h_age = np.zeros(n_hh, np.int64)
    h_age[hh[is_head]] = age[is_head]
    h_male = np.zeros(n_hh, bool)
    h_male[hh[is_head]] = male[is_head]

    # 寄住 and 境外 people join households; foreign professionals rent vacant flats.
    sur_p = np.array(SURNAME_WEIGHTS) / sum(SURNAME_WEIGHTS)
    lodg = guests.lodgers(hh_type, hh_zone, head_surname, len(SURNAMES), sur_p, rng)
    fx = guests.foreigners(
        len(hh), use, zone, hh_type, hh_zone, h_age, h_male, rented, floating_hh, rng
    )
    rooms = fx.new_rooms
    use[rooms] = "rented"
    occupied = np.concatenate([occupied, rooms])
    rented = np.concatenate([rented, np.ones(len(rooms), bool)])
    hh_zone = np.concatenate([hh_zone, zone[rooms]])
    hh_type = np.concatenate([hh_type, np.full(len(rooms), guests.SINGLE)])
    floating_hh = np.concatenate([floating_hh, np.zeros(len(rooms), bool)])
    head_surname = np.concatenate([head_surname, np.zeros(len(rooms), np.int64)])
    h_age = np.concatenate([h_age, fx.age[fx.slot == 0]])
    n_hh = len(occupied)
    k_m = len(hh)
    category = np.concatenate([np.zeros(k_m, np.int64), lodg.category, fx.category])
    hh = np.concatenate([hh, lodg.hh, fx.hh])
    slot = np.concatenate([slot, lodg.slot, fx.slot])
    age = np.concatenate([age, lodg.age, fx.age])
    male = np.concatenate([male, lodg.male, fx.male])
    surname = np.concatenate([surname, lodg.surname, fx.surname])
    tags = np.concatenate([tags, np.full(len(lodg.hh) + len(fx.hh), "", dtype=object)])
    nationality = np.concatenate([np.full(k_m, "", dtype=object), lodg.nationality, fx.nationality])
    card = np.concatenate([np.zeros(k_m, bool), lodg.resident_card, fx.resident_card])
    g_since = np.concatenate([np.zeros(k_m, np.int64), lodg.since, fx.since])

    order = np.lexsort((slot, hh))
    hh, age, male, surname, tags = hh[order], age[order], male[order], surname[order], tags[order]
    category, nationality, card = category[order], nationality[order], card[order]
    g_since = g_since[order]
    n = len(hh)
    lodger, alien = category == guests.LODGER, category == guests.FOREIGN

    ref = np.datetime64(today, "D")
    birth = ref - (np.round(age * 365.2425).astype(np.int64) + rng.integers(1, 365, n)).astype(
        "timedelta64[D]"
    )
    age_exact = (ref - birth).astype(np.int64) / 365.2425
    floating = floating_hh[hh] & (category == 0)
    registration = np.select(
        [lodger, alien, floating], ["lodging", "foreign", "floating"], "hukou"
    ).astype(object)
    hukou = registration == "hukou"
    regions = np.full(n, HOME_REGION, dtype=object)
    hubei, other = np.array(list(HUBEI_REGIONS)), np.array(list(OTHER_REGIONS))
    origin_hh = np.where(
        rng.random(n_hh) < 0.6,
        hubei[rng.integers(0, len(hubei), n_hh)],
        other[rng.integers(0, len(other), n_hh)],
    )
    regions[floating] = origin_hh[hh[floating]]
    k_l = int(lodger.sum())
    regions[lodger] = np.where(
        rng.random(k_l) < 0.75,
        hubei[rng.integers(0, len(hubei), k_l)],
        other[rng.integers(0, len(other), k_l)],
    )
    origin = {**HUBEI_REGIONS, **OTHER_REGIONS}
    place = np.array([origin.get(r, "") for r in regions.tolist()], dtype=object)
    place[hukou] = ""
    place[alien] = [foreign.NATIONALITIES[c].name for c in nationality[alien].tolist()]
    # Care tags (关注标签); 低保 and 退役军人 are local (户籍) entitlements.
    r = rng.random(n)
    old = age_exact >= 60
    disabled = (r < np.where(old, 0.08, 0.03)) & ~alien
    low_income = (rng.random(n) < np.where(old & (hh_zone[hh] == RURAL), 0.08, 0.025)) & hukou
    veteran = male & (age_exact >= 40) & (rng.random(n) < 0.03) & hukou
    tag_parts = [
        tags,
        np.where(disabled, "disabled", ""),
        np.where(low_income, "low_income", ""),
        np.where(veteran, "veteran", ""),
    ]
    care = np.array(
        [
            ",".join(p for p in parts if p)
            for parts in zip(*(t.tolist() for t in tag_parts), strict=True)
        ],
        dtype=object,
    )
    head_first = np.r_[True, hh[1:] != hh[:-1]]
    relation = np.where(
        head_first,
        np.where(rented[hh], "tenant", "householder"),
        np.where(lodger, "lodger", "family_member"),
    ).astype(object)
    ethnicity = np.where(
        rng.random(n) < 0.992,
        "汉族",
        np.array(["回族", "土家族", "苗族", "满族"])[rng.integers(0, 4, n)],
    ).astype(object)
    ethnicity[alien] = ""  # 民族 is recorded for Chinese citizens only
    # Moved in: a tenant within 3 years, an owner family any time since 1985 (not before
    # birth); lodgers and foreign residents by their own dates.
    since_hh = np.where(rented, rng.integers(30, 3 * 365, n_hh), rng.integers(200, 40 * 365, n_hh))
    hh_moved = ref - since_hh.astype("timedelta64[D]")
    since = np.where(category > 0, g_since, since_hh[hh])
    moved_in = np.maximum(ref - since.astype("timedelta64[D]"), birth)
    # 人户分离: local households living away from their 户籍 house (another room in the county).
    away = (~floating_hh) & (rng.random(n_hh) < np.where(rented, 0.6, 0.05))
    reg_house_hh = np.where(away, rng.integers(0, n_house, n_hh), -1)
    reg_house_hh = np.where(reg_house_hh == occupied, (reg_house_hh + 1) % n_house, reg_house_hh)
    registered_house = np.where(hukou, reg_house_hh[hh], -1)
    # Owners: a local adult living elsewhere owns each rented room and half the vacant ones.
    own_house = np.flatnonzero(
        (use == "rented") | ((use == "vacant") & (rng.random(n_house) < 0.5))
    )
    adults = np.flatnonzero(hukou & (age_exact >= 28) & (age_exact < 80))
    owner_person = (
        adults[rng.integers(0, len(adults), len(own_house))]
        if len(adults)
        else np.zeros(0, np.int64)
    )
    past = history.past_relations(
        hh=hh,
        head=head_first,
        member=category == 0,
        birth=birth,
        occupied=occupied,
        moved=hh_moved,
        rented=rented,
        local=~floating_hh,
        hh_type=hh_type,
        hh_zone=hh_zone,
        head_age=h_age,
        head_surname=head_surname,
        vacant_owned=own_house[use[own_house] == "vacant"],
        rng=rng,
    )
    has_phone = (age_exact >= 12) & ~((age_exact >= 80) & (rng.random(n) < 0.35))
    gender = np.where(male, "M", "F").astype(object)
    person_name = names(surname, male, rng)
    person_name[alien] = foreign.latin_names(nationality[alien], male[alien], rng)
    id_number = np.empty(n, dtype=object)
    citizen = ~alien
    id_number[citizen] = id_numbers(
        regions[citizen].astype(np.int64), birth[citizen], male[citizen], rng
    )
    id_number[alien] = foreign.document_numbers(
        nationality[alien], birth[alien], male[alien], card[alien], set(), rng
    )
    return Population(
        house_use=use,
        household=hh,
        house=occupied[hh],
        relation=relation,
        name=person_name,
        id_number=id_number,
        phone=phones(n, has_phone, rng),
        gender=gender,
        birth=birth,
        registration=registration,
        region=regions,
        place=place,
        care_tags=care,
        ethnicity=ethnicity,
        moved_in=moved_in,
        registered_house=registered_house,
        owner_person=owner_person[: len(own_house)],
        owner_house=own_house,
        past=past,
    )
