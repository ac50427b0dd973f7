"""Serves CloudKitty's own API (its WSGI app) with storage v2 on ratestore.

For end-to-end tests with python-cloudkittyclient: `python -m
cloudkitty_ratestore.tests.serve_api PORT`, run from the folder above the
cloudkitty package (CloudKitty's test configuration names files relative
to it). Authentication is CloudKitty's `noauth`; it listens on 127.0.0.1
only, and prints `ready` once it accepts requests.
"""
import sys
from wsgiref import simple_server

from cloudkitty.api import app
from cloudkitty import messaging

from cloudkitty_ratestore.tests.gabbi import fixtures


def main(port):
    fixtures.ConfigFixtureStorageV2().start_fixture()
    messaging.setup()
    server = simple_server.make_server('127.0.0.1', port, app.load_app())
    print('ready', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main(int(sys.argv[1]))
