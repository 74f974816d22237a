"""Errors: bad coordinates, malformed 2D and 3D codes (with the position at fault), vector items."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from yitu.grid import vector
from yitu.grid.codec2d import decode, encode
from yitu.grid.codec3d import decode3d, encode3d
from yitu.grid.errors import CoordinateError, GridError, InvalidCodeError
from yitu.grid.height import H_MAX, H_MIN, layer_index
from yitu.grid.intcode import INT_LIMIT, from_int, int_children, int_parent, to_int

GOOD = "N50J47539B8255346152"
GOOD3D = "N050J004705039DB8920557347"  # level 8, GB profile (V12)


# --------------------------------------------------------------------------------------------
# coordinates
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lon", "lat", "words"),
    [
        (math.nan, 10.0, "nan"),
        (10.0, math.nan, "nan"),
        (math.inf, 10.0, "finite"),
        (10.0, -math.inf, "finite"),
        (180.0000001, 10.0, "180"),
        (-180.0000001, 10.0, "180"),
        (10.0, 88.0, "88"),
        (10.0, -88.0, "88"),
        (10.0, 88.5, "polar"),
        (10.0, 90.1, "90"),
        (10.0, -90.1, "90"),
    ],
)
def test_bad_coordinates(lon: float, lat: float, words: str) -> None:
    with pytest.raises(CoordinateError) as info:
        encode(lon, lat, 5)
    assert words in str(info.value).lower()
    assert isinstance(info.value, GridError) and isinstance(info.value, ValueError)
    with pytest.raises(CoordinateError):
        encode3d(lon, lat, 0.0, 5)


def test_coordinate_limits_are_inclusive_where_the_spec_says() -> None:
    assert encode(180.0, 0.0, 1) == "N60A"
    assert encode(-180.0, 0.0, 1) == "N01A"
    assert encode(0.0, float(np.nextafter(88.0, 0)), 1) == "N31V"
    assert encode(0.0, float(np.nextafter(-88.0, 0)), 1) == "S31V"


@pytest.mark.parametrize("level", [0, 11, -1, True, 1.5, "5"])
def test_bad_level(level: object) -> None:
    with pytest.raises(GridError):
        encode(1.0, 1.0, level)  # type: ignore[arg-type]
    with pytest.raises(GridError):
        vector.encode_str([1.0], [1.0], level)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1.0", None, [1.0]])
def test_non_numeric_coordinates(value: object) -> None:
    with pytest.raises(CoordinateError):
        encode(value, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("h", [math.nan, math.inf, -math.inf, H_MAX, H_MIN - 1, 1e12, -7e6])
def test_bad_heights(h: float) -> None:
    with pytest.raises(CoordinateError):
        layer_index(h)
    with pytest.raises(CoordinateError):
        encode3d(1.0, 1.0, h, 10)


def test_bad_profile() -> None:
    with pytest.raises(GridError, match="profile"):
        encode3d(1.0, 1.0, 0.0, 10, "geo")  # type: ignore[arg-type]
    with pytest.raises(GridError, match="profile"):
        decode3d(GOOD3D, "C15")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# malformed 2D codes: the exception names the 1-based position at fault
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["", "N5", "N50", "N50J4", "N50J47539B825534615", GOOD + "0"])
def test_bad_length(code: str) -> None:
    with pytest.raises(InvalidCodeError, match="length") as info:
        decode(code)
    assert info.value.position is None


@pytest.mark.parametrize(
    ("code", "position"),
    [
        ("X50J", 1),
        ("E", 1),
        ("n", None),  # valid: lowercase hemisphere (see below)
        ("N00J", 2),
        ("N61J", 2),
        ("N5XJ", 2),
        ("N-5J", 2),
        ("N50W", 4),
        ("N50Z", 4),
        ("N50J", None),
        ("N50JC0", 5),  # level-2 longitude digit is 0-B
        ("N50J08", 6),  # level-2 latitude digit is 0-7
        ("N50J476", 7),  # level-3 Z digit is 0-5
        ("N50J475F0", 8),  # level-4 longitude digit is 0-E
        ("N50J4750A", 9),  # level-4 latitude digit is 0-9
        ("N50J47539F8", 10),  # level-5 digits are 0-E
        ("N50J47539BF", 11),
        ("N50J47539B84", 12),  # level-6 Z digit is 0-3
        ("N50J47539B8285", 13),  # level-7 digits are 0-7
        ("N50J47539B8258", 14),
        ("N50J47539B82553G", 16),
        ("N50J47539B82553468", 18),
        ("N50J47539B8255346152", None),
        ("N50J47539B8255346158", 20),
        ("N50J47539B825534615-", 20),
        ("N50J47539B825534615\u0665", 20),  # an Arabic-Indic digit five is not a digit here
        ("N50J47539B82553461５2", 19),  # a full-width digit five neither
    ],
)
def test_bad_character_position(code: str, position: int | None) -> None:
    if position is None:
        assert decode(code).code == code.upper()
        return
    with pytest.raises(InvalidCodeError) as info:
        decode(code)
    assert info.value.position == position
    # a two-character field (the zone) is named by its span, "positions 2-3"
    assert re.search(rf"positions? {position}\b", str(info.value))
    assert code in str(info.value)


def test_lowercase_codes_decode() -> None:
    assert decode(GOOD.lower()).code == GOOD
    assert decode("s11j47539b8255346152").code == "S11J47539B8255346152"
    assert to_int("n50j47539b82") == to_int("N50J47539B82")
    assert decode3d(GOOD3D.lower()).code == GOOD3D
    got = vector.decode_str(np.array([GOOD.lower(), "s11j"]))
    want = vector.decode_str(np.array([GOOD, "S11J"]))
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    assert vector.str_to_int([GOOD.lower()]).tolist() == [to_int(GOOD)]


def test_non_string_code() -> None:
    with pytest.raises(InvalidCodeError):
        decode(12345)  # type: ignore[arg-type]
    with pytest.raises(InvalidCodeError):
        decode3d(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# malformed 3D codes
# --------------------------------------------------------------------------------------------
def _with(code: str, position: int, ch: str) -> str:
    return code[: position - 1] + ch + code[position:]


@pytest.mark.parametrize(
    ("position", "ch", "profile"),
    [
        (1, "X", "gb"),  # hemisphere
        (2, "2", "gb"),  # a0 must be 0 or 1
        (2, "-", "c14"),
        (3, "7", "gb"),  # zone 70
        (5, "W", "gb"),  # row letter
        (6, "7", "gb"),  # a1a2 = 70 > 63
        (6, "A", "c14"),  # a1a2 are decimal digits
        (8, "C", "gb"),  # level-2 longitude digit
        (9, "8", "gb"),  # level-2 latitude digit
        (10, "8", "gb"),  # a3 is 0-7
        (11, "6", "gb"),  # level-3 Z digit
        (12, "2", "gb"),  # a4 is 0-1
        (13, "F", "gb"),  # level-4 longitude digit
        (14, "A", "gb"),  # level-4 latitude digit
        (15, "F", "gb"),  # a5 is 0-E in gb
        (16, "F", "c14"),  # level-5 longitude digit, whatever the profile
        (18, "F", "gb"),  # a6 is 0-E in gb
        (19, "4", "gb"),  # level-6 Z digit
        (20, "2", "gb"),  # a7 is 0-1
        (21, "8", "gb"),  # level-7 longitude digit
        (23, "8", "c14"),  # a8 is 0-7
        (26, "9", "gb"),  # a9 is 0-7
    ],
)
def test_bad_3d_character_position(position: int, ch: str, profile: str) -> None:
    code = _with(GOOD3D, position, ch)
    with pytest.raises(InvalidCodeError) as info:
        decode3d(code, profile)  # type: ignore[arg-type]
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


@pytest.mark.parametrize("position", [15, 18])
def test_height_digit_f_is_c14_only(position: int) -> None:
    """§4.3: the level-4/5 height digits run 0-E in gb, 0-F in c14."""
    code = _with(GOOD3D, position, "F")
    with pytest.raises(InvalidCodeError) as info:
        decode3d(code, "gb")
    assert info.value.position == position
    assert decode3d(code, "c14").code == code


@pytest.mark.parametrize(("a1a2", "profile"), [("64", "gb"), ("0F", "gb"), ("6A", "c14")])
def test_bad_level1_height_field(a1a2: str, profile: str) -> None:
    """a1a2 is one two-character field: an error in it names the field's first position, 6."""
    code = GOOD3D[:5] + a1a2 + GOOD3D[7:]
    with pytest.raises(InvalidCodeError) as info:
        decode3d(code, profile)  # type: ignore[arg-type]
    assert info.value.position == 6
    assert "position 6" in str(info.value)


def test_c14_height_beyond_the_domain() -> None:
    """c14 a1a2 never exceeds 56 (§4.3): 57 is a layer wholly above the ±256° domain."""
    code = GOOD3D[:5] + "57" + GOOD3D[7:]
    with pytest.raises(InvalidCodeError, match="domain"):
        decode3d(code, "c14")
    assert decode3d(GOOD3D[:5] + "56" + GOOD3D[7:], "c14").bottom < H_MAX


@pytest.mark.parametrize("length", [0, 1, 3, 8, 16, 21, 31, 33])
def test_bad_3d_length(length: int) -> None:
    code = (GOOD3D + "0" * 32)[:length]
    with pytest.raises(InvalidCodeError, match="length"):
        decode3d(code)


def test_c14_level10_minus_zero_is_invalid() -> None:
    code = "N1" + "50J" + "00" + "47" + "0" + "5" + "0" + "39" + "0" + "B8" + "0" + "2" + "0"
    code += "55" + "0" + "34" + "0" + "61" + "0" + "52" + "0"
    assert len(code) == 32
    with pytest.raises(InvalidCodeError):
        decode3d(code, "c14")
    assert decode3d(code, "gb").bottom < 0  # in gb it is the lowest layer of the domain


# --------------------------------------------------------------------------------------------
# integer codes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("v", [-1, INT_LIMIT, 2**63 - 1])
def test_bad_int_codes(v: int) -> None:
    with pytest.raises(InvalidCodeError):
        from_int(v)


def test_malformed_int_code_gap() -> None:
    v = to_int("N50J47")
    with pytest.raises(InvalidCodeError, match="absent"):
        from_int(v + 1)  # a level-10 slot under a level-2 code, with levels 3-9 absent


def test_int_hierarchy_errors() -> None:
    v = to_int("N50J475")
    with pytest.raises(InvalidCodeError):
        int_parent(v, 4)
    assert int_children(to_int(GOOD)) == []


# --------------------------------------------------------------------------------------------
# vector API: errors name the item index
# --------------------------------------------------------------------------------------------
def test_vector_encode_names_the_point() -> None:
    lon = np.array([1.0, 2.0, 3.0, math.nan, 5.0])
    lat = np.array([1.0, 2.0, 3.0, 4.0, 95.0])
    with pytest.raises(CoordinateError, match=r"point 3\b.*NaN"):
        vector.encode_str(lon, lat)
    with pytest.raises(CoordinateError, match=r"point 4\b"):
        vector.encode_int(lon[[0, 1, 2, 4, 4]], lat)
    with pytest.raises(CoordinateError, match=r"point 1\b.*polar"):
        vector.encode_str([1.0, 1.0], [1.0, -88.0])
    with pytest.raises(CoordinateError, match="length"):
        vector.encode_str([1.0, 2.0], [1.0])
    with pytest.raises(CoordinateError, match=r"item 2\b"):
        vector.encode3d_str([1.0] * 3, [1.0] * 3, [0.0, 1.0, math.nan])
    assert vector.invalid_points(lon, lat).tolist() == [False, False, False, True, True]


@pytest.mark.parametrize(
    ("bad", "position"),
    [("X50J", 1), ("N61J", 2), ("N50W", 4), ("N50J476", 7), ("N50J4750A", 9), ("N50J4", None)],
)
def test_vector_decode_names_the_item(bad: str, position: int | None) -> None:
    codes = ["N50J", GOOD, "S11J47", bad, "N"]
    for call in (vector.decode_str, vector.str_to_int):
        with pytest.raises(InvalidCodeError) as info:
            call(codes)
        assert str(info.value).startswith("item 3:")
        assert info.value.position == position
        if position is not None:
            assert re.search(rf"positions? {position}\b", str(info.value))


def test_vector_decode_names_the_item_beyond_the_first_block() -> None:
    n = vector.CHUNK + 1000
    codes = np.array([GOOD] * n, dtype="S20")
    codes[n - 7] = b"N50J47539B8255346158"
    with pytest.raises(InvalidCodeError) as info:
        vector.decode_str(codes)
    assert str(info.value).startswith(f"item {n - 7}:")
    assert info.value.position == 20


def test_vector_decode_too_long_names_the_item() -> None:
    with pytest.raises(InvalidCodeError, match=r"item 1\b"):
        vector.decode_str(["N50J", GOOD + "0"])


def test_vector_decode_non_ascii_is_an_invalid_code() -> None:
    """A non-ASCII character is a malformed code, reported like any other (item and position)."""
    with pytest.raises(InvalidCodeError) as info:
        vector.decode_str(["N50J", "N50J47539B82553461５2"])
    assert str(info.value).startswith("item 1:")
    assert info.value.position == 19


def test_vector_int_errors_name_the_item() -> None:
    good = to_int(GOOD)
    with pytest.raises(InvalidCodeError, match=r"item 2\b"):
        vector.int_to_str([good, good, -5])
    with pytest.raises(InvalidCodeError, match=r"item 1\b"):
        vector.int_level([good, INT_LIMIT])
    with pytest.raises(InvalidCodeError, match=r"item 1\b"):
        vector.int_parent([good, to_int("N50J47")], 3)
    with pytest.raises(InvalidCodeError, match=r"item 0\b"):
        vector.int_children_range([good, to_int("N50J47")])
    with pytest.raises(InvalidCodeError, match=r"item 1\b.*absent"):
        vector.decode_int([good, to_int("N50J47") + 1])
