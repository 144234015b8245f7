"""When a failed delivery is tried again: the Standard Webhooks schedule, jitter and ``Retry-After``.

A message is attempted at most eight times: immediately, then 5 seconds, 5 minutes,
30 minutes, 2 hours, 5 hours, 10 hours and 10 hours after each failure (the schedule the
Standard Webhooks specification gives as its example), each wait stretched by a random
jitter of up to 10% so that a receiver that comes back is not hit by every sender at once.
A ``Retry-After`` header (seconds or an HTTP date) longer than the schedule's wait is
honoured. After the eighth failure the message goes to the dead letters
(``segmint deliveries``), from where ``segmint deliveries retry`` sends it again.

Examples
--------
>>> [delay(n, jitter=0.0) for n in range(1, 9)]
[0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
>>> delay(9) is None  # no ninth attempt: a dead letter
True
>>> delay(2, retry_after="120", jitter=0.0)
120.0
>>> 5.0 <= delay(2, jitter=0.1, rng=__import__("random").Random(1)) <= 5.5
True
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random

__all__ = ["ATTEMPTS", "SCHEDULE_S", "delay", "parse_retry_after"]

#: Seconds to wait before attempt 1, 2, ... 8 (after the previous attempt failed).
SCHEDULE_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
ATTEMPTS = len(SCHEDULE_S)

#: The longest ``Retry-After`` honoured (a receiver cannot park a message for a year).
MAX_RETRY_AFTER_S = 36000.0


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or None.

    Examples
    --------
    >>> parse_retry_after("30")
    30.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=dt.datetime(2015, 10, 21, 7, 28, 0))
    30.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def delay(attempt: int, retry_after: str | None = None, jitter: float = 0.1,
          rng: random.Random | None = None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait before attempt number ``attempt`` (1-based), or None when there is none.

    Parameters
    ----------
    attempt : int
        The attempt about to be scheduled: 1 is the first try, 2 the first retry.
    retry_after : str, optional
        The failed response's ``Retry-After`` header, honoured when longer than the schedule.
    jitter : float, default 0.1
        Up to this share of the wait is added at random.
    """
    if attempt < 1 or attempt > ATTEMPTS:
        return None
    wait = SCHEDULE_S[attempt - 1]
    if jitter and wait:
        wait += wait * jitter * (rng or random).random()
    asked = parse_retry_after(retry_after, now)
    return max(wait, asked) if asked is not None else wait
