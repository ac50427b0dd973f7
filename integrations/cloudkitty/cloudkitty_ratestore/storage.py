"""CloudKitty v2 storage backend over ratestore's HTTP API.

Registered as `ratestore` in the `cloudkitty.storage.v2.backends` entry
point group; configured in [storage_ratestore] (see opts.py).
"""
import datetime
import decimal

from cloudkitty import dataframe
from cloudkitty.storage import v2 as v2_storage
from cloudkitty.utils import tz as tzutils
from oslo_config import cfg
from oslo_log import log as logging

from cloudkitty_ratestore import client as ratestore_client
from cloudkitty_ratestore import opts

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
# The label a scope's points carry, for replacing a scope's rating.
CONF.import_opt('scope_key', 'cloudkitty.collector', 'collect')

# ratestore stores amounts exactly with 9 decimal places and refuses finer
# ones; CloudKitty's Decimals can be longer (Decimal(0.152) has 55 digits).
NANO = decimal.Decimal('0.000000001')


def _amount(value):
    """An amount as an exact decimal string of at most 9 decimal places."""
    quantized = decimal.Decimal(value).quantize(
        NANO, rounding=decimal.ROUND_HALF_EVEN)
    return format(quantized.normalize(), 'f')


def _instant(moment):
    """A datetime as ISO 8601 in UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return tzutils.local_to_utc(moment).strftime('%Y-%m-%dT%H:%M:%S+00:00')


def _filters(filters, metric_types):
    pairs = []
    for key, value in sorted((filters or {}).items()):
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append('%s:%s' % (key, item))
    if metric_types:
        types = metric_types if isinstance(metric_types, (list, tuple)) \
            else [metric_types]
        pairs.extend('type:%s' % t for t in types)
    return pairs


def _window(begin, end):
    """The read window, or None when it is empty.

    It defaults to the current month, as in CloudKitty's Elasticsearch and
    OpenSearch backends.
    """
    begin = begin or tzutils.get_month_start()
    end = end or tzutils.get_next_month()
    if _utc(begin) >= _utc(end):
        return None
    return {'begin': _instant(begin), 'end': _instant(end)}


def _delete_window(begin, end):
    params = {}
    if begin is not None:
        params['begin'] = _instant(begin)
    if end is not None:
        params['end'] = _instant(end)
    return params


def _utc(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def _decimal(value):
    return value if isinstance(value, decimal.Decimal) \
        else decimal.Decimal(str(value))


def _label(value):
    # Numbers come back from the decoder as Decimal; labels keep their JSON
    # type as CloudKitty's other backends return it (int where integral).
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() \
            else float(value)
    return value


class RatestoreStorage(v2_storage.BaseStorage):
    """Stores and reads rated dataframes through ratestore's HTTP API."""

    def __init__(self, *args, **kwargs):
        super(RatestoreStorage, self).__init__(*args, **kwargs)
        conf = CONF[opts.GROUP]
        verify = False if conf.insecure else (conf.cafile or True)
        self._client = ratestore_client.RatestoreClient(
            conf.url, api_key=conf.api_key, timeout=conf.timeout,
            verify=verify, retries=conf.retries)

    def init(self):
        resp = self._client.request('GET', '/readyz', accept=(200,))
        LOG.info('ratestore is ready: %s', resp.text[:200])

    def push(self, dataframes, scope_id=None):
        frames = []
        for frame in dataframes:
            usage = {}
            for metric_type, point in frame.iterpoints():
                usage.setdefault(metric_type, []).append({
                    'vol': {'unit': point.unit, 'qty': _amount(point.qty)},
                    'rating': {'price': _amount(point.price)},
                    'groupby': dict(point.groupby),
                    'metadata': dict(point.metadata),
                })
            if scope_id is not None:
                self._clear_scope(frame.start, frame.end, scope_id)
            if usage:
                frames.append({'period': {'begin': _instant(frame.start),
                                          'end': _instant(frame.end)},
                               'usage': usage})
        if frames:
            # A refusal raises PointsNotStored naming every point concerned.
            self._client.request('POST', '/v2/dataframes',
                                 body={'dataframes': frames}, accept=(204,))

    def _clear_scope(self, begin, end, scope_id):
        """Removes what ratestore holds for a scope in a period it is pushing.

        CloudKitty's processor (the one caller that names a scope) pushes a
        scope's whole rating of a period, so that rating replaces the one
        stored, as InfluxDB overwrites a point of the same tags and time.
        Without this a re-rating would sit beside the rating it replaces:
        reprocessing re-rates the period that begins at its window's end
        without deleting it first, and a push that failed part-way and is
        retried after a price change would keep the points stored by the
        failed attempt. A period being rated for the first time holds
        nothing, and costs one count.
        """
        params = {'begin': _instant(begin), 'end': _instant(end),
                  'filters': _filters({CONF.collect.scope_key: scope_id},
                                      None)}
        resp = self._client.request('GET', '/v2/dataframes',
                                    params=dict(params, limit=1),
                                    accept=(200, 404))
        # 404: no point matches, as CloudKitty's API answers.
        held = 0 if resp.status_code == 404 \
            else int(self._client.decode(resp)['total'])
        if held:
            LOG.info('ratestore holds %s points of scope %s in [%s, %s): '
                     'replacing them with this rating', held, scope_id,
                     params['begin'], params['end'])
            self._client.request('DELETE', '/v2/dataframes', params=params,
                                 accept=(200,))

    def retrieve(self, begin=None, end=None, filters=None, metric_types=None,
                 offset=0, limit=1000, paginate=True):
        params = _window(begin, end)
        if params is None:
            return {'total': 0, 'dataframes': []}
        params['filters'] = _filters(filters, metric_types)
        if paginate:
            params.update(offset=offset, limit=limit)
        else:
            params['paginate'] = 'false'
        resp = self._client.request('GET', '/v2/dataframes', params=params,
                                    accept=(200, 404))
        if resp.status_code == 404:
            return {'total': 0, 'dataframes': []}
        body = self._client.decode(resp)
        frames = []
        for raw in body['dataframes']:
            start = tzutils.dt_from_iso(raw['period']['begin'])
            stop = tzutils.dt_from_iso(raw['period']['end'])
            # ratestore cuts a large period into several frames; CloudKitty
            # gives one per period.
            if not frames or (frames[-1].start, frames[-1].end) != (start,
                                                                    stop):
                frames.append(dataframe.DataFrame(start=start, end=stop))
            for metric_type, points in raw['usage'].items():
                frames[-1].add_points([dataframe.DataPoint(
                    p['vol']['unit'],
                    _decimal(p['vol']['qty']),
                    _decimal(p['rating']['price']),
                    {k: _label(v) for k, v in p['groupby'].items()},
                    {k: _label(v) for k, v in p['metadata'].items()},
                ) for p in points], metric_type)
        return {'total': int(body['total']), 'dataframes': frames}

    def delete(self, begin=None, end=None, filters=None):
        params = _delete_window(begin, end)
        params['filters'] = _filters(filters, None)
        resp = self._client.request('DELETE', '/v2/dataframes',
                                    params=params, accept=(200,))
        LOG.info('ratestore deleted %s points',
                 self._client.decode(resp).get('deleted'))

    def total(self, groupby=None, begin=None, end=None, metric_types=None,
              filters=None, custom_fields=None, offset=0, limit=1000,
              paginate=True):
        if custom_fields:
            # As CloudKitty's OpenSearch backend: rows are qty and rate.
            LOG.warning("'custom_fields' are not supported by the ratestore "
                        "backend; the custom fields [%s] are ignored and "
                        "qty and rate are returned.", custom_fields)
        params = _window(begin, end)
        if params is None:
            return {'total': 0, 'results': []}
        # time-d, time-w, time-m and time-y group by the collector's
        # day_of_the_year, week_of_the_year, month and year groupby keys, as
        # in CloudKitty's Elasticsearch and OpenSearch backends.
        groupby = self.parse_groupby_syntax_to_groupby_elements(groupby)
        params.update(filters=_filters(filters, metric_types),
                      groupby=list(groupby or []),
                      response_format='object')
        if paginate:
            params.update(offset=offset, limit=limit)
        else:
            params['paginate'] = 'false'
        resp = self._client.request('GET', '/v2/summary', params=params,
                                    accept=(200,))
        body = self._client.decode(resp)
        results = []
        for row in body['results']:
            out = {
                'begin': tzutils.dt_from_iso(row.pop('begin')),
                'end': tzutils.dt_from_iso(row.pop('end')),
                'qty': _decimal(row.pop('qty')),
                'rate': _decimal(row.pop('rate')),
            }
            out.update((k, _label(v)) for k, v in row.items())
            results.append(out)
        return {'total': int(body['total']), 'results': results}
