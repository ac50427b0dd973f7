"""A small Prometheus exporter: the cloud CloudKitty's pipeline test rates.

Constant gauges, so that every period of the run is rated the same:
ck_instance_up{project_id,id,flavor} = 1 and
ck_volume_gb{project_id,id,volume_type} = size. Instance ids are dashed
UUIDs, as Nova's are. `python exporter.py PORT` serves them on 127.0.0.1;
`python exporter.py --json` prints the cloud for the test to compute the
exact rating from.
"""
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
import json
import sys

PROJECTS = ('aaaa0000aaaa0000aaaa0000aaaa0001',
            'bbbb0000bbbb0000bbbb0000bbbb0002',
            'cccc0000cccc0000cccc0000cccc0003')
PA, PB, PC = PROJECTS
INSTANCES = [  # project, id, flavor
    (PA, '11111111-1111-4111-8111-111111111101', 'm1.small'),
    (PA, '11111111-1111-4111-8111-111111111102', 'm1.small'),
    (PA, '11111111-1111-4111-8111-111111111103', 'm1.large'),
    (PB, '22222222-2222-4222-8222-222222222201', 'm1.large'),
    (PC, '33333333-3333-4333-8333-333333333301', 'm1.small'),
]
VOLUMES = [  # project, id, volume type, size in GiB
    (PA, 'vol-a1', 'ssd', '10'),
    (PB, 'vol-b1', 'hdd', '25.5'),
    (PC, 'vol-c1', 'ssd', '100'),
]


def metrics_text():
    lines = ['# TYPE ck_instance_up gauge']
    for project, ident, flavor in INSTANCES:
        lines.append('ck_instance_up{project_id="%s",id="%s",flavor="%s"} 1'
                     % (project, ident, flavor))
    lines.append('# TYPE ck_volume_gb gauge')
    for project, ident, kind, size in VOLUMES:
        lines.append('ck_volume_gb{project_id="%s",id="%s",'
                     'volume_type="%s"} %s' % (project, ident, kind, size))
    return ('\n'.join(lines) + '\n').encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = metrics_text()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; version=0.0.4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if sys.argv[1] == '--json':
        print(json.dumps({'instances': INSTANCES, 'volumes': VOLUMES}))
        return
    server = ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler)
    print('ready', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
