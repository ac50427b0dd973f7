"""Sets where each scope's processing starts, in CloudKitty's sqlite database.

python seed_states.py DB 'YYYY-MM-DD HH:MM:SS' SCOPE...

Run with the processor stopped. Without it a first start processes every
period from the start of the month (CloudKitty's default for a new scope);
CloudKitty then processes the period after the one seeded.

It also puts the database in WAL mode (kept in the file). Workaround: in
sqlite's default mode a reader blocks writers, and CloudKitty's API and
processor, sharing the file, fail with "database is locked" under load.
"""
import sqlite3
import sys


def main():
    db, last_processed, scopes = sys.argv[1], sys.argv[2], sys.argv[3:]
    conn = sqlite3.connect(db, timeout=60)
    conn.execute('pragma journal_mode=wal')
    conn.execute('delete from cloudkitty_storage_states')
    for i, scope in enumerate(scopes, 1):
        conn.execute(
            'insert into cloudkitty_storage_states (id, identifier, '
            'scope_key, fetcher, collector, last_processed_timestamp, '
            'scope_activation_toggle_date, active) '
            'values (?, ?, ?, ?, ?, ?, ?, 1)',
            (i, scope, 'project_id', 'prometheus', 'prometheus',
             last_processed + '.000000', last_processed))
    conn.commit()


if __name__ == '__main__':
    main()
