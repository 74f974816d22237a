"""``yitu grid``: encode, decode, neighbours and covers of BeiDou grid codes (北斗网格位置码).

Every ``GridError`` (and unreadable input) ends the command with a one-line message on stderr
and exit code 2, never a traceback. Bulk encoding (``encode --input``) streams the CSV in blocks
of bytes and encodes each block with ``yitu.grid.vector``, so memory stays flat whatever the
file size; bad rows become empty output lines (row alignment is kept), are reported on stderr,
and make the exit code 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO, NoReturn

import numpy as np
import typer

from yitu.grid import vector
from yitu.grid.codec2d import Cell, check_level, decode, encode
from yitu.grid.codec3d import Cell3D, cell3d, decode3d, interleave
from yitu.grid.constants import LEN2D, LEN3D, LEVEL_OF_LEN2D, LEVEL_OF_LEN3D
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.height import H_MAX, H_MIN, check_profile
from yitu.grid.intcode import cell_to_int

app = typer.Typer(
    help="北斗网格位置码 BeiDou grid location codes (GB/T 39409-2020): encode, decode, "
    "neighbours, polygon cover.",
    no_args_is_help=True,
    rich_markup_mode=None,  # help texts contain [brackets]; print them verbatim
)

#: Exit code for usage and grid errors (bad code, bad coordinate, unreadable file).
EXIT_ERROR = 2
#: Exit code of bulk encoding when some rows could not be encoded (the others are printed).
EXIT_BAD_ROWS = 1


class Format(StrEnum):
    text = "text"
    json = "json"
    geojson = "geojson"


class ProfileOpt(StrEnum):
    gb = "gb"
    c14 = "c14"


class DimsOpt(StrEnum):
    auto = "auto"
    two = "2"
    three = "3"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="Output: text, json or geojson (RFC 7946).")
]
ProfileOption = Annotated[
    ProfileOpt,
    typer.Option(
        "--profile", "-p",
        help="Height digit profile of 3D codes: gb (GB/T 39409 mixed radix) or c14 "
        "(Annex C.14 bit slicing, as the npm/Maven libraries).",
    ),
]
DimsOption = Annotated[
    DimsOpt,
    typer.Option(
        "--dims",
        help="2D or 3D code; auto: decided by the length, and for the lengths both share "
        "(7, 12, 18, 20) 2D is tried first, then 3D.",
    ),
]


# --------------------------------------------------------------------------------------------
# errors and output
# --------------------------------------------------------------------------------------------
def _fail(message: str) -> NoReturn:
    typer.echo(f"yitu grid: error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn library and input errors into a message and exit code 2 (no traceback)."""
    try:
        yield
    except GridError as exc:
        _fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    except json.JSONDecodeError as exc:
        _fail(f"invalid JSON: {exc}")


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


# --------------------------------------------------------------------------------------------
# single cells: description, auto-detection of 2D / 3D
# --------------------------------------------------------------------------------------------
def _describe(cell: Cell | Cell3D) -> dict[str, Any]:
    """JSON fields of a decoded cell (the same for encode and decode)."""
    if isinstance(cell, Cell3D):
        c = cell.cell
        return {
            "code": cell.code,
            "dims": 3,
            "level": cell.level,
            "profile": cell.profile,
            "code2d": c.code,
            "int2d": cell_to_int(c),
            "bbox": list(cell.bbox),  # west, south, bottom, east, north, top
            "centre": list(cell.centre),
            "corner": [*c.corner, cell.bottom],
            "bottom": cell.bottom,
            "top": cell.top,
        }
    return {
        "code": cell.code,
        "dims": 2,
        "level": cell.level,
        "int": cell_to_int(cell),
        "bbox": list(cell.bbox),  # west, south, east, north
        "centre": list(cell.centre),
        "corner": list(cell.corner),
    }


def _feature(cell: Cell | Cell3D, extra: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature of the cell's footprint with the ``_describe`` fields as properties."""
    props = {**_describe(cell), **extra}
    w, s, e, n = cell.cell.bbox if isinstance(cell, Cell3D) else cell.bbox
    return {
        "type": "Feature",
        "id": props["code"],
        "bbox": [w, s, e, n],
        "geometry": {
            "type": "Polygon",
            # closed and counter-clockwise (RFC 7946 right-hand rule)
            "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
        },
        "properties": props,
    }


def _decode_any(code: str, dims: DimsOpt, profile: str) -> Cell | Cell3D:
    """Decode a 2D or 3D code. Auto mode: a length only one kind has decides; for the shared
    lengths 2D is tried first, then 3D (a 3D code has a0 = 0/1 where a 2D code has its zone)."""
    code = code.strip()
    if dims is DimsOpt.two:
        return decode(code)
    if dims is DimsOpt.three:
        return decode3d(code, profile)  # type: ignore[arg-type]
    is2, is3 = len(code) in LEVEL_OF_LEN2D, len(code) in LEVEL_OF_LEN3D
    if is2 and is3:
        try:
            return decode(code)
        except InvalidCodeError as err2d:
            try:
                return decode3d(code, profile)  # type: ignore[arg-type]
            except GridError as err3d:
                # report the reading the 4th character points to: row letter (2D) / digit (3D)
                raise (err3d if code[3:4].isdigit() else err2d) from None
    if is3:
        return decode3d(code, profile)  # type: ignore[arg-type]
    if is2:
        return decode(code)
    raise InvalidCodeError(
        f"invalid grid code {code!r}: length {len(code)} is neither a 2D code length "
        f"({', '.join(map(str, LEN2D))}) nor a 3D one ({', '.join(map(str, LEN3D))})"
    )


def _text_lines(info: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, list):
            return " ".join(fmt(x) for x in v)
        return repr(v) if isinstance(v, float) else str(v)

    width = max(map(len, info))
    return "\n".join(f"{k:<{width}}  {fmt(v)}" for k, v in info.items())


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------
def _coordinate(text: str | None, name: str) -> float:
    if text is None:
        _fail(f"missing {name}: give LON LAT, or --input FILE.csv")
    try:
        return float(text)
    except ValueError:
        if text.startswith("-"):
            _fail(f"no such option: {text}")  # unknown options reach here (see context_settings)
        _fail(f"{name} {text!r} is not a number")


@app.command(
    "encode",
    help="Encode a point (LON LAT) or a CSV of points (--input) to grid codes. 2D by default; "
    "--height gives the 3D code. Negative coordinates work as they are "
    "(yitu grid encode -116.3 -39.9) or after '--'.",
    # a negative longitude such as -116.3 must reach LON as a value, not fail as an option
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True},
)
def encode_cmd(
    lon: Annotated[str | None, typer.Argument(metavar="LON", help="Longitude, degrees.")] = None,
    lat: Annotated[str | None, typer.Argument(metavar="LAT", help="Latitude, degrees.")] = None,
    height: Annotated[
        float | None,
        typer.Option(
            "--height", "-H",
            help="Geodetic height in metres: gives the 3D code. With --input, the height of "
            "rows when the CSV has no height column.",
        ),
    ] = None,
    level: Annotated[int, typer.Option("--level", "-l", help="Level 1-10.")] = 10,
    profile: ProfileOption = ProfileOpt.gb,
    fmt: FormatOption = Format.text,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", metavar="FILE|-",
            help="Bulk: a CSV file ('-' = stdin) with a header naming lon/lng/longitude, "
            "lat/latitude and optionally height/h/alt/altitude columns. Prints one code per "
            "data row, in order; a bad row prints an empty line and is reported on stderr as "
            "'row N: reason' (N counts data rows from 1, the header excluded), and the exit "
            "code is then 1.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Bulk: write the codes to this file, not stdout."),
    ] = None,
    lon_column: Annotated[
        str | None, typer.Option("--lon-column", help="Bulk: name of the longitude column.")
    ] = None,
    lat_column: Annotated[
        str | None, typer.Option("--lat-column", help="Bulk: name of the latitude column.")
    ] = None,
    height_column: Annotated[
        str | None, typer.Option("--height-column", help="Bulk: name of the height column.")
    ] = None,
    no_height: Annotated[
        bool, typer.Option("--no-height", help="Bulk: ignore a height column (2D codes).")
    ] = False,
    delimiter: Annotated[
        str, typer.Option("--delimiter", "-d", help="Bulk: field delimiter (one character).")
    ] = ",",
) -> None:
    with _errors():
        if input_ is not None:
            if lon is not None or lat is not None:
                _fail("give either LON LAT or --input, not both")
            if fmt is not Format.text:
                _fail("--input prints one code per row: only --format text is supported")
            columns = _Columns(lon_column, lat_column, height_column, no_height)
            bad = _encode_csv(input_, output, level, height, profile.value, columns, delimiter)
            if bad:
                raise typer.Exit(EXIT_BAD_ROWS)
            return
        if output is not None:
            _fail("--output is for bulk encoding with --input")
        x, y = _coordinate(lon, "longitude"), _coordinate(lat, "latitude")
        cell: Cell | Cell3D
        if height is None:
            cell = decode(encode(x, y, level))
        else:
            cell = cell3d(x, y, height, level, profile.value)
        if fmt is Format.text:
            typer.echo(cell.code)
            return
        inputs: dict[str, Any] = {"lon": x, "lat": y}
        if height is not None:
            inputs["height"] = height
        if fmt is Format.json:
            _print_json({**_describe(cell), **inputs})
        else:
            _print_json(_feature(cell, inputs))


# --------------------------------------------------------------------------------------------
# bulk CSV encoding
# --------------------------------------------------------------------------------------------
#: Bytes read per block: ~200k rows of a typical CSV; every per-block temporary is O(block).
BLOCK_BYTES = 8 << 20

_LON_NAMES = ("lon", "lng", "longitude", "long")
_LAT_NAMES = ("lat", "latitude")
_HEIGHT_NAMES = ("height", "h", "alt", "altitude", "elevation")


@dataclass(frozen=True)
class _Columns:
    lon: str | None
    lat: str | None
    height: str | None
    no_height: bool


def _find_column(header: list[str], wanted: str | None, names: tuple[str, ...],
                 what: str, required: bool) -> int | None:
    norm = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.strip().lower() not in norm:
            _fail(f"the CSV header has no {what} column {wanted!r} (header: {','.join(header)})")
        return norm.index(wanted.strip().lower())
    for name in names:
        if name in norm:
            return norm.index(name)
    if required:
        _fail(f"the CSV header has no {what} column (looked for {', '.join(names)}; "
              f"header: {','.join(header)})")
    return None


@dataclass
class _Block:
    """Parsed fields of a block of rows: one list of field bytes per wanted column."""

    n: int
    values: list[list[Any]]  # per wanted column: the field of each row (None if missing)
    errors: dict[int, str]  # row index in block -> reason (structural problems)


def _split_fast(block: bytes, ncols: int, wanted: list[int], delim: bytes) -> _Block:
    """Split an unquoted block (complete lines) into columns with C-level bytes operations."""
    arr = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    n = nl.size
    commas = np.flatnonzero(arr == delim[0])
    nfields = np.diff(np.searchsorted(commas, nl), prepend=0) + 1
    flat = block.replace(b"\n", delim).split(delim)
    errors: dict[int, str] = {}
    if (nfields == ncols).all():
        return _Block(n, [flat[c : n * ncols : ncols] for c in wanted], errors)
    starts = np.concatenate([[0], np.cumsum(nfields)[:-1]])
    # rows with a wrong field count get some other row's field here; they are errors anyway
    last = len(flat) - 1
    values = [list(map(flat.__getitem__, np.minimum(starts + c, last).tolist())) for c in wanted]
    for i in np.flatnonzero(nfields != ncols).tolist():
        errors[i] = _field_count_error(flat[starts[i] : starts[i] + nfields[i]], ncols)
    return _Block(n, values, errors)


def _field_count_error(fields: list[Any], ncols: int) -> str:
    if len(fields) == 1 and not fields[0].strip():
        return "empty row"
    return f"has {len(fields)} fields, the header has {ncols}"


def _split_csv(block: bytes, ncols: int, wanted: list[int], delim: bytes) -> _Block:
    """Quoted CSV: the stdlib csv module (slower, but handles quoting)."""
    rows = list(csv.reader(io.StringIO(block.decode("utf-8")), delimiter=delim.decode()))
    errors: dict[int, str] = {}
    values: list[list[Any]] = [[None] * len(rows) for _ in wanted]
    for i, row in enumerate(rows):
        if len(row) != ncols:
            errors[i] = "empty row" if not any(f.strip() for f in row) else (
                f"has {len(row)} fields, the header has {ncols}")
            continue
        for k, c in enumerate(wanted):
            values[k][i] = row[c]
    return _Block(len(rows), values, errors)


def _parse_floats(fields: list[Any], name: str, errors: dict[int, str]) -> np.ndarray:
    """Floats of a column; unparseable fields become NaN and are added to ``errors``."""
    try:
        return np.fromiter(map(float, fields), np.float64, count=len(fields))
    except (ValueError, TypeError):
        pass
    out = np.empty(len(fields), dtype=np.float64)
    for i, f in enumerate(fields):
        try:
            out[i] = float(f)
        except (ValueError, TypeError):
            out[i] = math.nan
            if i not in errors:
                text = f.decode("utf-8", "replace") if isinstance(f, bytes) else f
                errors[i] = f"{name} {text.strip()!r} is not a number"
    return out


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    """Blocks of whole lines, each ending with a newline."""
    rest = b""
    while True:
        chunk = stream.read(BLOCK_BYTES)
        if not chunk:
            break
        data = rest + chunk if rest else chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]
    if rest:
        yield rest + b"\n"


@contextmanager
def _open_in(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield typer.get_binary_stream("stdin")
    else:
        with open(path, "rb") as f:
            yield f


@contextmanager
def _open_out(path: Path | None) -> Iterator[BinaryIO]:
    if path is None:
        yield typer.get_binary_stream("stdout")
    else:
        with open(path, "wb") as f:
            yield f


def _encode_csv(path: str, output: Path | None, level: int, const_height: float | None,
                profile: str, columns: _Columns, delimiter: str) -> int:
    """Stream-encode a CSV; returns the number of bad rows."""
    check_level(level)
    check_profile(profile)
    if len(delimiter) != 1 or delimiter in "\n\r\"":
        _fail(f"--delimiter must be one character (not a quote or newline), got {delimiter!r}")
    delim = delimiter.encode()
    if len(delim) != 1:
        _fail("--delimiter must be an ASCII character")
    bad_total = 0
    row0 = 0  # data rows before the current block
    with _open_in(path) as src, _open_out(output) as dst:
        header_line = src.readline()
        if not header_line.strip():
            _fail(f"{path}: empty input, expected a CSV header naming lon and lat columns")
        header_text = header_line.decode("utf-8-sig").rstrip("\r\n")
        header = next(csv.reader([header_text], delimiter=delimiter))
        ncols = len(header)
        ilon = _find_column(header, columns.lon, _LON_NAMES, "longitude", True)
        ilat = _find_column(header, columns.lat, _LAT_NAMES, "latitude", True)
        iheight = None
        if not columns.no_height:
            iheight = _find_column(header, columns.height, _HEIGHT_NAMES, "height", False)
        assert ilon is not None and ilat is not None
        wanted = [ilon, ilat] + ([iheight] if iheight is not None else [])
        three_d = iheight is not None or const_height is not None
        width = (LEN3D if three_d else LEN2D)[level]
        stderr = sys.stderr
        try:
            for block in _blocks(src):
                if b'"' in block:
                    parsed = _split_csv(block, ncols, wanted, delim)
                else:
                    parsed = _split_fast(block, ncols, wanted, delim)
                codes, bad = _encode_block(parsed, level, const_height, profile, three_d)
                _write_codes(dst, codes, bad, width)
                if bad:
                    bad_total += len(bad)
                    stderr.write("".join(f"row {row0 + i + 1}: {bad[i]}\n" for i in sorted(bad)))
                row0 += parsed.n
            dst.flush()
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
    if bad_total:
        stderr.write(f"yitu grid encode: {bad_total} of {row0} rows could not be encoded\n")
    return bad_total


def _encode_block(parsed: _Block, level: int, const_height: float | None, profile: str,
                  three_d: bool) -> tuple[np.ndarray, dict[int, str]]:
    errors = dict(parsed.errors)
    lon = _parse_floats(parsed.values[0], "longitude", errors)
    lat = _parse_floats(parsed.values[1], "latitude", errors)
    h: np.ndarray | None = None
    if len(parsed.values) > 2:
        h = _parse_floats(parsed.values[2], "height", errors)
    elif const_height is not None:
        h = np.full(parsed.n, const_height, dtype=np.float64)
    bad = vector.invalid_points(lon, lat)
    for i in np.flatnonzero(bad).tolist():
        if i not in errors:
            errors[i] = vector.point_error(lon[i], lat[i])
    if h is not None:
        hbad = ~((h >= H_MIN) & (h < H_MAX))
        for i in np.flatnonzero(hbad & ~bad).tolist():
            if i not in errors:
                errors[i] = "height is NaN" if math.isnan(h[i]) else (
                    f"height {float(h[i])!r} m is outside the 3D domain "
                    f"[{H_MIN:.4f}, {H_MAX:.4f}) m"
                )
        bad |= hbad
    if errors:
        bad[list(errors)] = True
    good = ~bad
    if not bad.any():
        if three_d:
            assert h is not None
            return vector.encode3d_str(lon, lat, h, level, profile), errors
        return vector.encode_str(lon, lat, level), errors
    if three_d:
        assert h is not None
        codes = vector.encode3d_str(lon[good], lat[good], h[good], level, profile)
    else:
        codes = vector.encode_str(lon[good], lat[good], level)
    out = np.zeros(parsed.n, dtype=codes.dtype)  # b"" (all NUL) for bad rows
    out[good] = codes
    return out, errors


def _write_codes(dst: BinaryIO, codes: np.ndarray, bad: dict[int, str], width: int) -> None:
    n = codes.size
    if not n:
        return
    if bad:
        dst.write(b"\n".join(codes.tolist()) + b"\n")  # NUL-only rows become empty lines
        return
    buf = np.empty((n, width + 1), dtype=np.uint8)
    buf[:, :width] = codes.view(np.uint8).reshape(n, width)
    buf[:, width] = ord("\n")
    dst.write(buf.data)


# --------------------------------------------------------------------------------------------
# decode, neighbours
# --------------------------------------------------------------------------------------------
@app.command(
    "decode",
    help="Decode a 2D or 3D code: level, bbox, centre, positioning corner (定位角点), integer "
    "form (2D), height layer bottom/top in metres (3D).",
)
def decode_cmd(
    code: Annotated[str, typer.Argument(help="A 2D or 3D grid code (case-insensitive).")],
    dims: DimsOption = DimsOpt.auto,
    profile: ProfileOption = ProfileOpt.gb,
    fmt: FormatOption = Format.text,
) -> None:
    with _errors():
        cell = _decode_any(code, dims, profile.value)
        if fmt is Format.json:
            _print_json(_describe(cell))
        elif fmt is Format.geojson:
            _print_json(_feature(cell, {}))
        else:
            typer.echo(_text_lines(_describe(cell)))


@app.command(
    "neighbours",
    help="The 8 neighbours N NE E SE S SW W NW at the same level (3D codes: same height "
    "layer, plus up and down). Text: one 'DIR CODE' line each; '-' past the ±88° polar limit.",
)
def neighbours_cmd(
    code: Annotated[str, typer.Argument(help="A 2D or 3D grid code.")],
    dims: DimsOption = DimsOpt.auto,
    profile: ProfileOption = ProfileOpt.gb,
    fmt: FormatOption = Format.text,
) -> None:
    from yitu.grid.hierarchy import neighbours, vertical_neighbours

    with _errors():
        cell = _decode_any(code, dims, profile.value)
        result: dict[str, str | None]
        if isinstance(cell, Cell3D):
            result = {
                d: None if c is None else interleave(c, cell.layer)
                for d, c in neighbours(cell.code2d).items()
            }
            result.update(vertical_neighbours(cell.code, cell.profile))
        else:
            result = neighbours(cell.code)
        if fmt is Format.text:
            typer.echo("\n".join(f"{d:<4} {c or '-'}" for d, c in result.items()))
        elif fmt is Format.json:
            _print_json({"code": cell.code, "level": cell.level, "neighbours": result})
        else:
            features = []
            for d, c in result.items():
                if c is not None:
                    n_cell = _decode_any(c, DimsOpt.three if isinstance(cell, Cell3D)
                                         else DimsOpt.two, profile.value)
                    features.append(_feature(n_cell, {"direction": d}))
            _print_json({"type": "FeatureCollection", "features": features})


# --------------------------------------------------------------------------------------------
# cover
# --------------------------------------------------------------------------------------------
@app.command(
    "cover",
    help="The cells of --level covering a GeoJSON geometry: cells sharing area with its "
    "polygons, cells owning points of its lines and points. Text: one code per line.",
)
def cover_cmd(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.geojson",
            help="GeoJSON geometry, Feature or FeatureCollection ('-' = stdin).",
        ),
    ],
    level: Annotated[int, typer.Option("--level", "-l", help="Level 1-10 of the cells.")],
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="Merge complete sibling sets into their parent (mixed levels, same area).",
        ),
    ] = False,
    max_cells: Annotated[
        int | None,
        typer.Option("--max-cells", help="Refuse covers of more cells than this at --level "
                     "(default: the library's limit)."),
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    from yitu.grid import cover  # shapely: imported only when needed (faster CLI start)

    with _errors():
        check_level(level)
        if file == "-":
            text = typer.get_text_stream("stdin").read()
        else:
            text = Path(file).read_text(encoding="utf-8-sig")
        geometry = json.loads(text)
        limit = cover.DEFAULT_MAX_CELLS if max_cells is None else max_cells
        ints = cover.cover_cells(geometry, level, limit)
        if compact:
            ints = cover.compact(ints)
        codes = [c.decode("ascii") for c in vector.int_to_str(ints).tolist()] if ints.size else []
        if fmt is Format.text:
            if codes:
                typer.echo("\n".join(codes))
        elif fmt is Format.json:
            _print_json({"level": level, "compact": compact, "count": len(codes),
                         "codes": codes})
        else:
            features = [_feature(decode(c), {}) for c in codes]
            _print_json({"type": "FeatureCollection", "features": features})
