"""Options of the ratestore storage backend, group [storage_ratestore]."""
from oslo_config import cfg

GROUP = 'storage_ratestore'

storage_ratestore_opts = [
    cfg.URIOpt('url',
               default='http://127.0.0.1:8080',
               schemes=['http', 'https'],
               help='Base URL of the ratestore service.'),
    cfg.StrOpt('api_key',
               secret=True,
               help='ratestore API key, sent as X-Auth-Token. An admin key '
                    'is needed: CloudKitty writes and deletes the data of '
                    'every project.'),
    cfg.FloatOpt('timeout',
                 default=60.0,
                 min=0.1,
                 help='Timeout of one request to ratestore, in seconds.'),
    cfg.BoolOpt('insecure',
                default=False,
                help='Do not verify the TLS certificate of ratestore.'),
    cfg.StrOpt('cafile',
               help='CA bundle used to verify the TLS certificate of '
                    'ratestore.'),
    cfg.IntOpt('retries',
               default=5,
               min=0,
               help='How many times a request answered 503 is sent again, '
                    'after the Retry-After delay ratestore gives.'),
]

cfg.CONF.register_opts(storage_ratestore_opts, GROUP)


def list_opts():
    """For oslo-config-generator (entry point oslo.config.opts)."""
    return [(GROUP, storage_ratestore_opts)]
