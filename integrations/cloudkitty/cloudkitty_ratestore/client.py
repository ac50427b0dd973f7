"""HTTP client of ratestore's CloudKitty-compatible API."""
import decimal
import json
import time

from oslo_log import log as logging
import requests

LOG = logging.getLogger(__name__)

# Longest wait honoured from a Retry-After header, in seconds.
MAX_RETRY_AFTER = 30.0


class RatestoreError(Exception):
    """ratestore refused a request or could not be reached."""

    def __init__(self, message, status=None, details=None):
        super(RatestoreError, self).__init__(message)
        self.status = status
        self.details = details or []


class PointsNotStored(RatestoreError):
    """Some points of a push were not stored; `details` names each one."""


class RatestoreClient(object):

    def __init__(self, url, api_key=None, timeout=60.0, verify=True,
                 retries=5, sleep=time.sleep):
        self._url = url.rstrip('/')
        self._timeout = timeout
        self._retries = retries
        self._sleep = sleep
        self._session = requests.Session()
        self._session.verify = verify
        if api_key:
            self._session.headers['X-Auth-Token'] = api_key

    def request(self, method, path, params=None, body=None,
                accept=(200, 204)):
        """Sends a request; 503 is retried after Retry-After.

        Returns the response. Statuses outside `accept` raise RatestoreError
        (PointsNotStored for a push that stored only part of its points).
        """
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = 'application/json'
        for attempt in range(self._retries + 1):
            try:
                resp = self._session.request(
                    method, self._url + path, params=params, data=data,
                    headers=headers, timeout=self._timeout)
            except requests.RequestException as e:
                if attempt >= self._retries:
                    raise RatestoreError(
                        'ratestore unreachable on %s %s: %s'
                        % (method, path, e))
                self._sleep(min(2 ** attempt, MAX_RETRY_AFTER))
                continue
            if resp.status_code == 503 and attempt < self._retries:
                delay = _retry_after(resp, default=2 ** attempt)
                LOG.warning('ratestore answered 503 on %s %s; retrying in '
                            '%.1f s', method, path, delay)
                self._sleep(delay)
                continue
            if resp.status_code in accept:
                return resp
            raise _error_of(method, path, resp)
        raise RatestoreError('unreachable')  # pragma: no cover

    @staticmethod
    def decode(resp):
        """The JSON body, every number read as an exact Decimal."""
        return json.loads(resp.text, parse_float=decimal.Decimal,
                          parse_int=decimal.Decimal)


def _retry_after(resp, default):
    try:
        return min(float(resp.headers.get('Retry-After', default)),
                   MAX_RETRY_AFTER)
    except ValueError:
        return default


def _error_of(method, path, resp):
    try:
        body = resp.json()
    except ValueError:
        body = {}
    message = body.get('message') or resp.text[:500]
    details = body.get('details') or []
    listed = '; '.join('%s: %s' % (d.get('path'), d.get('message'))
                       for d in details[:20])
    text = 'ratestore refused %s %s (%d): %s%s' % (
        method, path, resp.status_code, message,
        (' [' + listed + (' ...' if len(details) > 20 else '') + ']')
        if listed else '')
    cls = PointsNotStored if body.get('error') in (
        'points_not_stored', 'push_interrupted') else RatestoreError
    return cls(text, status=resp.status_code, details=details)
