"""寄住人口 and 境外人员 added to the households of ``population.populate``.

* 寄住 (lodgers): people staying in a host household without local 户籍 — pupils lodging
  with relatives near a school, apprentices and nannies, elderly relatives; ~3 % of
  households in the core host one (fewer in the villages); a 独居老人 never does (they would
  not live alone). They get a ``lodger`` relation to the host's room.
* 境外 (foreign residents), ~0.04 % of the population (at least a few at every scale): marriage
  migrants (mostly from South-East Asia) married to a single local man in a town seat or
  village, who joins his household as ``family_member``; and professionals (teachers,
  engineers, traders) renting a vacant flat in the core alone (``tenant``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yitu.demo import foreign

URBAN, SEAT, RURAL = 0, 1, 2  # as in population.py
SINGLE = 2  # household type 单身 (population.HOUSEHOLD_TYPES)
LIVING_ALONE = 0  # 独居老人
LODGER, FOREIGN = 1, 2  # person categories (0: household member)


@dataclass
class Guests:
    hh: np.ndarray  # household index (new households follow the existing ones)
    slot: np.ndarray  # order in the household (after its members; 0 heads a new household)
    age: np.ndarray
    male: np.ndarray
    surname: np.ndarray  # surname index (lodgers); 0 for foreigners (named separately)
    category: np.ndarray  # LODGER / FOREIGN
    nationality: np.ndarray  # ISO alpha-3, "" for lodgers
    resident_card: np.ndarray  # holds a 永久居留身份证 (else a passport)
    since: np.ndarray  # days before today they moved in
    new_rooms: np.ndarray  # vacant rooms now rented by the new (foreign) households


def _concat(parts: list[Guests]) -> Guests:
    fields = Guests.__dataclass_fields__
    return Guests(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in fields})


def lodgers(
    hh_type: np.ndarray,
    hh_zone: np.ndarray,
    head_surname: np.ndarray,
    n_surnames: int,
    surname_p: np.ndarray,
    rng: np.random.Generator,
) -> Guests:
    n_hh = len(hh_type)
    p_host = np.array([0.045, 0.035, 0.02])[hh_zone]
    host = np.flatnonzero((rng.random(n_hh) < p_host) & (hh_type != LIVING_ALONE))
    k = len(host)
    kind = rng.choice(3, size=k, p=[0.45, 0.35, 0.2])  # pupil, worker, elderly relative
    lo = np.array([12, 20, 60])[kind]
    hi = np.array([19, 50, 85])[kind]
    age = rng.integers(lo, hi + 1)
    male = rng.random(k) < np.where(kind == 2, 0.4, 0.5)
    relative = rng.random(k) < 0.5
    surname = np.where(relative, head_surname[host], rng.choice(n_surnames, size=k, p=surname_p))
    since = rng.integers(30, np.where(kind == 0, 3, 4) * 365)
    return Guests(
        hh=host,
        slot=np.full(k, 20),
        age=age,
        male=male,
        surname=surname,
        category=np.full(k, LODGER),
        nationality=np.full(k, "", dtype=object),
        resident_card=np.zeros(k, bool),
        since=since,
        new_rooms=np.zeros(0, np.int64),
    )


def foreigners(
    n_people: int,
    use: np.ndarray,
    zone: np.ndarray,
    hh_type: np.ndarray,
    hh_zone: np.ndarray,
    head_age: np.ndarray,
    head_male: np.ndarray,
    rented: np.ndarray,
    floating_hh: np.ndarray,
    rng: np.random.Generator,
) -> Guests:
    n_hh = len(hh_type)
    target = max(6, round(0.0004 * n_people))
    # Marriage migrants: wives of single local men (25–50) in the seats and villages.
    eligible = np.flatnonzero(
        (hh_type == SINGLE)
        & head_male
        & ~rented
        & ~floating_hh
        & (hh_zone != URBAN)
        & (head_age >= 25)
        & (head_age <= 50)
    )
    ks = min(round(target * 0.45), len(eligible))
    husbands = np.sort(rng.choice(eligible, size=ks, replace=False))
    s_age = np.maximum(head_age[husbands] - rng.integers(2, 13, ks), 20)
    married = rng.integers(1, 13, ks)
    married = np.minimum(married, s_age - 19)
    wives = Guests(
        hh=husbands,
        slot=np.full(ks, 1),
        age=s_age,
        male=np.zeros(ks, bool),
        surname=np.zeros(ks, np.int64),
        category=np.full(ks, FOREIGN),
        nationality=foreign.pick(foreign.SPOUSE_ORIGIN, ks, rng),
        resident_card=(married >= 5) & (rng.random(ks) < 0.4),
        since=married * 365 - rng.integers(0, 300, ks),
        new_rooms=np.zeros(0, np.int64),
    )
    # Professionals: each rents a vacant flat in the core (a town seat if the core has none).
    kw = target - ks
    vacant = np.flatnonzero((use == "vacant") & (zone == URBAN))
    if len(vacant) < kw:
        vacant = np.flatnonzero((use == "vacant") & (zone != RURAL))
    kw = min(kw, len(vacant))
    rooms = np.sort(rng.choice(vacant, size=kw, replace=False))
    w_age = rng.integers(24, 61, kw)
    workers = Guests(
        hh=n_hh + np.arange(kw),
        slot=np.zeros(kw, np.int64),
        age=w_age,
        male=rng.random(kw) < 0.7,
        surname=np.zeros(kw, np.int64),
        category=np.full(kw, FOREIGN),
        nationality=foreign.pick(foreign.WORKER_ORIGIN, kw, rng),
        resident_card=(w_age > 35) & (rng.random(kw) < 0.08),
        since=rng.integers(30, 3 * 365, kw),
        new_rooms=rooms,
    )
    return _concat([wives, workers])
