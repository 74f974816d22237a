"""Photo evidence: checked by content (Pillow reads the magic bytes and decodes the image; the
file name and the client's content type are ignored), size- and pixel-limited, stored on disk
content-addressed by SHA-256, with the EXIF geotag and capture time kept.

Nothing half-stored: every photo is validated before anything is written; files are written
during the transaction and a session listener deletes the ones this transaction created if it
rolls back (a file already present — the same photo in an earlier case — is never deleted).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session

from yitu.cases.config import get_case_settings
from yitu.cases.errors import field_error
from yitu.cases.models import Evidence

#: Image formats accepted (Pillow format name → MIME type).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heif"}
_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heif": ".heic"}
_NEW_FILES = "yitu.cases.new_files"


@dataclass(frozen=True)
class Photo:
    """A validated photo, ready to store."""

    data: bytes
    sha256: str
    mime: str
    width: int
    height: int
    taken_at: datetime | None
    lon: float | None
    lat: float | None

    @property
    def relpath(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}{_EXT[self.mime]}"


def _rational(v: Any) -> float:
    return float(v)


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # a corrupt GPS IFD is not a reason to refuse the photo
        return None, None
    try:
        lat_ref, lat, lon_ref, lon = gps[1], gps[2], gps[3], gps[4]

        def deg(dms: Any) -> float:
            d, m, s = (_rational(x) for x in dms)
            return d + m / 60 + s / 3600

        la, lo = deg(lat), deg(lon)
        if str(lat_ref).upper().startswith("S"):
            la = -la
        if str(lon_ref).upper().startswith("W"):
            lo = -lo
        if -90 <= la <= 90 and -180 <= lo <= 180:
            return lo, la
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    return None, None


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        raw = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
            ExifTags.Base.DateTime
        )
    except Exception:
        return None
    if not raw:
        return None
    try:
        # EXIF time has no zone; phones in China write Beijing time (UTC+8).
        from zoneinfo import ZoneInfo

        local = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        return local.replace(tzinfo=ZoneInfo(get_case_settings().timezone)).astimezone(UTC)
    except ValueError:
        return None


def validate_photo(data: bytes, index: int = 0, field: str = "photos") -> Photo:
    """Check one photo by its content; a 422 naming ``photos[index]`` otherwise."""
    settings = get_case_settings()
    name = f"{field}[{index}]"
    if not data:
        raise field_error(name, "is empty")
    if len(data) > settings.max_photo_bytes:
        raise field_error(name, f"is larger than {settings.max_photo_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in FORMATS:
                    raise field_error(name, "must be a JPEG, PNG, WebP or HEIF image")
                if width * height > settings.max_photo_pixels:
                    raise field_error(name, f"has more than {settings.max_photo_pixels} pixels")
                probe.verify()  # structure check without a full decode
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # a truncated or corrupt body fails here
                exif = img.getexif()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise field_error(name, "is not an image (JPEG, PNG, WebP or HEIF)") from None
    except (OSError, SyntaxError, ValueError):
        raise field_error(name, "is a damaged or truncated image") from None
    lon, lat = _gps(exif)
    return Photo(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        mime=FORMATS[fmt],
        width=width,
        height=height,
        taken_at=_taken_at(exif),
        lon=lon,
        lat=lat,
    )


def validate_photos(raw: Sequence[bytes | Photo], field: str = "photos") -> list[Photo]:
    settings = get_case_settings()
    if len(raw) > settings.max_photos:
        raise field_error(field, f"at most {settings.max_photos} photos")
    return [p if isinstance(p, Photo) else validate_photo(p, i, field) for i, p in enumerate(raw)]


def store(
    session: Session,
    photos: Sequence[Photo],
    evidence_dir: Path,
    *,
    case_id: int,
    node_id: int,
    event_id: int | None,
    at: datetime,
) -> list[Evidence]:
    """Write the photos and add their rows to the session. Files new to the disk are removed
    again if this transaction rolls back."""
    created: list[Path] = session.info.setdefault(_NEW_FILES, [])
    rows = []
    for p in photos:
        target = evidence_dir / p.relpath
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
            tmp.write_bytes(p.data)
            os.replace(tmp, target)  # atomic: a reader never sees half a photo
            created.append(target)
        ev = Evidence(
            case_id=case_id,
            node_id=node_id,
            event_id=event_id,
            path=p.relpath,
            sha256=p.sha256,
            size=len(p.data),
            mime=p.mime,
            width=p.width,
            height=p.height,
            taken_at=p.taken_at,
            lon=p.lon,
            lat=p.lat,
            created_at=at,
        )
        session.add(ev)
        rows.append(ev)
    return rows


@event.listens_for(Session, "after_commit")
def _keep_files(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


@event.listens_for(Session, "after_rollback")
def _remove_files(session: Session) -> None:
    for path in session.info.pop(_NEW_FILES, []):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def default_evidence_dir() -> Path:
    from yitu.core.settings import get_settings

    return get_settings().data_dir / "evidence"
