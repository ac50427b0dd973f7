"""CloudKitty's own StorageUnitTest, on the ratestore backend.

The test methods are CloudKitty's, unmodified (inherited from cloudkitty
25.0.0). This harness only adds the `ratestore` scenario and per-test
isolation: each test starts on an empty store.
"""
from cloudkitty import tests as ck_tests
from cloudkitty.tests.storage.v2 import test_storage_unit as upstream

from cloudkitty_ratestore.tests import base

base.configure()


class RatestoreStorageUnitTest(upstream.StorageUnitTest):

    scenarios = ck_tests.TestCase.scenarios
    storage_scenarios = [('ratestore', dict(storage_backend='ratestore'))]

    def setUp(self):
        base.wipe()
        super(RatestoreStorageUnitTest, self).setUp()


RatestoreStorageUnitTest.generate_scenarios()
