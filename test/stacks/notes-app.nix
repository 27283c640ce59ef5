# Run tier: the app-with-a-private-database pattern of modules/passetto.ts, for
# real, through modules/notes-app.ts (written with the same functions) and the
# example app in examples/notes-app (passetto itself cannot be built here).
#
# Two instances, each brought up by one `enable` (plus its package, which is not
# in nixpkgs): its own PostgreSQL instance with the schema applied as the app's
# role, password authentication (scram-sha-256) on TCP and no trust, and the app
# wired to it by the connection string. The `test` process checks that each app
# answers with data from its own database, that the data survives a restart
# while the schema is applied only once, and that the database refuses a wrong
# password and a password-less superuser.
#
# A plain Nix stack rather than modules/notes-app.test.ts because the package is
# `pkgs.callPackage ../../examples/notes-app { }`: a path literal, which the DSL
# cannot write into a generated test.
{ config, lib, pkgs, ... }:
let
  notes = config.services.notes-app.notes;
  diary = config.services.notes-app.diary;
  app = pkgs.callPackage ../../examples/notes-app { };

  check = pkgs.writeText "notes-app-check.py" ''
    # HTTP checks of both instances, from start number sys.argv[1].
    import json
    import sys
    import urllib.request

    run = int(sys.argv[1])
    notes_port, diary_port = int(sys.argv[2]), int(sys.argv[3])
    SEED = "hello from the schema"


    def call(port, method, path, body=None):
        data = None if body is None else body.encode("utf-8")
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read().decode("utf-8"))


    def expect(what, got, want):
        if got != want:
            sys.exit("FAIL %s: got %r, want %r" % (what, got, want))
        print("ok: %s" % what)


    def bodies(port):
        status, notes = call(port, "GET", "/notes")
        expect("GET /notes on %d answers 200" % port, status, 200)
        return [n["body"] for n in notes]


    def note(r):
        return "written in start %d: it's \"quoted\", \\ ünïcode" % r


    for port in (notes_port, diary_port):
        expect("GET /status on %d" % port, call(port, "GET", "/status"), (200, {"status": "ok"}))
        expect("the app on %d is connected as its role, to its database" % port,
               call(port, "GET", "/whoami"), (200, {"user": "notes", "database": "notes"}))

    # The schema's row once, then what earlier starts wrote: the data is kept, the schema not re-applied.
    expect("notes before writing", bodies(notes_port), [SEED] + [note(r) for r in range(1, run)])
    status, created = call(notes_port, "POST", "/notes", note(run))
    expect("POST /notes answers 201", status, 201)
    expect("POST /notes answers the note", created["body"], note(run))
    expect("notes after writing", bodies(notes_port), [SEED] + [note(r) for r in range(1, run + 1)])

    # The other instance has a database of its own.
    expect("diary before writing", bodies(diary_port), [SEED] + ["diary %d" % r for r in range(1, run)])
    call(diary_port, "POST", "/notes", "diary %d" % run)
    expect("diary after writing", bodies(diary_port), [SEED] + ["diary %d" % r for r in range(1, run + 1)])
  '';
in
{
  imports = [ ../../generated/default.nix ];

  services.notes-app.notes = {
    enable = true;
    package = app;
    port = 8471;
    dbPort = 5471;
    # Needs percent-encoding in the connection URI (and quoting in SQL).
    dbPassword = "it's a p@ss:word/%?#";
  };
  services.notes-app.diary = {
    enable = true;
    package = app;
    port = 8472;
    dbPort = 5472;
  };

  settings.processes.test = {
    command = pkgs.writeShellApplication {
      name = "notes-app-test";
      runtimeInputs = [ pkgs.python3 pkgs.postgresql pkgs.gnugrep pkgs.coreutils ];
      text = ''
        run=''${SERVICES_TS_RUN:-1}
        python3 ${check} "$run" ${toString notes.port} ${toString diary.port}

        echo "the app's role connects with the connection string and owns what the schema created"
        conn=${lib.escapeShellArg notes.connectionString}
        psql -X -w -At -d "$conn" -c "SELECT current_user || '@' || current_database()" | grep -x notes@notes
        psql -X -w -At -d "$conn" -c "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'" | grep -x notes
        echo "no password, or a wrong one, is refused"
        if psql -X -w -h 127.0.0.1 -p ${toString notes.dbPort} -U notes -d notes -c "SELECT 1" 2>err.txt; then
          echo "the database accepted the app's role without a password" >&2
          exit 1
        fi
        grep -q "no password supplied" err.txt
        if PGPASSWORD=wrong psql -X -w -h 127.0.0.1 -p ${toString notes.dbPort} -U notes -d notes -c "SELECT 1" 2>err.txt; then
          echo "the database accepted a wrong password" >&2
          exit 1
        fi
        cat err.txt
        grep -q 'password authentication failed for user "notes"' err.txt

        echo "the superuser gets no trust over TCP either"
        if psql -X -w -h 127.0.0.1 -p ${toString notes.dbPort} -d postgres -c "SELECT 1" 2>err.txt; then
          echo "the superuser connected over TCP without a password" >&2
          exit 1
        fi
        cat err.txt
        grep -q "no password supplied" err.txt

        echo "the other instance's password is its own"
        psql -X -w -At -d ${lib.escapeShellArg diary.connectionString} -c "SELECT current_user" | grep -x notes
        if PGPASSWORD=${lib.escapeShellArg notes.dbPassword} psql -X -w -h 127.0.0.1 -p ${toString diary.dbPort} -U notes -d notes -c "SELECT 1" 2>err.txt; then
          echo "diary's database accepted notes's password" >&2
          exit 1
        fi
        grep -q 'password authentication failed for user "notes"' err.txt
      '';
    };
    depends_on.notes.condition = "process_healthy";
    depends_on.diary.condition = "process_healthy";
  };
}
