/**
 * passetto (modules/passetto.ts). passetto-service cannot be built here, so:
 *
 * - [nix eval]: two passetto instances (pgweb on one) evaluated in the pinned
 *   process-compose-flake, with stand-in `passetto-service` packages given through
 *   overlays of the test package set: process names, depends_on, environment
 *   (the connection string, percent-encoded), probes, the pg_hba.conf really in
 *   use (scram-sha-256, no trust), the setup SQL; the start script is run by real
 *   bash against a stand-in that records what it is called with.
 * - [run]: the same module under real process-compose, twice in the same
 *   directory, with a stand-in passetto-service that does what passetto does
 *   with its database (passetto-init adds keys to "Passetto"."Keys" and checks
 *   the master password, passetto-server answers /status), on a stand-in schema
 *   shaped like passetto's (`CREATE SCHEMA "Passetto" AUTHORIZATION passetto`).
 *
 * The pattern itself also runs for real with a real app: test/stacks/notes-app.nix.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  evalProcessComposeFull,
  nixAvailable,
  nixPath,
  nixString,
  type ProcessComposeEval,
  readProcessScript,
  repoRoot,
  upstreamSeeded,
  upstreamSkipReason,
} from "./support/nix";
import { findProcessCompose, runTwice } from "./support/run";
import { missingPackages } from "./support/packages";

const generated = join(repoRoot, "generated");
const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] passetto skipped: ${upstreamSkipReason}`);

const procs = (ev: ProcessComposeEval) => ev.settings.processes ?? {};

/** The store file named `name` that `text` references (its build realised it). */
function storeFile(text: string, name: string): { path: string; content: string } {
  const m = new RegExp(`(/nix/store/[a-z0-9]{32}-${name.replace(/\./g, "\\.")})`).exec(text);
  if (!m) throw new Error(`no ${name} in:\n${text}`);
  return { path: m[1]!, content: readFileSync(m[1]!, "utf8") };
}

/** The pg_hba.conf the server reads: the file postgresql.conf's hba_file names. */
function hbaInUse(ev: ProcessComposeEval, db: string): string {
  const conf = storeFile(readProcessScript(ev, `${db}-init`), "postgresql.conf").content;
  const m = /^hba_file = '(\/nix\/store\/[a-z0-9]{32}-pg_hba\.conf)'$/m.exec(conf);
  if (!m) throw new Error(`no hba_file in postgresql.conf:\n${conf}`);
  return readFileSync(m[1]!, "utf8");
}

const envOf = (ev: ProcessComposeEval, p: string): Record<string, string> =>
  Object.fromEntries(
    (procs(ev)[p]!.environment ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );

// ASCII a password may hold that breaks URIs, SQL, shell and Nix if unescaped.
const nastyPassword = `it's "q" \\ $HOME \${x} @:/?#[]%+&= ~\`tick\`\ttab`;
const nastySql = `CREATE TABLE "it's" (note text); INSERT INTO "it's" VALUES ('a '' quote'); -- \${not.nix}`;
const scramOnly =
  "local\tall\tall\t\tpeer\nhost\tall\tall\t127.0.0.1/32\tscram-sha-256\nhost\tall\tall\t::1/128\tscram-sha-256\n";

// Stand-ins that record how they are called (the start script is run for real below).
const recordingOverlay = String.raw`(final: prev:
  let
    standIn = tag: final.symlinkJoin {
      name = "passetto-service-${"$"}{tag}";
      paths = [
        (final.writeShellScriptBin "passetto-init-interactive" ''
          IFS= read -r first; IFS= read -r second
          printf 'init ${"$"}{tag} [%s] stdin [%s|%s]\n' "$*" "$first" "$second" >> "$PASSETTO_STANDIN_LOG"
          if [ -n "''${"$"}{PASSETTO_STANDIN_FAIL:-}" ]; then echo "Left (OpDbErr DbWrongPassword)"; else echo "Right ()"; fi
        '')
        (final.writeShellScriptBin "passetto-server" ''printf 'server ${"$"}{tag} PORT=%s MASTER_PASSWORD=%s CONN=%s\n' "$PORT" "$MASTER_PASSWORD" "$PASSETTO_PG_BACKEND_CONN_STRING" >> "$PASSETTO_STANDIN_LOG"'')
      ];
    };
  in {
    haskellPackages = (prev.haskellPackages or { }) // { passetto-service = standIn "default"; };
    passetto-stand-in-b = standIn "b";
    pgweb = final.writeShellScriptBin "pgweb" "echo stand-in pgweb";
  })`;

describe.skipIf(!seeded)("[nix eval] passetto: two instances with private databases, pgweb on one", () => {
  let ev: ProcessComposeEval;
  beforeAll(() => {
    ev = evalProcessComposeFull(
      `[
        ${nixPath(join(generated, "default.nix"))}
        ({ pkgs, ... }: {
          services.passetto."pa" = {
            enable = true;
            schemas = [ (builtins.toFile "create_schema.sql" "CREATE SCHEMA \\"Passetto\\" AUTHORIZATION passetto;\\n") ];
            pgweb.enable = true;
          };
          services.passetto."pb" = {
            enable = true;
            package = pkgs.passetto-stand-in-b;
            port = 8021;
            dbPort = 5442;
            dbPassword = ${nixString(nastyPassword)};
            masterPassword = "m@ster 'pw'";   # not used: masterPasswordFile wins
            masterPasswordFile = "./secrets/pb master";
            keys = 5;
            namespace = "secrets";
            schemas = [ (builtins.toFile "one.sql" "SELECT 1;\\n") (builtins.toFile "two.sql" "SELECT 2;\\n") ];
            initialScript = ${nixString(nastySql)};
            extraDbSettings = {
              settings.log_statement = "all";
              dataDir = "./data/pb database";
              hbaConf = [
                { type = "host"; database = "passetto"; user = "passetto"; address = "10.0.0.0/8"; method = "scram-sha-256"; }
                { type = "local"; database = "passetto"; user = "we\\"ird user"; address = ""; method = "peer"; }
              ];
            };
          };
        })
      ]`,
      { pkgsOverlays: `[ ${recordingOverlay} ]` },
    );
  });

  it("contributes the app, its database (init and server) and pgweb where enabled, per instance", () => {
    expect(Object.keys(procs(ev)).sort()).toEqual([
      "pa",
      "pa-db",
      "pa-db-init",
      "pa-pgweb",
      "pb",
      "pb-db",
      "pb-db-init",
    ]);
  });

  it("starts the app and pgweb once the database is healthy, the database after its init", () => {
    const p = procs(ev);
    expect(p["pa"]!.depends_on).toEqual({ "pa-db": { condition: "process_healthy" } });
    expect(p["pa-pgweb"]!.depends_on).toEqual({ "pa-db": { condition: "process_healthy" } });
    expect(p["pb"]!.depends_on).toEqual({ "pb-db": { condition: "process_healthy" } });
    expect(p["pb-db"]!.depends_on).toEqual({ "pb-db-init": { condition: "process_completed_successfully" } });
  });

  it("groups an instance's processes, its database's included, under its namespace", () => {
    const p = procs(ev);
    for (const n of ["pa", "pa-db", "pa-db-init", "pa-pgweb"]) expect(p[n]!.namespace).toBe("passetto.pa");
    for (const n of ["pb", "pb-db", "pb-db-init"]) expect(p[n]!.namespace).toBe("secrets");
  });

  it("wires the app to its own database by connection string, the password percent-encoded", () => {
    expect(envOf(ev, "pa")).toEqual({
      PASSETTO_PG_BACKEND_CONN_STRING: "postgresql://passetto:passetto@127.0.0.1:5432/passetto",
      MASTER_PASSWORD: "1",
      PORT: "8012",
    });
    const pb = envOf(ev, "pb");
    // With masterPasswordFile the password is read at start: not in the environment, not in the store.
    expect(pb.MASTER_PASSWORD).toBe("");
    expect(JSON.stringify(ev)).not.toContain("m@ster 'pw'");
    expect(pb.PORT).toBe("8021");
    const conn = pb.PASSETTO_PG_BACKEND_CONN_STRING!;
    expect(conn).toMatch(/^postgresql:\/\/passetto:[A-Za-z0-9._~%-]+@127\.0\.0\.1:5442\/passetto$/);
    const url = new URL(conn);
    expect([url.username, decodeURIComponent(url.password), url.hostname, url.port, url.pathname]).toEqual([
      "passetto",
      nastyPassword,
      "127.0.0.1",
      "5442",
      "/passetto",
    ]);
  });

  it("runs pgweb on the same database, on 127.0.0.1", () => {
    expect(envOf(ev, "pa-pgweb")).toEqual({
      PGWEB_DATABASE_URL: "postgresql://passetto:passetto@127.0.0.1:5432/passetto?sslmode=disable",
    });
    expect(readProcessScript(ev, "pa-pgweb")).toContain("exec pgweb --bind=127.0.0.1 --listen=8081 --skip-open");
    expect(procs(ev)["pa-pgweb"]!.readiness_probe).toMatchObject({
      http_get: { host: "127.0.0.1", port: 8081, path: "/" },
    });
  });

  it("probes the app's /status on its port", () => {
    expect(procs(ev)["pa"]!.readiness_probe).toMatchObject({
      http_get: { host: "127.0.0.1", port: 8012, path: "/status", scheme: "http" },
    });
    expect(procs(ev)["pb"]!.readiness_probe).toMatchObject({
      http_get: { host: "127.0.0.1", port: 8021, path: "/status" },
    });
    expect((procs(ev)["pb-db"]!.readiness_probe as { exec: { command: string } }).exec.command).toContain(
      "-h 127.0.0.1 -p 5442 ",
    );
  });

  it("authenticates TCP by scram-sha-256 only: the pg_hba.conf in use has no trust line", () => {
    expect(hbaInUse(ev, "pa-db")).toBe(scramOnly);
    // The instance's own hbaConf entries come after the wrapper's.
    expect(hbaInUse(ev, "pb-db")).toBe(
      `${scramOnly}host\tpassetto\tpassetto\t10.0.0.0/8\tscram-sha-256\nlocal\tpassetto\t"we""ird user"\t\tpeer\n`,
    );
    const conf = storeFile(readProcessScript(ev, "pb-db-init"), "postgresql.conf").content.split("\n");
    expect(conf).toEqual(
      expect.arrayContaining([
        "password_encryption = 'scram-sha-256'",
        "port = 5442",
        "listen_addresses = '127.0.0.1'",
        "log_statement = 'all'",
      ]),
    );
  });

  it("creates the role with its password, gives it the database, applies the schemas as it, then initialScript", () => {
    const setup = readProcessScript(ev, "pb-db-init");
    expect(setup).toMatch(/^PGDATA="\$\(\/nix\/store\/\S+\/bin\/realpath -m -- '\.\/data\/pb database'\)"$/m);
    expect(storeFile(setup, "initial.sql").content).toContain("WHERE datname = 'passetto'");
    expect(setup).toMatch(/apply_schema passetto \/nix\/store\/[a-z0-9]{32}-passetto-setup\.sql\n/);
    const sql = storeFile(setup, "passetto-setup.sql").content;
    const one = storeFile(sql, "one.sql");
    const two = storeFile(sql, "two.sql");
    expect([one.content, two.content]).toEqual(["SELECT 1;\n", "SELECT 2;\n"]);
    expect(sql).toBe(
      [
        `CREATE ROLE "passetto" LOGIN PASSWORD '${nastyPassword.replace(/'/g, "''")}';`,
        `ALTER DATABASE "passetto" OWNER TO "passetto";`,
        `SET ROLE "passetto";`,
        `\\i '${one.path}'`,
        `\\i '${two.path}'`,
        `RESET ROLE;`,
        nastySql,
        "",
      ].join("\n"),
    );
    expect(storeFile(readProcessScript(ev, "pa-db-init"), "passetto-setup.sql").content).toMatch(/\nRESET ROLE;\n$/);
  });

  it("adds keys once, on the first start, the master password on stdin (never argv), then runs passetto-server (real bash)", () => {
    const dir = mkdtempSync(join(tmpdir(), "services-ts-passetto-"));
    try {
      const log = join(dir, "calls.log");
      const fromFile = `fr0m 'file' $x "q"`;
      mkdirSync(join(dir, "secrets"));
      writeFileSync(join(dir, "secrets", "pb master"), `${fromFile}\nsecond line is not read\n`);
      const start = (p: string, extra: Record<string, string> = {}) =>
        spawnSync(procs(ev)[p]!.command as string, [], {
          cwd: dir,
          env: { PATH: "/usr/bin:/bin", ...envOf(ev, p), PASSETTO_STANDIN_LOG: log, ...extra },
          encoding: "utf8",
        });
      for (const p of ["pa", "pb"]) {
        expect(readProcessScript(ev, p)).toContain("exec passetto-server");
        for (let n = 1; n <= 2; n++) {
          const r = start(p);
          expect(r.status, `${p} start ${n}: ${r.stderr}`).toBe(0);
        }
      }
      const pbConn = envOf(ev, "pb").PASSETTO_PG_BACKEND_CONN_STRING;
      expect(readFileSync(log, "utf8")).toBe(
        [
          "init default [addkeys 3] stdin [1|1]",
          "server default PORT=8012 MASTER_PASSWORD=1 CONN=postgresql://passetto:passetto@127.0.0.1:5432/passetto",
          "server default PORT=8012 MASTER_PASSWORD=1 CONN=postgresql://passetto:passetto@127.0.0.1:5432/passetto",
          `init b [addkeys 5] stdin [${fromFile}|${fromFile}]`,
          `server b PORT=8021 MASTER_PASSWORD=${fromFile} CONN=${pbConn}`,
          `server b PORT=8021 MASTER_PASSWORD=${fromFile} CONN=${pbConn}`,
          "",
        ].join("\n"),
      );
      expect(readFileSync(join(dir, "data", "pa", "keys-initialised"), "utf8")).toBe("");

      // passetto-init-interactive exits 0 whatever happened: its printed result is the verdict.
      rmSync(join(dir, "data"), { recursive: true });
      const failed = start("pa", { PASSETTO_STANDIN_FAIL: "1" });
      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain("passetto-init-interactive failed (wrong master password?):\nLeft (OpDbErr DbWrongPassword)");
      expect(existsSync(join(dir, "data", "pa", "keys-initialised"))).toBe(false);
      expect(readFileSync(log, "utf8").trimEnd().split("\n").at(-1)).toBe("init default [addkeys 3] stdin [1|1]"); // no server

      // A missing or empty password file stops the start, saying which file.
      rmSync(join(dir, "secrets", "pb master"));
      const missing = start("pb");
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain(`passetto: cannot read masterPasswordFile ${join(dir, "secrets", "pb master")}`);
      writeFileSync(join(dir, "secrets", "pb master"), "\n");
      const empty = start("pb");
      expect(empty.status).toBe(1);
      expect(empty.stderr).toContain("has no password on its first line");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an instance without schemas at evaluation, naming the instance and the option", () => {
    // An undefined list option evaluates to [] (lib's emptyValue): the module's assertion says what is missing.
    expect(() =>
      evalProcessComposeFull(`[ ${nixPath(join(generated, "passetto.nix"))} { services.passetto."x".enable = true; } ]`, {
        pkgsOverlays: `[ ${recordingOverlay} ]`,
      }),
    ).toThrow(/services\.passetto\."x": schemas is empty, but passetto needs its schema/);
  });
});

describe.skipIf(!seeded)("[nix eval] notes-app: the same private-database pattern, with the app's own schema", () => {
  it("wires the app to its private database like passetto, its package's schema applied first", () => {
    const ev = evalProcessComposeFull(`[
      ${nixPath(join(generated, "default.nix"))}
      ({ pkgs, ... }: {
        services.notes-app."n" = {
          enable = true;
          package = pkgs.callPackage ${nixPath(join(repoRoot, "examples", "notes-app"))} { };
          schemas = [ (builtins.toFile "more.sql" "SELECT 3;\\n") ];
        };
      })
    ]`);
    expect(Object.keys(procs(ev)).sort()).toEqual(["n", "n-db", "n-db-init"]);
    expect(envOf(ev, "n")).toEqual({
      DATABASE_URL: "postgresql://notes:notes@127.0.0.1:5432/notes",
      PORT: "8090",
      HOST: "127.0.0.1",
    });
    expect(procs(ev)["n"]!.depends_on).toEqual({ "n-db": { condition: "process_healthy" } });
    expect(procs(ev)["n"]!.command).toMatch(/^\/nix\/store\/[a-z0-9]{32}-notes-app\/bin\/notes-app$/);
    expect(hbaInUse(ev, "n-db")).toBe(scramOnly);
    const sql = storeFile(readProcessScript(ev, "n-db-init"), "notes-setup.sql").content;
    expect(sql).toMatch(
      /^CREATE ROLE "notes" LOGIN PASSWORD 'notes';\nALTER DATABASE "notes" OWNER TO "notes";\nSET ROLE "notes";\n\\i '\/nix\/store\/[a-z0-9]{32}-notes-app\/share\/notes-app\/schema\.sql'\n\\i '\/nix\/store\/[a-z0-9]{32}-more\.sql'\nRESET ROLE;\n$/,
    );
  });

  it("requires its package, which is not in nixpkgs", () => {
    expect(() =>
      evalProcessComposeFull(
        `[ ${nixPath(join(generated, "notes-app.nix"))} { services.notes-app."n".enable = true; } ]`,
      ),
    ).toThrow(/services\.notes-app\.n\.package' (is used but not defined|was accessed but has no value defined)/);
  });
});

// ---------------------------------------------------------------------------
// [run]: the passetto module under process-compose, with a stand-in passetto.

// A schema shaped like passetto's create_schema.sql: it names the role `passetto`.
const standInSchema = `CREATE SCHEMA IF NOT EXISTS "Passetto" AUTHORIZATION passetto;
CREATE TABLE "Passetto"."Master" (key bytea NOT NULL);
CREATE TABLE "Passetto"."Keys" (id serial PRIMARY KEY, encryptedkeypair bytea NOT NULL);
INSERT INTO "Passetto"."Keys" (encryptedkeypair) VALUES ('\\x00');
`;

// passetto-init-interactive addkeys <n>: reads the password twice on stdin (as passetto's does:
// new, then confirmed), first making sure no process on the machine has it in its command line;
// stores it on the first call and checks it later (as passetto's master key), then appends n keys,
// printing Right () or Left (...) and exiting 0 either way, as passetto's does.
// passetto-server: checks MASTER_PASSWORD, then answers GET /status with the key count.
// Both hand the password to psql through the environment (\getenv), never as an argument.
const workingOverlay = String.raw`(final: prev: {
  haskellPackages = (prev.haskellPackages or { }) // {
    passetto-service = final.symlinkJoin {
      name = "passetto-service-stand-in";
      paths = [
        (final.writeShellApplication {
          name = "passetto-init-interactive";
          runtimeInputs = [ final.postgresql final.coreutils ];
          text = ''
            [[ $# == 2 && $1 == addkeys ]] || { echo "usage: KeyDb addkeys nKeys | dump | newpass"; exit 0; }
            IFS= read -r first || true; IFS= read -r second || true
            [[ -n "$first" && "$first" == "$second" ]] || { echo "Left OpFailConfirmedInput"; exit 0; }
            for f in /proc/[0-9]*/cmdline; do
              cmd=$(tr '\0' ' ' < "$f" 2>/dev/null) || continue
              if [[ "$cmd" == *"$first"* ]]; then
                echo "the master password is in the command line of pid ''${"$"}{f//[!0-9]/}: $cmd" >&2
                exit 1
              fi
            done
            export STANDIN_PW="$first"
            if psql -X -w -q -At -v ON_ERROR_STOP=1 -d "$PASSETTO_PG_BACKEND_CONN_STRING" -v n="$2" <<'SQL'
            \getenv pw STANDIN_PW
            INSERT INTO "Passetto"."Master" (key) SELECT convert_to(:'pw', 'UTF8') WHERE NOT EXISTS (SELECT FROM "Passetto"."Master");
            SELECT (key = convert_to(:'pw', 'UTF8')) AS ok FROM "Passetto"."Master" \gset
            \if :ok
            \else
              SELECT 1/0;
            \endif
            INSERT INTO "Passetto"."Keys" (encryptedkeypair) SELECT decode(md5(random()::text), 'hex') FROM generate_series(1, :n);
            SQL
            then echo "Right ()"; else echo "Left (OpDbErr DbWrongPassword)"; fi
          '';
        })
        (final.writeShellApplication {
          name = "passetto-server";
          runtimeInputs = [ final.python3 final.postgresql ];
          text = ''
            exec python3 -c '
            import http.server, json, os, subprocess, sys
            conn = os.environ["PASSETTO_PG_BACKEND_CONN_STRING"]
            def q(sql):
                return subprocess.run(["psql", "-X", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-d", conn],
                                      input="\\getenv pw MASTER_PASSWORD\n" + sql, capture_output=True, text=True, check=True).stdout.strip()
            if q("SELECT key = convert_to(:'"'"'pw'"'"', '"'"'UTF8'"'"') FROM \"Passetto\".\"Master\"") != "t":
                sys.exit("exited: Invalid password")
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = json.dumps({"status": "ok", "keys": int(q("SELECT count(*) FROM \"Passetto\".\"Keys\""))}).encode()
                    self.send_response(200 if self.path == "/status" else 404)
                    self.end_headers()
                    self.wfile.write(body)
            print("Starting server...", flush=True)
            http.server.HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8012"))), H).serve_forever()
            '
          '';
        })
      ];
    };
  };
})`;

const runStack = String.raw`({ config, lib, pkgs, ... }:
  let
    vault = config.services.passetto.vault;
    vault2 = config.services.passetto.vault2;
    schema = builtins.toFile "create_schema.sql" SCHEMA;
  in {
    services.passetto.vault = { enable = true; port = 8451; dbPort = 5451; keys = 2; masterPassword = "vault master Q7"; schemas = [ schema ]; };
    services.passetto.vault2 = {
      enable = true; port = 8452; dbPort = 5452; dbPassword = "an0ther p@ss"; schemas = [ schema ];
      masterPasswordFile = builtins.toFile "vault2-master" "vault2 s3cret Z9\n";
    };
    settings.processes.test = {
      command = pkgs.writeShellApplication {
        name = "passetto-test";
        runtimeInputs = [ pkgs.python3 pkgs.postgresql pkgs.gnugrep pkgs.coreutils ];
        text = ''
          status() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
          echo "each app answers with its own database's keys: the schema's one plus passetto-init's, added on the first start only"
          status http://127.0.0.1:${"$"}{toString vault.port}/status | grep -Fx '{"status": "ok", "keys": 3}'
          status http://127.0.0.1:${"$"}{toString vault2.port}/status | grep -Fx '{"status": "ok", "keys": 4}'

          echo "the schema ran as the role passetto, which owns what it created and the database"
          q() { psql -X -w -At -d ${"$"}{lib.escapeShellArg vault.connectionString} -c "$1"; }
          q "SELECT current_user || '@' || current_database()" | grep -x passetto@passetto
          q "SELECT schema_owner FROM information_schema.schemata WHERE schema_name = 'Passetto'" | grep -x passetto
          q "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'Passetto'" | grep -x passetto
          q "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'passetto'" | grep -x passetto

          echo "the database refuses a wrong password, and the superuser without one"
          if PGPASSWORD=passetto psql -X -w -h 127.0.0.1 -p ${"$"}{toString vault2.dbPort} -U passetto -d passetto -c "SELECT 1" 2>err.txt; then
            echo "vault2's database accepted another instance's password" >&2; exit 1
          fi
          grep -q 'password authentication failed for user "passetto"' err.txt
          if psql -X -w -h 127.0.0.1 -p ${"$"}{toString vault.dbPort} -d postgres -c "SELECT 1" 2>err.txt; then
            echo "the superuser connected over TCP without a password" >&2; exit 1
          fi
          grep -q "no password supplied" err.txt
          test -f ./data/vault/keys-initialised
        '';
      };
      depends_on.vault.condition = "process_healthy";
      depends_on.vault2.condition = "process_healthy";
    };
  })`.replace("SCHEMA", () => nixString(standInSchema));

const pc = findProcessCompose();
const runMissing = [
  ...(seeded ? [] : ["nix with seeded upstream sources"]),
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
  ...missingPackages(join(generated, "passetto.nix")),
];
if (runMissing.length > 0) console.warn(`[run] passetto skipped: missing ${runMissing.join("; ")}`);

describe.skipIf(runMissing.length > 0)("[run] passetto with a stand-in passetto-service, under process-compose", () => {
  it("brings up two instances, each with its database and schema; keys are added once across two starts", async () => {
    const ev = evalProcessComposeFull(`[ ${nixPath(join(generated, "default.nix"))} ${runStack} ]`, {
      pkgsOverlays: `[ ${workingOverlay} ]`,
    });
    const results = await runTwice(pc!, ev, "passetto");
    expect(results.map((r) => ({ timedOut: r.timedOut, code: r.code }))).toEqual([
      { timedOut: false, code: 0 },
      { timedOut: false, code: 0 },
    ]);
  }, 400_000);
});
