"""CloudKitty's own OpenSearch storage backend, driven for npm run bench.

The baseline is CloudKitty's code (cloudkitty from PyPI), not a
re-implementation: its OpenSearchStorage pushes the benchmark's dataset into
an index of its own on the bench node, then times total() and retrieve().
Commands come as JSON lines on stdin, answers go as JSON lines on stdout.
"""
import datetime
import json
import sys
import time

from cloudkitty import dataframe
from cloudkitty.storage.v2 import opensearch
from oslo_config import cfg
import requests

BATCH_POINTS = 5000


def _dt(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def _frames(path):
    with open(path) as source:
        for line in source:
            if line.strip():
                yield dataframe.DataFrame.from_dict(json.loads(line))


class Baseline(object):

    def __init__(self, url, index):
        cfg.CONF([], project='cloudkitty', default_config_files=[])
        cfg.CONF.set_override('host', url, 'storage_opensearch')
        cfg.CONF.set_override('index_name', index, 'storage_opensearch')
        self.url = url
        self.index = index
        requests.delete('%s/%s' % (url, index), timeout=60)
        requests.put('%s/%s' % (url, index), timeout=60).raise_for_status()
        self.storage = opensearch.OpenSearchStorage()
        self.storage.init()

    def load(self, path):
        started = time.perf_counter()
        points = 0
        for frame in _frames(path):
            points += len(list(frame.iterpoints()))
            self.storage.push([frame])
        requests.post('%s/%s/_refresh' % (self.url, self.index), timeout=600)
        # The mapping document CloudKitty's init() writes is not a point.
        count = requests.get('%s/%s/_count' % (self.url, self.index),
                             timeout=60).json()['count']
        return {'points': points, 'documents': count,
                'seconds': time.perf_counter() - started}

    def _timed(self, runs, call):
        call()  # warm-up, not counted
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = call()
            times.append((time.perf_counter() - started) * 1000)
        return times, result

    def total(self, begin, end, groupby, paginate, limit, runs):
        times, result = self._timed(runs, lambda: self.storage.total(
            groupby=groupby, begin=_dt(begin), end=_dt(end),
            paginate=paginate, limit=limit))
        return {'ms': times, 'total': result['total'],
                'rows': len(result['results'])}

    def retrieve(self, begin, end, offset, limit, runs):
        times, result = self._timed(runs, lambda: self.storage.retrieve(
            begin=_dt(begin), end=_dt(end), offset=offset, limit=limit))
        points = sum(len(list(f.iterpoints())) for f in result['dataframes'])
        return {'ms': times, 'total': result['total'], 'points': points}


def main():
    baseline = None
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop('op')
        if op == 'init':
            baseline = Baseline(**command)
            answer = {'ready': True}
        else:
            answer = getattr(baseline, op)(**command)
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
