"""Schemathesis hooks for ratestore's OpenAPI run.

JSON Schema cannot say that a period's end comes after its begin, nor that
an instant written with a UTC offset must still fall between 1970 and 9999
once the offset is applied, so the generator is told here: cases that break
either rule are dropped before they are sent. Nothing else is filtered or
changed.
"""
import datetime
import os

import schemathesis

# The API's range of instants in epoch seconds: up to 9999-12-31T23:59:59.999Z.
_LAST = datetime.datetime(9999, 12, 31, 23, 59, 59, 999000,
                          tzinfo=datetime.timezone.utc).timestamp()


def _instant(value):
    """Seconds since the epoch of a timestamp in one of the API's forms.

    Python's fromisoformat reads every ISO 8601 form the published patterns
    admit (extended and basic, date only, a space for T, no seconds, offsets
    with or without a colon); epoch seconds are digits with an optional
    fraction. None for anything else: the server decides on those.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _forward(begin, end):
    first, last = _instant(begin), _instant(end)
    for moment in (first, last):
        if moment is not None and not 0 <= moment <= _LAST:
            return False
    return first is None or last is None or first < last


def _forward_body(body):
    if not isinstance(body, dict):
        return True
    for frame in body.get("dataframes") or []:
        period = frame.get("period") if isinstance(frame, dict) else None
        if isinstance(period, dict):
            if not _forward(period.get("begin"), period.get("end")):
                return False
    return True


# The case hooks, not the body and query ones: schemathesis applies only the
# case hooks in every phase, its coverage phase included.
@schemathesis.hook
def filter_case(ctx, case):
    query = case.query if isinstance(case.query, dict) else {}
    return (_forward(query.get("begin"), query.get("end"))
            and _forward_body(case.body))


@schemathesis.hook
def map_case(ctx, case):
    """With a project key, points must carry the key's scope.

    That rule depends on the key, which JSON Schema cannot express: with
    RATESTORE_HOOK_SCOPE set, each generated point is given that scope.
    """
    scope = os.environ.get("RATESTORE_HOOK_SCOPE")
    body = case.body
    if not scope or not isinstance(body, dict):
        return case
    for frame in body.get("dataframes") or []:
        usage = frame.get("usage") if isinstance(frame, dict) else None
        for points in (usage or {}).values():
            for point in points if isinstance(points, list) else []:
                if isinstance(point, dict) and isinstance(
                        point.get("groupby"), dict):
                    point["groupby"]["project_id"] = scope
    return case
