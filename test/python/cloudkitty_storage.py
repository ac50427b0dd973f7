"""CloudKitty's own v2 storage backends, driven by the integration tests.

The code under test on the other side is CloudKitty's (cloudkitty from
PyPI): its OpenSearchStorage or ElasticsearchStorage writes CloudKitty
indices that ratestore migrates, and reads ratestore's partitions. Commands
come as JSON lines on stdin, answers go as JSON lines on stdout; amounts are
written as text so that nothing is rounded on the way.
"""
import datetime
import json
import sys

from cloudkitty import dataframe
from cloudkitty.storage.v2 import elasticsearch
from cloudkitty.storage.v2 import opensearch
from oslo_config import cfg

BACKENDS = {
    'opensearch': (opensearch.OpenSearchStorage, 'storage_opensearch'),
    'elasticsearch': (elasticsearch.ElasticsearchStorage,
                      'storage_elasticsearch'),
}


def _dt(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def _text(value):
    return None if value is None else repr(value)


class Driver(object):

    def __init__(self, backend, url, index, create):
        storage_class, group = BACKENDS[backend]
        cfg.CONF([], project='cloudkitty', default_config_files=[])
        cfg.CONF.set_override('host', url, group)
        cfg.CONF.set_override('index_name', index, group)
        self.storage = storage_class()
        if create:
            # CloudKitty's own set-up of its index (an existing index).
            self.storage.init()

    def push(self, path):
        points = 0
        with open(path) as source:
            for line in source:
                if line.strip():
                    frame = dataframe.DataFrame.from_dict(json.loads(line))
                    points += len(list(frame.iterpoints()))
                    self.storage.push([frame])
        return {'points': points}

    def total(self, begin, end, groupby=None):
        result = self.storage.total(groupby=groupby, begin=_dt(begin),
                                    end=_dt(end), paginate=False)
        rows = []
        for row in result['results']:
            out = {k: v for k, v in row.items()
                   if k not in ('begin', 'end', 'qty', 'rate')}
            out['qty'] = _text(row['qty'])
            out['rate'] = _text(row['rate'])
            rows.append(out)
        return {'total': result['total'], 'results': rows}

    def retrieve(self, begin, end):
        result = self.storage.retrieve(begin=_dt(begin), end=_dt(end),
                                       paginate=False)
        points = [point for frame in result['dataframes']
                  for point in frame.iterpoints()]
        return {'total': result['total'], 'points': len(points)}


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
