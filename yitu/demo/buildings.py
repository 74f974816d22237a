"""Buildings (楼栋) and their rooms (户室).

Footprints are small rotated rectangles centred on points of a global lattice whose spacing
exceeds the rectangle's rotated extent, so footprints never overlap: one lattice per zone
(urban core 60 × 40 m, town seats 24 m, hamlets 20 m) and the zones are kept apart by margins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from yitu.demo.geography import CORE, STREETS, County

# Building kinds (internal): what drives floors, rooms and use.
APARTMENT, URBAN_LOW, URBAN_NONRES, SEAT_RES, SEAT_NONRES, RURAL_HOUSE, RURAL_AUX = range(7)
DWELLING_KINDS = (APARTMENT, URBAN_LOW, SEAT_RES, RURAL_HOUSE)
STREET_SPACING = 300.0  # urban street lattice (see roads.py)

# Full-county counts (scale factor 1.0).
N_APARTMENT, N_URBAN_LOW, N_URBAN_NONRES = 900, 3_500, 700
N_SEAT_TOWN, N_SEAT_FARM = 1_050, 300
N_RURAL = 225_000  # homesteads and their outbuildings


@dataclass
class Buildings:
    kind: np.ndarray
    x: np.ndarray
    y: np.ndarray
    length: np.ndarray
    width: np.ndarray
    angle: np.ndarray
    floors: np.ndarray
    units: np.ndarray
    rooms_per_floor: np.ndarray  # 0: no dwellings
    floor_h: np.ndarray
    basement: np.ndarray
    use: np.ndarray  # str
    structure: np.ndarray  # str
    hamlet: np.ndarray  # hamlet serial (rural), -1 elsewhere
    town_seat: np.ndarray  # town index of a seat building, -1 elsewhere

    def take(self, idx: np.ndarray) -> Buildings:
        return Buildings(**{k: v[idx] for k, v in self.__dict__.items()})

    @property
    def n_houses(self) -> np.ndarray:
        """Rooms per building: units × floors × rooms per floor; a farmhouse is one home."""
        return np.where(
            self.kind == RURAL_HOUSE, 1, self.units * self.floors * self.rooms_per_floor
        )


def lattice_in(geom: BaseGeometry, sx: float, sy: float) -> np.ndarray:
    """Points (i·sx + sx/2, j·sy + sy/2) of the global lattice inside geom."""
    w, s, e, n = geom.bounds
    xs = (np.arange(np.floor(w / sx), np.ceil(e / sx)) + 0.5) * sx
    ys = (np.arange(np.floor(s / sy), np.ceil(n / sy)) + 0.5) * sy
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    inside = shapely.contains_xy(geom, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])


def _pick(rng: np.random.Generator, pts: np.ndarray, n: int, weight: np.ndarray) -> np.ndarray:
    n = min(n, len(pts))
    idx = rng.choice(len(pts), size=n, replace=False, p=weight / weight.sum())
    return pts[np.sort(idx)]


def _choice(rng: np.random.Generator, values: list, p: list[float], n: int) -> np.ndarray:
    return np.asarray(values)[rng.choice(len(values), size=n, p=np.asarray(p) / sum(p))]


def place(county: County, factor: float, rng: np.random.Generator) -> Buildings:
    parts: list[dict[str, np.ndarray]] = []

    def add(kind: int, pts: np.ndarray, **cols: np.ndarray) -> None:
        n = len(pts)
        base = {
            "kind": np.full(n, kind),
            "x": pts[:, 0],
            "y": pts[:, 1],
            "basement": np.zeros(n, np.int64),
            "hamlet": np.full(n, -1),
            "town_seat": np.full(n, -1),
            "units": np.ones(n, np.int64),
        }
        base.update(cols)
        parts.append(base)

    # Urban core: apartment slabs farther out (new districts), low-rise in the old town.
    pts = lattice_in(county.urban_zone, 60.0, 40.0)
    gx, gy = np.mod(pts[:, 0], STREET_SPACING), np.mod(pts[:, 1], STREET_SPACING)
    pts = pts[(gx > 35) & (gx < STREET_SPACING - 35) & (gy > 25) & (gy < STREET_SPACING - 25)]
    r = np.hypot(pts[:, 0] - CORE[0], pts[:, 1] - CORE[1])
    order = rng.permutation(len(pts))
    pts, r = pts[order], r[order]
    n_apt, n_low, n_non = (round(v * factor) for v in (N_APARTMENT, N_URBAN_LOW, N_URBAN_NONRES))
    w_apt = np.clip(r / 1_000.0, 0.2, 2.5) ** 2
    apt_idx = rng.choice(len(pts), size=min(n_apt, len(pts)), replace=False, p=w_apt / w_apt.sum())
    rest = np.setdiff1d(np.arange(len(pts)), apt_idx)
    w_low = np.exp(-r[rest] / 1_500.0)
    low_idx = rng.choice(rest, size=min(n_low, len(rest)), replace=False, p=w_low / w_low.sum())
    rest = np.setdiff1d(rest, low_idx)
    non_idx = rng.choice(rest, size=min(n_non, len(rest)), replace=False)
    apt, low, non = pts[np.sort(apt_idx)], pts[np.sort(low_idx)], pts[np.sort(non_idx)]

    n = len(apt)
    floors = _choice(rng, [6, 7, 9, 11, 18, 26, 33], [15, 15, 10, 25, 15, 12, 8], n)
    add(
        APARTMENT,
        apt,
        length=rng.uniform(36, 50, n),
        width=rng.uniform(11, 14, n),
        angle=rng.uniform(-5, 5, n),
        floors=floors,
        units=rng.integers(2, 5, n),
        rooms_per_floor=np.full(n, 2),
        floor_h=np.full(n, 3.0),
        basement=(floors >= 11).astype(np.int64),
        use=np.full(n, "residential"),
        structure=np.where(floors >= 11, "shear_wall", "brick_concrete"),
    )
    n = len(low)
    add(
        URBAN_LOW,
        low,
        length=rng.uniform(16, 36, n),
        width=rng.uniform(9, 13, n),
        angle=rng.uniform(-5, 5, n),
        floors=_choice(rng, [2, 3, 4, 5, 6], [2, 3, 3, 2, 2], n),
        units=rng.integers(1, 3, n),
        rooms_per_floor=np.full(n, 2),
        floor_h=np.full(n, 3.1),
        use=np.where(rng.random(n) < 0.3, "mixed", "residential"),
        structure=_choice(rng, ["brick_concrete", "frame", "brick_wood"], [7, 2, 1], n),
    )
    n = len(non)
    add(
        URBAN_NONRES,
        non,
        length=rng.uniform(20, 48, n),
        width=rng.uniform(12, 16, n),
        angle=rng.uniform(-5, 5, n),
        floors=_choice(rng, [1, 2, 3, 4, 6, 9, 12], [1, 2, 3, 2, 2, 1, 1], n),
        rooms_per_floor=np.zeros(n, np.int64),
        floor_h=np.full(n, 3.9),
        use=_choice(
            rng, ["commercial", "office", "public", "industrial", "warehouse"], [4, 2, 2, 1, 1], n
        ),
        structure=_choice(rng, ["frame", "steel", "brick_concrete"], [6, 2, 2], n),
    )

    # Town seats: 2–6 floor shop-houses along the main streets.
    exclusion = [county.urban_zone.buffer(40.0)]
    for ti, town in enumerate(county.towns):
        if town.code[:9] in STREETS:
            continue
        farm = town.code[6] == "5"
        radius = 450.0 if farm else 650.0 + 8.0 * len(town.children)
        disc = (
            Point(town.seat)
            .buffer(radius, 32)
            .intersection(town.polygon.buffer(-30.0))
            .intersection(county.land.buffer(-40.0))
        )
        exclusion.append(disc.buffer(40.0))
        pts = lattice_in(disc, 24.0, 24.0)
        d = np.hypot(pts[:, 0] - town.seat[0], pts[:, 1] - town.seat[1])
        pts = _pick(
            rng,
            pts,
            round((N_SEAT_FARM if farm else N_SEAT_TOWN) * factor),
            np.exp(-d / (radius * 0.5)),
        )
        n = len(pts)
        nonres = rng.random(n) < 0.1
        seat = np.full(n, ti)
        res, nr = pts[~nonres], pts[nonres]
        k = len(res)
        add(
            SEAT_RES,
            res,
            length=rng.uniform(10, 16, k),
            width=rng.uniform(8, 11, k),
            angle=rng.uniform(-8, 8, k),
            floors=_choice(rng, [2, 3, 4, 5, 6], [3, 4, 3, 1, 1], k),
            rooms_per_floor=np.ones(k, np.int64),
            floor_h=np.full(k, 3.3),
            use=np.where(rng.random(k) < 0.4, "mixed", "residential"),
            structure=_choice(rng, ["brick_concrete", "frame"], [8, 2], k),
            town_seat=seat[:k],
        )
        k = len(nr)
        add(
            SEAT_NONRES,
            nr,
            length=rng.uniform(12, 16, k),
            width=rng.uniform(8, 11, k),
            angle=rng.uniform(-8, 8, k),
            floors=_choice(rng, [1, 2, 3, 4, 5], [2, 3, 3, 1, 1], k),
            rooms_per_floor=np.zeros(k, np.int64),
            floor_h=np.full(k, 3.6),
            use=_choice(
                rng,
                ["commercial", "public", "industrial", "warehouse", "office"],
                [4, 2, 2, 1, 1],
                k,
            ),
            structure=_choice(rng, ["frame", "brick_concrete", "steel"], [4, 4, 2], k),
            town_seat=seat[:k],
        )

    # Rural hamlets (自然村/湾): clusters of homesteads and outbuildings.
    blocked = shapely.union_all(exclusion)
    allowed = county.land.buffer(-40.0).difference(blocked)  # off the county edge and the river
    rural_v = [i for i, v in enumerate(county.villages) if not v.urban]
    share = np.array([county.villages[i].polygon.area for i in rural_v]) * rng.lognormal(
        0, 0.35, len(rural_v)
    )
    per_village = np.floor(share / share.sum() * N_RURAL * factor + rng.random(len(rural_v)))
    cand: list[np.ndarray] = []
    hamlet_ids: list[np.ndarray] = []
    hamlet = 0
    for vi, count in zip(rural_v, per_village.astype(int), strict=True):
        if count == 0:
            continue
        region = county.villages[vi].polygon.intersection(allowed)
        if region.is_empty or region.area < 2e4:
            continue
        sizes = rng.integers(12, 60, int(np.ceil(count / 30)) + 1)
        sizes = sizes[np.cumsum(sizes) - sizes < count]
        sizes[-1] -= max(0, int(sizes.sum() - count))
        centres = _sample_in(region, len(sizes), rng)
        for (cx, cy), k in zip(centres, sizes, strict=True):
            half = 20.0 * (np.ceil(np.sqrt(k)) + 2)
            ix = np.arange(np.floor((cx - half) / 20), np.ceil((cx + half) / 20)) + 0.5
            iy = np.arange(np.floor((cy - half) / 20), np.ceil((cy + half) / 20)) + 0.5
            gx, gy = np.meshgrid(ix * 20, iy * 20)
            gx, gy = gx.ravel(), gy.ravel()
            d = np.hypot(gx - cx, gy - cy) * rng.uniform(0.8, 1.2, gx.size)  # ragged edges
            near = np.argsort(d, kind="stable")[:k]
            cand.append(np.column_stack([gx[near], gy[near]]))
            hamlet_ids.append(np.full(len(near), hamlet))
            hamlet += 1
    pts = np.concatenate(cand)
    ham = np.concatenate(hamlet_ids)
    _, first = np.unique(
        np.round(pts / 10).astype(np.int64) @ np.array([1, 1 << 32]), return_index=True
    )
    first = np.sort(first)
    pts, ham = pts[first], ham[first]
    ok = shapely.contains_xy(allowed, pts[:, 0], pts[:, 1])
    pts, ham = pts[ok], ham[ok]
    n = len(pts)
    aux = rng.random(n) < 0.45
    for kind, mask in ((RURAL_HOUSE, ~aux), (RURAL_AUX, aux)):
        k = int(mask.sum())
        house = kind == RURAL_HOUSE
        add(
            kind,
            pts[mask],
            length=rng.uniform(10, 13, k) if house else rng.uniform(5, 9, k),
            width=rng.uniform(7, 9.5, k) if house else rng.uniform(4, 7, k),
            angle=rng.uniform(-20, 20, k),
            floors=_choice(rng, [1, 2, 3], [35, 50, 15], k) if house else np.ones(k, np.int64),
            rooms_per_floor=np.full(k, 1 if house else 0),
            floor_h=np.full(k, 3.2),
            use=np.full(k, "residential")
            if house
            else _choice(rng, ["other", "warehouse"], [6, 4], k),
            structure=_choice(rng, ["brick_concrete", "brick_wood"], [7, 3], k)
            if house
            else _choice(rng, ["brick_wood", "other", "steel"], [5, 3, 2], k),
            hamlet=ham[mask],
        )
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    b = Buildings(**cols)
    b.floors = b.floors.astype(np.int64)
    # Jitter inside the lattice cell's slack (spacing minus the rotated footprint's extent).
    slack_x = np.select(
        [b.kind == APARTMENT, b.kind == URBAN_LOW, b.kind == URBAN_NONRES, b.kind <= SEAT_NONRES],
        [3.0, 3.0, 3.0, 2.0],
        1.5,
    )
    b.x = b.x + rng.uniform(-1, 1, len(b.x)) * slack_x
    b.y = b.y + rng.uniform(-1, 1, len(b.y)) * slack_x
    return b


def _sample_in(geom: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    from yitu.demo.geography import _sample_in as sample

    return sample(geom, n, rng)


def corners(b: Buildings) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5) x and y of each footprint ring (closed)."""
    a = np.radians(b.angle)
    ca, sa = np.cos(a), np.sin(a)
    hx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    hy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    dx = hx[None, :] * b.length[:, None]
    dy = hy[None, :] * b.width[:, None]
    return (
        b.x[:, None] + dx * ca[:, None] - dy * sa[:, None],
        b.y[:, None] + dx * sa[:, None] + dy * ca[:, None],
    )


def footprints(b: Buildings) -> np.ndarray:
    """Footprint polygons (metres), as an array of shapely geometries."""
    cx, cy = corners(b)
    return shapely.polygons(np.stack([cx, cy], axis=-1))
