"""Ended person–house relations (relation history): who lived where before.

* Former tenancies: ~45 % of the households renting now rented another flat in the county
  before; that flat is vacant today (one former household per flat, an owned one). Members born
  before the move get an ended ``tenant`` (the head) or ``family_member`` row ending the day
  the household moved into its present home.
* Moved-out children: ~40 % of the young (20–40) local heads of 单身/夫妻/核心 households in a
  home of their own grew up in a local household of the same surname in the same kind of place
  (core, town seat, village) whose head is 48 or older; an ended ``family_member`` row at that
  house runs from birth (or the parents' moving in) to the day they moved out.

Ended rows have ``valid_to`` ≤ today, so current residence, counts and 人户分离 (all derived
from relations in force today) are unchanged by them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE, COUPLE, NUCLEAR = 2, 3, 4
PARENT_TYPES = (0, 1, 4, 5)  # 独居老人, 空巢, 核心, 三代同堂


@dataclass
class Past:
    person: np.ndarray
    house: np.ndarray
    relation: np.ndarray
    valid_from: np.ndarray  # datetime64[D]
    valid_to: np.ndarray  # datetime64[D]


def past_relations(
    *,
    hh: np.ndarray,  # per person: household
    head: np.ndarray,  # per person: heads their household
    member: np.ndarray,  # per person: a household member (not a lodger or a foreign spouse)
    birth: np.ndarray,
    occupied: np.ndarray,  # per household: its room
    moved: np.ndarray,  # per household: the day it moved in (datetime64[D])
    rented: np.ndarray,
    local: np.ndarray,  # per household: 户籍 (not floating)
    hh_type: np.ndarray,
    hh_zone: np.ndarray,
    head_age: np.ndarray,
    head_surname: np.ndarray,
    vacant_owned: np.ndarray,  # rooms vacant today that have an owner
    rng: np.random.Generator,
) -> Past:
    n_hh = len(occupied)
    # Former tenancies, in distinct vacant rooms.
    movers = np.flatnonzero(rented & (rng.random(n_hh) < 0.45))
    k = min(len(movers), len(vacant_owned))
    movers = np.sort(rng.choice(movers, size=k, replace=False)) if k else movers[:0]
    prev_room = np.full(n_hh, -1)
    prev_room[movers] = rng.choice(vacant_owned, size=k, replace=False) if k else []
    prev_start = moved - rng.integers(365, 5 * 365, n_hh).astype("timedelta64[D]")
    who = np.flatnonzero((prev_room[hh] >= 0) & member & (birth < moved[hh] - 180))
    a_from = np.maximum(prev_start[hh[who]], birth[who])
    a_rel = np.where(head[who], "tenant", "family_member")

    # Moved-out children: young local heads in a home of their own, matched to parents.
    young = (
        np.isin(hh_type, (SINGLE, COUPLE, NUCLEAR))
        & local
        & ~rented
        & (head_age >= 20)
        & (head_age <= 40)
        & (rng.random(n_hh) < 0.4)
    )
    parents = np.flatnonzero(local & ~rented & np.isin(hh_type, PARENT_TYPES) & (head_age >= 48))
    key = head_surname.astype(np.int64) * 3 + hh_zone
    order = parents[np.argsort(key[parents], kind="stable")]
    sorted_keys = key[order]
    lo = np.searchsorted(sorted_keys, key, "left")
    hi = np.searchsorted(sorted_keys, key, "right")
    pick = lo + (rng.random(n_hh) * (hi - lo)).astype(np.int64)
    parent_hh = np.where(young & (hi > lo), order[np.minimum(pick, len(order) - 1)], -1)
    heads = np.flatnonzero(head & (parent_hh[hh] >= 0))
    p_hh = parent_hh[hh[heads]]
    b_from = np.maximum(birth[heads], moved[p_hh])
    b_to = moved[hh[heads]]
    ok = b_to - b_from >= np.timedelta64(365, "D")
    heads, p_hh, b_from, b_to = heads[ok], p_hh[ok], b_from[ok], b_to[ok]
    return Past(
        person=np.concatenate([who, heads]),
        house=np.concatenate([prev_room[hh[who]], occupied[p_hh]]),
        relation=np.concatenate([a_rel, np.full(len(heads), "family_member")]).astype(object),
        valid_from=np.concatenate([a_from, b_from]),
        valid_to=np.concatenate([moved[hh[who]], b_to]),
    )
