"""Reading guild-management request bodies the way Discord checks them.

Each reader takes the parsed body, a field name and the ``problems`` collected so far; a bad
value adds Discord's form error for that field (``{"nick": [("BASE_TYPE_MAX_LENGTH", ...)]}``)
and the handler raises them all at once with :func:`fail_on` (400 50035 naming every field).
``X-Audit-Log-Reason`` arrives URL-encoded (discord.py quotes it); :func:`audit_reason` decodes.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

from .. import _errors as errors
from .._app import Call
from .._errors import DiscordError
from .._model import JSONObject
from .._snowflake import parse_snowflake

Problems = dict[str, list[tuple[str, str]]]

MAX_REASON = 512
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def audit_reason(call: Call) -> str | None:
    """The ``X-Audit-Log-Reason`` header, URL-decoded (None when absent or blank)."""
    raw = call.request.headers.get("X-Audit-Log-Reason")
    if raw is None:
        return None
    reason = urllib.parse.unquote(raw).strip()
    return reason[:MAX_REASON] or None


def fail_on(problems: Problems) -> None:
    """Raise 400 50035 listing every problem, if there are any."""
    if problems:
        raise errors.form_error(problems)


async def json_array(call: Call) -> list[Any]:
    """The body as a JSON array (50109 if not JSON; 50035 if not an array)."""
    raw = await call.request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_json() from None
    if not isinstance(body, list):
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]},
        )
    return body


def string(
    payload: JSONObject,
    key: str,
    problems: Problems,
    *,
    low: int = 0,
    high: int,
    required: bool = False,
    where: str | None = None,
) -> str | None:
    """A string field of ``low``..``high`` characters (None when absent or null)."""
    where = where or key
    value = payload.get(key)
    if value is None:
        if required:
            problems[where] = [("BASE_TYPE_REQUIRED", "This field is required")]
        return None
    if not isinstance(value, str):
        problems[where] = [("BASE_TYPE_STRING", f'Could not interpret "{value}" as string.')]
        return None
    if not low <= len(value) <= high:
        if low == 0:
            problems[where] = [("BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")]
        else:
            problems[where] = [
                ("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
            ]
        return None
    return value


def integer(
    payload: JSONObject,
    key: str,
    problems: Problems,
    *,
    low: int = INT32_MIN,
    high: int = INT32_MAX,
    where: str | None = None,
) -> int | None:
    """An integer field within ``low``..``high`` (32-bit unless told; None when absent/null)."""
    where = where or key
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        else:
            problems[where] = [("NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')]
            return None
    if value < low:
        problems[where] = [
            ("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        ]
        return None
    if value > high:
        problems[where] = [
            ("NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")
        ]
        return None
    return value


def boolean(payload: JSONObject, key: str, problems: Problems) -> bool | None:
    """A boolean field (None when absent or null)."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        problems[key] = [("BASE_TYPE_BOOLEAN", "Must be either true or false.")]
        return None
    return value


def snowflake(
    payload: JSONObject, key: str, problems: Problems, where: str | None = None
) -> int | None:
    """A snowflake field, as a string or an integer (None when absent or null)."""
    value = payload.get(key)
    if value is None:
        return None
    parsed = parse_snowflake(value) if not isinstance(value, bool) else None
    if parsed is None:
        problems[where or key] = [("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')]
    return parsed


def snowflakes(payload: JSONObject, key: str, problems: Problems) -> list[int] | None:
    """A list of snowflakes (None when absent or null)."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        problems[key] = [("BASE_TYPE_ARRAY", "Must be an array.")]
        return None
    out = []
    for index, item in enumerate(value):
        parsed = parse_snowflake(item) if not isinstance(item, bool) else None
        if parsed is None:
            problems[f"{key}.{index}"] = [
                ("NUMBER_TYPE_COERCE", f'Value "{item}" is not snowflake.')
            ]
        else:
            out.append(parsed)
    return out


def permissions(payload: JSONObject, key: str, problems: Problems) -> int | None:
    """A permission bit set, as a decimal string or an integer (None when absent or null)."""
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    problems[key] = [("NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')]
    return None


def timestamp(payload: JSONObject, key: str, problems: Problems) -> dt.datetime | None:
    """An ISO 8601 timestamp (UTC when it has no offset); None when absent or null."""
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    problems[key] = [("DATE_TIME_TYPE_PARSE", f'Could not parse "{value}". Should be ISO8601.')]
    return None
