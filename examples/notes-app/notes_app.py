"""notes-app: a small HTTP app that keeps notes in its own PostgreSQL database.

An example for services-ts's `notes-app` service (modules/notes-app.ts), which
gives it a private database: it needs nothing but the Python 3 standard library
and `psql` (the database is reached by running psql with the connection string).

Environment:
  DATABASE_URL  libpq connection string (postgresql://user:password@host:port/db)
  PORT          TCP port to listen on (default 8090)
  HOST          address to bind (default 127.0.0.1)

HTTP:
  GET  /status  {"status": "ok"} once the app is up
  GET  /notes   every note, oldest first: [{"id": 1, "body": "..."}, ...]
  POST /notes   the request body (UTF-8 text) becomes a new note; answers it (201)
  GET  /whoami  the role and database the app is connected as
"""

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATABASE_URL = os.environ["DATABASE_URL"]


class DatabaseError(Exception):
    pass


def query(sql, **params):
    """Runs one SQL statement through psql and returns its single value as text.

    Parameters are passed as psql variables and referenced as :'name' in the
    SQL, which psql substitutes as properly quoted literals.
    """
    args = ["psql", "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-d", DATABASE_URL]
    for name, value in params.items():
        args += ["-v", f"{name}={value}"]
    # UTF-8 both ways, whatever the locale (the database is UTF8, as services-ts's postgres creates it).
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    result = subprocess.run(args, input=sql, capture_output=True, encoding="utf-8", env=env)
    if result.returncode != 0:
        raise DatabaseError(result.stderr.strip())
    return result.stdout.rstrip("\n")


class Handler(BaseHTTPRequestHandler):
    server_version = "notes-app/1"

    def answer(self, status, value):
        body = (json.dumps(value) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def guarded(self, action):
        try:
            action()
        except DatabaseError as e:
            self.answer(500, {"error": str(e)})

    def do_GET(self):
        if self.path == "/status":
            self.answer(200, {"status": "ok"})
        elif self.path == "/notes":
            self.guarded(
                lambda: self.answer(
                    200,
                    json.loads(
                        query(
                            "SELECT coalesce(json_agg(json_build_object('id', id, 'body', body) ORDER BY id), '[]') FROM notes"
                        )
                    ),
                )
            )
        elif self.path == "/whoami":
            self.guarded(
                lambda: self.answer(
                    200, json.loads(query("SELECT json_build_object('user', current_user, 'database', current_database())"))
                )
            )
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/notes":
            self.answer(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode("utf-8")
        self.guarded(
            lambda: self.answer(
                201,
                json.loads(
                    query(
                        "INSERT INTO notes (body) VALUES (:'body') RETURNING json_build_object('id', id, 'body', body)",
                        body=text,
                    )
                ),
            )
        )

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.command, format % args))


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8090"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"notes-app listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
