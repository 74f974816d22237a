"""Height layers of the 3D code (GB/T 39409-2020 §6, Annex C) in two digit profiles.

Layer index (Annex C eq. C.12, level 10): ``n = floor(K · log_{1+θ0}((H + r0) / r0))`` with
``K = 7 372 800``, ``θ0 = π/180`` and ``r0 = 6 378 137 m``; the bottom of layer n is
``H_n = r0 · ((1+θ0)^(n/K) − 1)`` (C.8). A level-L layer holds ``P_L`` level-10 layers.

Exactness: the float formula for n can be off by one right at a layer boundary, so the index is
*defined* as the unique n with ``bottom(n) ≤ H < bottom(n + 1)`` and is corrected to satisfy it.
Encoding and decoding use the same ``bottom`` (numpy ``expm1``), so a height always lies in the
layer its code decodes to, and the scalar functions call the vectorised ones so both agree.

Profiles (spec §4.3, §9.1–9.2):

* ``gb`` (default): per-level θ, mixed-radix digits of the level-10 index with radices
  64, 8, 2, 15, 15, 2, 8, 8, 8, 8; below ground ``a0 = 1`` and the digits of ``n + N``
  (radix complement, ``N = 256·K``), so coarse levels nest exactly.
* ``c14``: Annex C.14 bit slicing of n as a 32-bit integer, sign-magnitude below ground, for
  exchange with the npm and Maven libraries. Both profiles agree for 0 ≤ H < 1 839.585 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from yitu.grid.constants import HEX, MAX_LEVEL, UNITS_PER_DEGREE
from yitu.grid.errors import CoordinateError, InvalidCodeError

Profile = Literal["gb", "c14"]
PROFILES: tuple[Profile, ...] = ("gb", "c14")

R0 = 6_378_137.0
THETA0 = math.pi / 180
LN_BASE = math.log1p(THETA0)
K = UNITS_PER_DEGREE
#: Level-10 layers on each side of the ground (C.2: ±256 one-degree layers).
N_LAYERS = 256 * K

#: Level-10 layers per level-L layer, GB profile (θ of 4°, 30′, 15′, 1′, 4″, 2″, …).
GB_SPAN = (N_LAYERS, 29_491_200, 3_686_400, 1_843_200, 122_880, 8_192, 4_096, 512, 64, 8, 1)
GB_RADIX = (2, 64, 8, 2, 15, 15, 2, 8, 8, 8, 8)
#: C14 profile: bits of n below the level-L digit, and the digit's number of values.
C14_SHIFT = (31, 25, 22, 21, 17, 13, 12, 9, 6, 3, 0)
C14_RADIX = (2, 64, 8, 2, 16, 16, 2, 8, 8, 8, 8)
#: Characters of the height part at each level (a1a2 at level 1 is two decimal digits).
HEIGHT_CHARS = (1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1)


def check_profile(profile: str) -> Profile:
    if profile not in PROFILES:
        raise CoordinateError(f"unknown height profile {profile!r}: use 'gb' or 'c14'")
    return profile  # type: ignore[return-value]


def bottom(n: npt.ArrayLike) -> np.ndarray:
    """Bottom height in metres of level-10 layer(s) n (eq. C.8)."""
    return R0 * np.expm1(np.asarray(n, dtype=np.float64) * (LN_BASE / K))


H_MIN = float(bottom(-N_LAYERS))
H_MAX = float(bottom(N_LAYERS))


def layer_index(height: npt.ArrayLike) -> np.ndarray:
    """Level-10 layer index n of each height: the n with bottom(n) ≤ H < bottom(n + 1)."""
    h = np.asarray(height, dtype=np.float64)
    bad = ~((h >= H_MIN) & (h < H_MAX))
    if bad.any():
        idx = int(np.flatnonzero(bad.ravel())[0])
        value = h.ravel()[idx]
        where = f" (item {idx})" if h.ndim else ""
        if math.isnan(value):
            raise CoordinateError(f"height is NaN{where}")
        raise CoordinateError(
            f"height {value} m{where} is outside the 3D domain [{H_MIN:.4f}, {H_MAX:.4f}) m"
        )
    n = np.floor(np.log1p(h / R0) * (K / LN_BASE)).astype(np.int64)
    n -= bottom(n) > h
    n += bottom(n + 1) <= h
    return n


@dataclass(frozen=True, slots=True)
class Layer:
    """The height part of a 3D code at one level: profile, sign flag ``a0`` and digit value.

    ``value`` is the number the level-1..L height digits spell (mixed radix for ``gb``; the
    magnitude's top bits for ``c14``).
    """

    profile: Profile
    level: int
    below: bool
    value: int

    @classmethod
    def from_index(cls, n: int, level: int, profile: Profile = "gb") -> Layer:
        """The level-``level`` layer holding level-10 layer ``n``."""
        if not -N_LAYERS <= n < N_LAYERS:
            raise CoordinateError(f"layer index {n} is outside [-{N_LAYERS}, {N_LAYERS})")
        if profile == "gb":
            u = n + N_LAYERS if n < 0 else n
            return cls(profile, level, n < 0, u // GB_SPAN[level])
        return cls(profile, level, n < 0, abs(n) >> C14_SHIFT[level])

    @classmethod
    def from_height(cls, height: float, level: int, profile: Profile = "gb") -> Layer:
        return cls.from_index(int(layer_index(height)), level, check_profile(profile))

    # --- digits -------------------------------------------------------------------------
    def digit(self, lv: int) -> int:
        """The height digit of level ``lv`` (1 ≤ lv ≤ self.level)."""
        radix = GB_RADIX if self.profile == "gb" else C14_RADIX
        if self.profile == "gb":
            return self.value * GB_SPAN[self.level] // GB_SPAN[lv] % radix[lv]
        return (self.value << C14_SHIFT[self.level]) >> C14_SHIFT[lv] & (radix[lv] - 1)

    def chars(self, lv: int) -> str:
        """The characters of level ``lv`` in the code (a0 for level 0)."""
        if lv == 0:
            return "1" if self.below else "0"
        d = self.digit(lv)
        return f"{d:02d}" if lv == 1 else HEX[d]

    @property
    def digits(self) -> str:
        return "".join(self.chars(lv) for lv in range(self.level + 1))

    # --- extent -------------------------------------------------------------------------
    @property
    def index_range(self) -> tuple[int, int]:
        """Half-open range [lo, hi) of the level-10 layer indices in this layer."""
        if self.profile == "gb":
            span = GB_SPAN[self.level]
            lo = self.value * span - (N_LAYERS if self.below else 0)
            return lo, lo + span
        span = 1 << C14_SHIFT[self.level]
        m = self.value * span
        if not self.below:
            return m, m + span
        return -(m + span) + 1, -max(m, 1) + 1

    @property
    def bottom(self) -> float:
        return float(bottom(self.index_range[0]))

    @property
    def top(self) -> float:
        return float(bottom(self.index_range[1]))

    def contains_height(self, height: float) -> bool:
        lo, hi = self.index_range
        return lo <= int(layer_index(height)) < hi

    # --- vertical neighbours (C.5) ------------------------------------------------------
    @property
    def ordinal(self) -> int:
        """Signed position in height order at this level (0 = the first layer above ground)."""
        if self.profile == "gb":
            return self.index_range[0] // GB_SPAN[self.level]
        if not self.below:
            return self.value
        # c14: "−0" exists at coarse levels (a layer just below ground), not at level 10.
        return -self.value - (1 if C14_SHIFT[self.level] else 0)

    @classmethod
    def from_ordinal(cls, ordinal: int, level: int, profile: Profile) -> Layer | None:
        """The layer at a signed position, or None outside the ±256° domain."""
        if profile == "gb":
            span = GB_SPAN[level]
            if not -N_LAYERS // span <= ordinal < N_LAYERS // span:
                return None
            return cls.from_index(ordinal * span, level, "gb")
        shift = C14_SHIFT[level]
        limit = (N_LAYERS - 1 >> shift) + 1
        if ordinal >= 0:
            return cls(profile, level, False, ordinal) if ordinal < limit else None
        magnitude = -ordinal - (1 if shift else 0)
        if magnitude > N_LAYERS >> shift:
            return None
        return cls(profile, level, True, magnitude)

    def shifted(self, steps: int) -> Layer | None:
        """The layer ``steps`` above (negative: below), or None past the domain."""
        return Layer.from_ordinal(self.ordinal + steps, self.level, self.profile)


def parse_layer(
    chars: list[str], level: int, profile: Profile, code: str, positions: list[int]
) -> Layer:
    """Build a ``Layer`` from its per-level characters; errors name the code position."""
    a0 = chars[0]
    if a0 not in ("0", "1"):
        raise InvalidCodeError(
            f"invalid 3D code {code!r}: position {positions[0]} must be the height sign 0 or 1, "
            f"got {a0!r}",
            positions[0],
        )
    radix = GB_RADIX if profile == "gb" else C14_RADIX
    value = 0
    for lv in range(1, level + 1):
        ch, pos = chars[lv], positions[lv]
        if lv == 1:
            d = int(ch) if ch.isascii() and ch.isdigit() else -1
        else:
            d = HEX.find(ch.upper()) if ch.isascii() else -1
        if not 0 <= d < radix[lv]:
            top = f"{radix[lv] - 1:02d}" if lv == 1 else HEX[radix[lv] - 1]
            raise InvalidCodeError(
                f"invalid 3D code {code!r}: {ch!r} at position {pos} is not a valid level-{lv} "
                f"height digit for the {profile} profile (0-{top})",
                pos,
            )
        if profile == "gb":
            value = value * radix[lv] + d
        else:
            value = (value << (C14_SHIFT[lv - 1] - C14_SHIFT[lv])) | d
    layer = Layer(profile, level, a0 == "1", value)
    if profile == "c14":
        if layer.below and level == MAX_LEVEL and value == 0:
            raise InvalidCodeError(f"invalid 3D code {code!r}: '-0' is not a level-10 c14 layer")
        # a coarse c14 layer may straddle the domain's edge (2^k layers do not divide 256·K);
        # it is invalid only when it holds no level-10 layer of the domain
        lo, hi = layer.index_range
        if lo >= N_LAYERS or hi <= -N_LAYERS:
            raise InvalidCodeError(f"invalid 3D code {code!r}: height layer outside the domain")
    return layer
