"""Field types the routes share: what a request may send, checked where it comes in (issue 15's contract).

pydantic's lax mode reads ``0`` as the date 1970-01-01, ``0.5`` as a time half a second after the
epoch and ``0`` or ``"no"`` as ``False``; the OpenAPI document says a date is text and a flag is a
JSON boolean, so anything else is a 422 with the API's error shape, before a route runs.

Examples
--------
>>> from pydantic import TypeAdapter
>>> TypeAdapter(IsoDate).validate_python("2025-06-01")
datetime.date(2025, 6, 1)
>>> TypeAdapter(IsoDateTime).validate_python("2025-06-01T12:00:00+02:00")  # naive UTC, as the store keeps times
datetime.datetime(2025, 6, 1, 10, 0)
>>> try:
...     TypeAdapter(IsoDateTime).validate_python(0.5)
... except ValueError as exc:
...     print(exc.errors()[0]["msg"])
Value error, a time is written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z]
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

__all__ = ["IsoDate", "IsoDateTime", "Text", "Note"]

_DATE = r"\d{4}-\d{2}-\d{2}"
_DATETIME = _DATE + r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"


def _iso_only(value: Any) -> Any:
    """A date is the text YYYY-MM-DD: not a number (pydantic's lax mode reads ``0`` as 1970-01-01) or a datetime."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(_DATE, value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _iso_datetime_only(value: Any) -> Any:
    """A time is ISO 8601 text (a date alone is its midnight), not a number of seconds since the epoch."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(_DATETIME, value):
        raise ValueError("a time is written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z]")
    return value


def _naive_utc(value: dt.datetime) -> dt.datetime:
    # The store keeps naive UTC times: an offset is converted, not dropped (10:00+02:00 is 08:00).
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


#: A calendar date given as ISO text; anything else is a 422 validation error.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]
#: A time given as ISO text (no offset: UTC), as naive UTC; anything else is a 422 validation error.
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime_only), AfterValidator(_naive_utc)]
#: A name or id from a request: printable text (a NUL or another control character is refused with 422).
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
#: Free text for people (a reason, a note): may be empty, no control characters.
Note = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
