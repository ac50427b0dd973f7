"""Serves CloudKitty's own WSGI API on 127.0.0.1:PORT, threaded.

python ck_api.py PORT --config-file cloudkitty.conf

CloudKitty 25.0.0's wheel ships neither an api_paste.ini nor a
`cloudkitty-api` script: the test writes the paste file, this serves it.
"""
from socketserver import ThreadingMixIn
import sys
from wsgiref import simple_server

from cloudkitty.api import app
# Workaround, CloudKitty 25.0.0 with auth_strategy = noauth: hashmap writes
# call custom_session.get_request_user(), which reads [keystone_authtoken];
# that group is registered only when keystonemiddleware is imported (the
# keystone pipeline imports it), else `hashmap mapping create` is a 500
# "no such option keystone_authtoken". Importing it registers the group.
import keystonemiddleware.auth_token  # noqa: F401


class Server(ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class Handler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write('ck-api %s\n' % (fmt % args))


def main():
    port = int(sys.argv.pop(1))
    application = app.build_wsgi_app()
    server = simple_server.make_server('127.0.0.1', port, application,
                                       server_class=Server,
                                       handler_class=Handler)
    print('ready', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
