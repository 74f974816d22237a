"""Per-client token buckets for the public endpoints (the citizen report has no account).

In process and in memory: each worker process keeps its own buckets, so with N workers a
client gets up to N times the burst. That is enough to stop a script flooding the case
desk with reports from one address; a county behind a reverse proxy runs uvicorn with
``--proxy-headers --forwarded-allow-ips <proxy>`` so ``request.client.host`` is the citizen's
address, not the proxy's.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``per_hour`` tokens an hour.

    At most ``max_keys`` buckets are kept (least recently used dropped first): a dropped key
    starts again with a full bucket, which only ever errs towards letting a citizen through.
    """

    def __init__(
        self,
        per_hour: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_hour <= 0 or burst < 1:
            raise ValueError("per_hour must be > 0 and burst >= 1")
        self.rate = per_hour / 3600.0  # tokens per second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> tokens, at

    def take(self, key: str) -> int:
        """Take a token for ``key``: 0 if granted, else the whole seconds until one is due."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0
            else:
                wait = max(1, math.ceil((1.0 - tokens) / self.rate))
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait
