"""The driver's own behaviour: retries, refusals, amounts."""
import datetime
import decimal
import http.server
import threading
import unittest

from cloudkitty import dataframe

from cloudkitty_ratestore import client
from cloudkitty_ratestore import storage
from cloudkitty_ratestore.tests import base


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from a script of (status, headers, body), one per request."""

    script = []
    seen = []

    def do_POST(self):
        self.seen.append(self.path)
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        status, headers, body = self.script.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class RetryTest(unittest.TestCase):

    def setUp(self):
        self.server = http.server.HTTPServer(('127.0.0.1', 0), _Scripted)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = 'http://127.0.0.1:%d' % self.server.server_port
        self.delays = []
        _Scripted.seen = []

    def _client(self, retries=3):
        return client.RatestoreClient(self.url, retries=retries,
                                      sleep=self.delays.append)

    def test_503_is_retried_after_retry_after(self):
        _Scripted.script = [(503, {'Retry-After': '7'}, b'{}'),
                            (503, {'Retry-After': '2'}, b'{}'),
                            (204, {}, b'')]
        resp = self._client().request('POST', '/v2/dataframes', body={},
                                      accept=(204,))
        self.assertEqual(204, resp.status_code)
        self.assertEqual([7.0, 2.0], self.delays)
        self.assertEqual(3, len(_Scripted.seen))

    def test_gives_up_after_its_retries_with_the_reason(self):
        _Scripted.script = [(503, {'Retry-After': '1'},
                             b'{"error":"backend_unavailable",'
                             b'"message":"cluster down","details":[]}')] * 3
        with self.assertRaisesRegex(client.RatestoreError, 'cluster down'):
            self._client(retries=2).request('POST', '/v2/dataframes',
                                            body={}, accept=(204,))
        self.assertEqual([1.0, 1.0], self.delays)


class AmountTest(unittest.TestCase):

    def test_amounts_are_exact_to_nine_decimal_places(self):
        self.assertEqual('0.152', storage._amount(decimal.Decimal('0.152')))
        self.assertEqual('0.152', storage._amount(decimal.Decimal(0.152)))
        self.assertEqual('123456789.123456789', storage._amount(
            decimal.Decimal('123456789.123456789')))
        self.assertEqual('0.000000002', storage._amount(
            decimal.Decimal('0.0000000015')))
        self.assertEqual('20', storage._amount(decimal.Decimal('20.000')))


class LiveTest(unittest.TestCase):
    """Against the live ratestore of the test run."""

    def setUp(self):
        base.configure()
        base.wipe()
        self.storage = storage.RatestoreStorage()

    def _frame(self, groupby):
        start = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
        frame = dataframe.DataFrame(
            start=start, end=start + datetime.timedelta(hours=1))
        frame.add_point(dataframe.DataPoint(
            'h', '1', decimal.Decimal('123456789.123456789'), groupby, {}),
            'cpu')
        return frame

    def test_a_refused_push_raises_naming_the_point(self):
        with self.assertRaises(client.RatestoreError) as ctx:
            self.storage.push([self._frame({'bad key': 'x'})])
        self.assertIn('dataframes[0].usage.cpu[0].groupby.bad key',
                      str(ctx.exception))
        self.assertEqual(0, self.storage.retrieve(
            begin=datetime.datetime(2024, 6, 1),
            end=datetime.datetime(2024, 6, 2))['total'])

    def test_amounts_come_back_as_exact_decimals(self):
        self.storage.push([self._frame({'project_id': 'p'})])
        frames = self.storage.retrieve(
            begin=datetime.datetime(2024, 6, 1),
            end=datetime.datetime(2024, 6, 2))['dataframes']
        [(metric_type, point)] = list(frames[0].iterpoints())
        self.assertEqual(decimal.Decimal('123456789.123456789'), point.price)
        total = self.storage.total(begin=datetime.datetime(2024, 6, 1),
                                   end=datetime.datetime(2024, 6, 2))
        self.assertEqual(decimal.Decimal('123456789.123456789'),
                         total['results'][0]['rate'])

    def _rated(self, project, price, flavor='m1.small'):
        start = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
        frame = dataframe.DataFrame(
            start=start, end=start + datetime.timedelta(hours=1))
        frame.add_point(dataframe.DataPoint(
            'instance', '1', decimal.Decimal(price),
            {'project_id': project, 'id': project + '-vm'},
            {'flavor': flavor}), 'instance')
        return frame

    def _rates(self):
        total = self.storage.total(groupby=['project_id'],
                                   begin=datetime.datetime(2024, 6, 1),
                                   end=datetime.datetime(2024, 6, 2))
        return {r['project_id']: r['rate'] for r in total['results']}

    def test_the_processor_s_rating_of_a_period_replaces_the_scope_s(self):
        # As CloudKitty's processor pushes: one scope, one period, by scope.
        self.storage.push([self._rated('a', '0.5')], 'a')
        self.storage.push([self._rated('b', '2')], 'b')
        # Re-rated at another price (reprocessing's last period, a retry
        # after a price change): the new rating replaces the old one.
        self.storage.push([self._rated('a', '0.75')], 'a')
        self.assertEqual({'a': decimal.Decimal('0.75'),
                          'b': decimal.Decimal('2')}, self._rates())
        # The same rating again stores nothing twice.
        self.storage.push([self._rated('a', '0.75')], 'a')
        self.assertEqual(decimal.Decimal('0.75'), self._rates()['a'])

    def test_a_push_without_a_scope_adds_to_what_is_stored(self):
        # CloudKitty's API (POST /v2/dataframes) pushes without a scope.
        self.storage.push([self._rated('a', '0.5')])
        self.storage.push([self._rated('a', '0.75')])
        self.assertEqual(decimal.Decimal('1.25'), self._rates()['a'])
