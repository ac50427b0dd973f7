"""Gabbi fixtures: CloudKitty's, with storage v2 on ratestore.

CloudKitty's v2 YAML files name their fixtures; the ones that choose and
fill the storage are redefined here, under the same names, to configure the
`ratestore` backend and load the data through the driver into a live
ratestore. Every other fixture is CloudKitty's own.
"""
from cloudkitty.api.v2.dataframes import dataframes as v2_api_dataframes
from cloudkitty.api.v2.summary import summary as v2_api_summary
from cloudkitty import storage
from cloudkitty.tests.gabbi import fixtures as upstream
from cloudkitty.tests import utils as test_utils

from cloudkitty_ratestore.tests import base

base.configure()


def __getattr__(name):
    # Fixtures and the app loader not redefined below are CloudKitty's.
    return getattr(upstream, name)


class ConfigFixtureStorageV2(upstream.ConfigFixture):

    def start_fixture(self):
        super(ConfigFixtureStorageV2, self).start_fixture()
        self.conf.set_override('backend', 'ratestore', 'storage')
        self.conf.set_override('version', '2', 'storage')


class _RatestoreDataFixture(upstream.BaseStorageDataFixture):
    """Pushes the fixture's data through the driver into an empty store."""

    def start_fixture(self):
        base.wipe()
        self.storage = storage.get_storage(conf=test_utils.load_conf())
        self.storage.init()
        self.initialize_data()
        v2_api_summary.Summary.reload()
        v2_api_dataframes.DataFrameList.reload()

    def stop_fixture(self):
        base.wipe()


class InfluxStorageDataFixture(_RatestoreDataFixture):
    initialize_data = upstream.StorageDataFixture.initialize_data


class NowInfluxStorageDataFixture(_RatestoreDataFixture):
    initialize_data = upstream.NowInfluxStorageDataFixture.initialize_data
