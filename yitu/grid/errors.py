"""Errors of the grid library: ``ValueError`` subclasses whose message names the fault."""


class GridError(ValueError):
    """Base class for every error of ``yitu.grid``."""


class CoordinateError(GridError):
    """A longitude, latitude or height that cannot be encoded (NaN, out of range, polar cap)."""


class InvalidCodeError(GridError):
    """A malformed grid code: bad length, a bad character, a digit out of range for its level.

    ``position`` is the 1-based character position at fault, when there is one.
    """

    def __init__(self, message: str, position: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.position = position
        #: What is wrong, without the code or position (lets 3D decoding restate it).
        self.reason = reason
