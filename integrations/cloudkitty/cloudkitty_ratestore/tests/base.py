"""What the tests against a live ratestore share.

The test suite (npm test) starts ratestore and sets RATESTORE_TEST_URL and
RATESTORE_TEST_KEY (an admin key) before it runs these tests.
"""
import os

import requests

from cloudkitty_ratestore import opts

URL = os.environ.get('RATESTORE_TEST_URL', 'http://127.0.0.1:8080')
KEY = os.environ.get('RATESTORE_TEST_KEY')


def configure():
    """Points the driver's options at the live ratestore of the test run.

    The defaults of the option objects are set, since CloudKitty's test
    fixture resets the configuration (overrides and set_default) after each
    test.
    """
    for opt in opts.storage_ratestore_opts:
        if opt.dest == 'url':
            opt.default = URL
        elif opt.dest == 'api_key':
            opt.default = KEY


def wipe():
    """Per-test isolation: every point of the test service is deleted."""
    resp = requests.delete(URL + '/v2/dataframes',
                           headers={'X-Auth-Token': KEY}, timeout=60)
    resp.raise_for_status()
