"""Level tables of GB/T 39409-2020 (北斗网格位置码), in exact integer units.

One unit is 1/2048 arc-second, so one degree is 7 372 800 units and every cell edge at every
level is a whole number of units: the codec never needs floating-point cell sizes.
Index ``l`` of the per-level tuples is the level (index 0 is the hemisphere letter).
"""

from __future__ import annotations

UNITS_PER_DEGREE = 7_372_800
MAX_LEVEL = 10

#: Cell size in units, longitude and latitude, by level.
SIZE_LON = (0, 44_236_800, 3_686_400, 1_843_200, 122_880, 8_192, 4_096, 512, 64, 8, 1)
SIZE_LAT = (0, 29_491_200, 3_686_400, 1_228_800, 122_880, 8_192, 4_096, 512, 64, 8, 1)

#: How a level-(l-1) cell splits at level l: (columns, rows). Level 1 counts the folded half-world
#: (30 zones east or west of 0°, 22 rows of 4° from the equator to 88°).
SPLIT = (
    (1, 1), (30, 22), (12, 8), (2, 3), (15, 10), (15, 15), (2, 2), (8, 8), (8, 8), (8, 8), (8, 8),
)

#: Levels whose single character is a Z-order digit ``2*row + col`` (§5.2 d, g).
Z_LEVELS = frozenset({3, 6})

#: Length of a 2D code at each level (§5.2); the level follows from the length alone.
LEN2D = (1, 4, 6, 7, 9, 11, 12, 14, 16, 18, 20)
LEVEL_OF_LEN2D = {n: level for level, n in enumerate(LEN2D)}

#: Length of a 3D code at each level (§6.2, Fig. 12).
LEN3D = (2, 7, 10, 12, 15, 18, 20, 23, 26, 29, 32)
LEVEL_OF_LEN3D = {n: level for level, n in enumerate(LEN3D)}

ROW_LETTERS = "ABCDEFGHIJKLMNOPQRSTUV"  # all 22 letters, I and O included (§5.2 b)
HEX = "0123456789ABCDEF"

#: |lat| at or beyond this is the polar cap (§5.3), which this project does not encode (§9.4).
POLAR_LIMIT_DEG = 88
MAX_LON_UNITS = 180 * UNITS_PER_DEGREE
MAX_LAT_UNITS = POLAR_LIMIT_DEG * UNITS_PER_DEGREE

#: Number of distinct digit values a level contributes (columns × rows).
LEVEL_RADIX = tuple(c * r for c, r in SPLIT)
#: Level 1 in the full world: 60 zones × 22 rows.
LEVEL_RADIX = (1, 60 * 22, *LEVEL_RADIX[2:])


def level_of_cell_size_m(size_m: float) -> int:
    """The finest level whose cells are at least ``size_m`` metres tall (latitude side)."""
    metres_per_unit = 111_319.49079327357 / UNITS_PER_DEGREE
    for level in range(MAX_LEVEL, 0, -1):
        if SIZE_LAT[level] * metres_per_unit >= size_m:
            return level
    return 1
