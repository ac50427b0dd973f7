"""CloudKitty's gabbi API tests of storage v2, on the ratestore backend.

The YAML files are CloudKitty's own (cloudkitty 25.0.0), loaded unmodified
from the installed package; fixtures.py puts their storage on ratestore.
Run from a folder where CloudKitty's relative paths resolve (see
run_gabbi.sh).
"""
import os
import shutil
import tempfile

from cloudkitty.tests.gabbi import fixtures as upstream
from gabbi import driver

from cloudkitty_ratestore.tests.gabbi import fixtures

YAML_FILES = ('v2-dataframes.yaml', 'v2-summary.yaml')


def load_tests(loader, tests, pattern):
    source = os.path.join(os.path.dirname(upstream.__file__), 'gabbits')
    test_dir = tempfile.mkdtemp(prefix='ratestore-gabbits-')
    for name in YAML_FILES:
        shutil.copyfile(os.path.join(source, name),
                        os.path.join(test_dir, name))
    return driver.build_tests(test_dir, loader, host=None,
                              intercept=fixtures.setup_app,
                              fixture_module=fixtures)
