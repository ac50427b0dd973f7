"""Schemathesis hooks for ratestore's OpenAPI run.

JSON Schema cannot say that a period's end comes after its begin, so the
generator is told here: cases whose window runs backwards are dropped before
they are sent. Nothing else is filtered or changed.
"""
import datetime
import os

import schemathesis

_FORMATS = ("%Y%m%dT%H%M%S%z", "%Y-%m-%dT%H:%M:%S%z",
            "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S.%f")


def _instant(value):
    """Seconds since the epoch of a timestamp in one of the API's forms."""
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    if value.isdigit():
        return float(value)
    text = value[:-1] + "+0000" if value.endswith("Z") else value
    text = text.replace("+00:00", "+0000")
    for fmt in _FORMATS:
        try:
            moment = datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    return None


def _forward(begin, end):
    first, last = _instant(begin), _instant(end)
    return first is None or last is None or first < last


@schemathesis.hook
def filter_query(ctx, query):
    if not query:
        return True
    return _forward(query.get("begin"), query.get("end"))


@schemathesis.hook
def filter_body(ctx, body):
    if not isinstance(body, dict):
        return True
    for frame in body.get("dataframes") or []:
        period = frame.get("period") if isinstance(frame, dict) else None
        if isinstance(period, dict):
            if not _forward(period.get("begin"), period.get("end")):
                return False
    return True


@schemathesis.hook
def map_body(ctx, body):
    """With a project key, points must carry the key's scope.

    That rule depends on the key, which JSON Schema cannot express: with
    RATESTORE_HOOK_SCOPE set, each generated point is given that scope.
    """
    scope = os.environ.get("RATESTORE_HOOK_SCOPE")
    if not scope or not isinstance(body, dict):
        return body
    for frame in body.get("dataframes") or []:
        usage = frame.get("usage") if isinstance(frame, dict) else None
        for points in (usage or {}).values():
            for point in points if isinstance(points, list) else []:
                if isinstance(point, dict) and isinstance(
                        point.get("groupby"), dict):
                    point["groupby"]["project_id"] = scope
    return body
