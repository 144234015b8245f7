"""Server log lines that a client cannot multiply: the same message at most a few times a minute.

A flood of bad connections (slow clients, malformed requests, a full file table) used to write
a line, often a traceback, per connection: 113 MB of log in 40 s. :class:`RateLimit` is a
logging filter keyed by the message's template (its first line, before arguments are filled
in), so one client address or one socket more makes no new key: the first ``burst`` records of
a key in each ``window_s`` pass, the first with its traceback and the others without; the rest
are counted, and the next record of that key that passes says how many were left out.

Examples
--------
>>> import logging
>>> f = RateLimit(burst=2, window_s=60)
>>> records = [logging.LogRecord("uvicorn.error", logging.WARNING, "", 0, "Invalid HTTP request from %s",
...                              (f"10.0.0.{i}",), None) for i in range(5)]
>>> [f.filter(r) for r in records]
[True, True, False, False, False]
>>> f.dropped()
3
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["LOGGERS", "RateLimit", "install", "uninstall"]

#: The loggers a client's behaviour can make speak: uvicorn's protocol errors, asyncio's accept
#: errors, segmint's own server log. (The access log, off by default, is one line per request by
#: design and is not limited.)
LOGGERS = ("uvicorn.error", "asyncio", "segmint.server")


class RateLimit(logging.Filter):
    """Pass at most ``burst`` records per message template per ``window_s`` seconds."""

    def __init__(self, burst: int = 5, window_s: float = 60.0, max_keys: int = 1000) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: dict[tuple[str, int, str], list[float | int]] = {}  # key -> [window start, passed, dropped]
        self._lock = threading.Lock()
        self._dropped_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg).split("\n", 1)[0][:200])
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window_s:
                if len(self._seen) >= self.max_keys:  # bound memory whatever the messages
                    self._seen.clear()
                held = 0 if entry is None else int(entry[2])
                entry = self._seen[key] = [now, 0, 0]
            else:
                held = 0
            if entry[1] >= self.burst:
                entry[2] += 1
                self._dropped_total += 1
                return False
            entry[1] += 1
            first = entry[1] == 1
        if held:
            record.msg = f"{record.msg} [{held} more like this in the previous {self.window_s:.0f} s not logged]"
        if not first and record.exc_info:  # one traceback per message per window is enough
            record.exc_info = None
            record.exc_text = None
        return True

    def dropped(self) -> int:
        """Records left out since this filter was made."""
        return self._dropped_total


def install(burst: int = 5, window_s: float = 60.0) -> RateLimit:
    """Put one :class:`RateLimit` on each of :data:`LOGGERS` (again after uvicorn configured logging)."""
    limit = RateLimit(burst, window_s)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RateLimit)]:
            logger.removeFilter(old)
        logger.addFilter(limit)
    return limit


def uninstall(limit: RateLimit) -> None:
    """Take ``limit`` off :data:`LOGGERS` again (when the server stops)."""
    for name in LOGGERS:
        logging.getLogger(name).removeFilter(limit)
