"""CloudKitty's own v2 storage backends, driven by the tests and the bench.

The code on the other side is CloudKitty's (cloudkitty from PyPI): its
OpenSearchStorage or ElasticsearchStorage writes CloudKitty indices that
ratestore migrates, reads ratestore's partitions, and is the baseline that
`npm run bench` times ratestore against. Commands come as JSON lines on
stdin, answers go as JSON lines on stdout; amounts are written as text so
that nothing is rounded on the way.
"""
import datetime
import json
import sys
import time

from cloudkitty import dataframe
from cloudkitty.storage.v2 import elasticsearch
from cloudkitty.storage.v2 import opensearch
from oslo_config import cfg
import requests

BACKENDS = {
    'opensearch': (opensearch.OpenSearchStorage, 'storage_opensearch'),
    'elasticsearch': (elasticsearch.ElasticsearchStorage,
                      'storage_elasticsearch'),
}


def _dt(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def _text(value):
    return None if value is None else repr(value)


def _frames(path):
    with open(path) as source:
        for line in source:
            if line.strip():
                yield dataframe.DataFrame.from_dict(json.loads(line))


class Driver(object):

    def __init__(self, url, index, backend='opensearch', create=False,
                 fresh=False):
        storage_class, group = BACKENDS[backend]
        cfg.CONF([], project='cloudkitty', default_config_files=[])
        cfg.CONF.set_override('host', url, group)
        cfg.CONF.set_override('index_name', index, group)
        self.url = url
        self.index = index
        if fresh:
            requests.delete('%s/%s' % (url, index), timeout=60)
            requests.put('%s/%s' % (url, index), timeout=60).raise_for_status()
        self.storage = storage_class()
        if create:
            # CloudKitty's own set-up of its (existing) index.
            self.storage.init()

    def push(self, path):
        points = 0
        for frame in _frames(path):
            points += len(list(frame.iterpoints()))
            self.storage.push([frame])
        return {'points': points}

    def load(self, path):
        """push(), then the index's document count and the time taken."""
        started = time.perf_counter()
        points = self.push(path)['points']
        requests.post('%s/%s/_refresh' % (self.url, self.index), timeout=600)
        # The mapping document CloudKitty's init() writes is not a point.
        count = requests.get('%s/%s/_count' % (self.url, self.index),
                             timeout=60).json()['count']
        return {'points': points, 'documents': count,
                'seconds': time.perf_counter() - started}

    def total(self, begin, end, groupby=None, paginate=False, limit=1000):
        result = self.storage.total(groupby=groupby, begin=_dt(begin),
                                    end=_dt(end), paginate=paginate,
                                    limit=limit)
        rows = []
        for row in result['results']:
            out = {k: v for k, v in row.items()
                   if k not in ('begin', 'end', 'qty', 'rate')}
            out['qty'] = _text(row['qty'])
            out['rate'] = _text(row['rate'])
            rows.append(out)
        return {'total': result['total'], 'results': rows}

    def retrieve(self, begin, end, offset=0, limit=1000, paginate=False):
        result = self.storage.retrieve(begin=_dt(begin), end=_dt(end),
                                       offset=offset, limit=limit,
                                       paginate=paginate)
        points = sum(len(list(f.iterpoints())) for f in result['dataframes'])
        return {'total': result['total'], 'points': points}

    def timed(self, call, runs, step=0, **args):
        """Runs `call` `runs` times after one warm-up run, in milliseconds.

        With `step`, run k (the warm-up is run 0) asks at `offset` + k *
        `step`, as the benchmark's side does: a page of its own each time.
        """
        call = getattr(self, call)

        def args_of(run):
            if not step:
                return args
            return dict(args, offset=args['offset'] + run * step)

        call(**args_of(0))
        times = []
        for run in range(1, runs + 1):
            started = time.perf_counter()
            result = call(**args_of(run))
            times.append((time.perf_counter() - started) * 1000)
        summary = {k: v for k, v in result.items() if k != 'results'}
        summary['rows'] = len(result.get('results', []))
        return dict(summary, ms=times)


def main():
    driver = None
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop('op')
        if op == 'init':
            driver = Driver(**command)
            answer = {'ready': True}
        else:
            answer = getattr(driver, op)(**command)
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
