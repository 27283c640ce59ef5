/**
 * Parse and eval tiers: the committed generated/ files parse with the real Nix
 * parser, and evaluate inside the pinned process-compose-flake and nixpkgs lib
 * (and flake-parts, for flakeModule) with several instances of each service at once.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  evalFlakeParts,
  evalProcessComposeFull,
  nixAvailable,
  nixParseFile,
  nixPath,
  type ProcessComposeEval,
  readProcessScript,
  repoRoot,
  upstreamSeeded,
  upstreamSkipReason,
} from "./support/nix";

const generated = join(repoRoot, "generated");
const nixFiles = readdirSync(generated).filter((f) => f.endsWith(".nix"));

describe.skipIf(!nixAvailable())("[nix parse] every generated file parses with nix-instantiate --parse", () => {
  for (const f of [...nixFiles, "../flake.nix"]) {
    it(f, () => nixParseFile(join(generated, f)));
  }
});

const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] skipped: ${upstreamSkipReason}`);

const procs = (ev: ProcessComposeEval) => ev.settings.processes ?? {};

/** Reads the store file a script references by the given file name (the script's build realised it). */
function storeFile(script: string, name: string): string {
  const m = new RegExp(`(/nix/store/[a-z0-9]{32}-${name.replace(/\./g, "\\.")})`).exec(script);
  if (!m) throw new Error(`no ${name} in script:\n${script}`);
  return readFileSync(m[1]!, "utf8");
}

// Values full of what breaks hand-written Nix, shell, SQL and config files.
const nasty = `it's "quoted" \\ $HOME \${not.interpolated} ''x'' \`tick\`\nline2`;

describe.skipIf(!seeded)("[nix eval] three postgres and two redis instances in process-compose-flake", () => {
  let ev: ProcessComposeEval;
  beforeAll(() => {
    ev = evalProcessComposeFull(`[
      ${nixPath(join(generated, "default.nix"))}
      {
        services.postgres."pg1".enable = true;
        services.postgres."pg2" = {
          enable = true;
          port = 5433;
          dataDir = "./data/pg two $x";
          superuser = "admin";
          socketDir = "./sockets";
          initdbArgs = [ "--locale=C" "--auth=trust" ];
          settings = { log_statement = "all"; shared_buffers = "128MB"; fsync = false; max_connections = 50; application_name = ${JSON.stringify(nasty).replace(/\$\{/g, "\\${")}; };
          ensureDatabases = [ "app" "it's" ];
          ensureUsers = [ { name = "app"; ensureDBOwnership = true; ensureClauses = { createdb = true; superuser = false; }; } ];
          hbaConf = [ { type = "host"; database = "all"; user = "all"; address = "10.0.0.0/8"; method = "scram-sha-256"; } ];
        };
        services.postgres."pg3" = {
          enable = true;
          port = 5434;
          namespace = "databases";
          initialDatabases = [ { name = "shop"; schemas = [ ${nixPath(join(repoRoot, "test/fixtures/schema.sql"))} ]; } { name = "empty"; } ];
          initialScript.before = "CREATE ROLE reader;";
          initialScript.after = ${JSON.stringify(nasty).replace(/\$\{/g, "\\${")};
        };
        services.postgres."off" = { port = 5499; };
        services.redis."r1".enable = true;
        services.redis."r2" = {
          enable = true;
          port = 6380;
          dataDir = "./data/redis two";
          unixSocket = "r2.sock";
          extraConfig = "maxmemory 64mb\\nappendonly yes";
        };
      }
    ]`);
  });

  it("contributes the processes of enabled instances only, with services-flake's names", () => {
    expect(Object.keys(procs(ev)).sort()).toEqual(["pg1", "pg1-init", "pg2", "pg2-init", "pg3", "pg3-init", "r1", "r2"]);
  });

  it("orders each server after its init process", () => {
    for (const pg of ["pg1", "pg2", "pg3"]) {
      expect(procs(ev)[pg]!.depends_on).toEqual({ [`${pg}-init`]: { condition: "process_completed_successfully" } });
    }
    expect(procs(ev)["r1"]!.depends_on).toBeUndefined();
  });

  it("groups processes by namespace, default <service>.<instance>", () => {
    expect(procs(ev)["pg1"]!.namespace).toBe("postgres.pg1");
    expect(procs(ev)["pg1-init"]!.namespace).toBe("postgres.pg1");
    expect(procs(ev)["pg3"]!.namespace).toBe("databases");
    expect(procs(ev)["r2"]!.namespace).toBe("redis.r2");
  });

  it("probes each server where it listens", () => {
    const probe = (p: string) => (procs(ev)[p]!.readiness_probe as { exec: { command: string } }).exec.command;
    // Polling probes: the check, retried every 50 ms within one probe.
    // postgres: its own postmaster.pid names a live server on the port (not another stack's server) that says it is
    // "ready", and only then pg_isready (a connection while the server starts is logged as FATAL).
    expect(probe("pg1")).toMatch(
      /^for _ in \$\(\S+\/bin\/seq 60\); do\n  \{ pidfile="\$\(\S+ -m -- \.\/data\/pg1\)"\/postmaster\.pid && \[ "\$\(\S+\/bin\/sed -n 4p "\$pidfile"\)" = 5432 \] && \[ "\$\(\S+\/bin\/sed -n '8s\/ \*\$\/\/p' "\$pidfile"\)" = ready \] && kill -0 "\$\(\S+\/bin\/head -n 1 "\$pidfile"\)" && \S+\/bin\/pg_isready -h 127\.0\.0\.1 -p 5432 -d template1 ; \} >\/dev\/null 2>&1 && exit 0\n  \S+\/bin\/sleep 0\.05\ndone\nexit 1\n$/,
    );
    expect(probe("pg2")).toMatch(/&& \S+\/bin\/pg_isready -h "\$\(\/nix\/store\/\S+\/bin\/realpath -m -- \.\/sockets\)" -p 5433 -d template1 -U admin; \}/);
    // redis over TCP: the server on the port works in this instance's dataDir.
    expect(probe("r1")).toMatch(/\{ \[ "\$\(\S+\/bin\/redis-cli -p 6379 config get dir \| \S+\/bin\/sed -n 2p\)" = "\$\(\S+ -m -- \.\/data\/r1\)" \]; \} >/);
    expect(probe("r2")).toMatch(/\/bin\/redis-cli -p 6380 config get dir \| /);
    expect(procs(ev)["pg1"]!.readiness_probe).toMatchObject({ initial_delay_seconds: 0, period_seconds: 1, timeout_seconds: 5 });
    expect(procs(ev)["pg1"]!.shutdown).toEqual({ signal: 2, timeout_seconds: 10 });
  });

  it("renders postgresql.conf and the setup script per instance", () => {
    const setup = readProcessScript(ev, "pg2-init");
    expect(setup).toMatch(/^PGDATA="\$\(\/nix\/store\/\S+\/bin\/realpath -m -- '\.\/data\/pg two \$x'\)"$/m);
    expect(setup).toContain("export PGPORT=5433");
    expect(setup).toContain("initdb '--locale=C' '--auth=trust' -U admin -D \"$cluster\"");
    expect(setup).toContain("mkdir -p -- ./sockets");
    const conf = storeFile(setup, "postgresql.conf");
    expect(conf.split("\n")).toEqual(
      expect.arrayContaining([
        "listen_addresses = '127.0.0.1'",
        "port = 5433",
        "unix_socket_directories = './sockets'",
        "log_statement = 'all'",
        "fsync = off",
        "max_connections = 50",
        `application_name = 'it''s "quoted" \\\\ $HOME \${not.interpolated} ''''x'''' \`tick\`\\nline2'`,
      ]),
    );
    const hba = storeFile(conf, "pg_hba.conf");
    expect(hba.trimEnd().split("\n").at(-1)).toBe("host\tall\tall\t10.0.0.0/8\tscram-sha-256");
    const ensure = storeFile(setup, "ensure.sql");
    expect(ensure).toContain(
      "SELECT format('CREATE DATABASE %I', 'it''s') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'it''s')\\gexec",
    );
    expect(ensure).toContain('ALTER ROLE "app" WITH NOSUPERUSER CREATEDB;');
    expect(ensure).toContain('ALTER DATABASE "app" OWNER TO "app";');
  });

  it("creates initial databases with their schemas on first start only", () => {
    const setup = readProcessScript(ev, "pg3-init");
    const initial = storeFile(setup, "initial.sql");
    expect(initial.startsWith("CREATE ROLE reader;\n")).toBe(true);
    expect(initial).toContain("datname = 'shop'");
    expect(initial).toContain("datname = 'empty'");
    expect(initial).not.toContain("current_user");
    expect(setup).toMatch(/apply_schema shop \/nix\/store\/[a-z0-9]{32}-schema\.sql/);
    expect(storeFile(setup, "initial-after.sql")).toBe(nasty);
    const pg1 = storeFile(readProcessScript(ev, "pg1-init"), "initial.sql");
    expect(pg1).toContain("format('CREATE DATABASE %I', current_user)");
  });

  it("renders redis.conf per instance", () => {
    const start = readProcessScript(ev, "r2");
    expect(start).toMatch(/^umask 077\ndata="\$\(\/nix\/store\/\S+\/bin\/realpath -m -- '\.\/data\/redis two'\)"\nmkdir -p -- "\$data"\nchmod 0700 -- "\$data"\nexec redis-server/m);
    const conf = storeFile(start, "redis.conf");
    expect(conf).toBe('port 6380\nbind 127.0.0.1\nunixsocket "r2.sock"\nunixsocketperm 660\nshutdown-on-sigterm now force\nshutdown-on-sigint now force\nmaxmemory 64mb\nappendonly yes\n');
    expect(storeFile(readProcessScript(ev, "r1"), "redis.conf")).toBe("port 6379\nbind 127.0.0.1\nshutdown-on-sigterm now force\nshutdown-on-sigint now force\n\n");
  });
});

describe.skipIf(!seeded)("[nix eval] per-service modules and flake-parts", () => {
  it("processComposeModules.redis alone declares only redis", () => {
    const ev = evalProcessComposeFull(`[ ${nixPath(join(generated, "redis.nix"))} { services.redis."a".enable = true; } ]`);
    expect(Object.keys(procs(ev))).toEqual(["a"]);
  });

  it("flakeModule adds the services to perSystem process-compose configurations", () => {
    const ev = evalFlakeParts({
      flakeModulesNix: `[ ${nixPath(join(generated, "flake-module.nix"))} ]`,
      perSystemNix: `{ process-compose.dev = { services.postgres."db".enable = true; services.redis."cache" = { enable = true; port = 6390; }; }; }`,
      name: "dev",
    });
    expect(Object.keys(procs(ev)).sort()).toEqual(["cache", "db", "db-init"]);
    expect(ev.packages).toContain("dev");
  });

  it("flake.nix exposes the modules without inputs", () => {
    const flake = `((import ${nixPath(join(repoRoot, "flake.nix"))}).outputs { })`;
    const ev = evalProcessComposeFull(
      `[ ${flake}.processComposeModules.default { services.redis."x".enable = true; services.postgres."y".enable = true; } ]`,
    );
    expect(Object.keys(procs(ev)).sort()).toEqual(["x", "y", "y-init"]);
  });

  it("rejects an option value of the wrong type with Nix's message", () => {
    expect(() => evalProcessComposeFull(`[ ${nixPath(join(generated, "redis.nix"))} { services.redis."a" = { enable = true; port = "6379"; }; } ]`)).toThrow(
      /services\.redis\.a\.port.*is not of type `16 bit unsigned integer/s,
    );
  });
});

describe.skipIf(!seeded)("[nix eval] composed and multi-process services", () => {
  it("postgres-with-replica declares a primary, a replica and the clone between them, per instance", () => {
    const ev = evalProcessComposeFull(`[
      ${nixPath(join(generated, "postgres-with-replica.nix"))}
      { services.postgres-with-replica."a" = { enable = true; extraReplicaDBSettings.settings.hot_standby_feedback = true; };
        services.postgres-with-replica."b" = { enable = true; port = 6000; replicaPort = 6001; }; }
    ]`);
    const p = procs(ev);
    expect(Object.keys(p).sort()).toEqual(
      ["a", "a-init", "a-replica", "a-replica-init", "pg-basebackup-a", "b", "b-init", "b-replica", "b-replica-init", "pg-basebackup-b"].sort(),
    );
    expect(p["pg-basebackup-b"]!.depends_on).toEqual({ b: { condition: "process_healthy" } });
    expect(p["b-replica-init"]!.depends_on).toEqual({ "pg-basebackup-b": { condition: "process_completed_successfully" } });
    expect(p["b-replica"]!.depends_on).toEqual({ "b-replica-init": { condition: "process_completed_successfully" } });
    expect(p["b"]!.namespace).toBe("postgres-with-replica.b");
    const probe = (n: string) => (p[n]!.readiness_probe as { exec: { command: string } }).exec.command;
    expect(probe("b")).toContain("-p 6000 ");
    expect(probe("b-replica")).toContain("-p 6001 ");
    const backup = readProcessScript(ev, "pg-basebackup-b");
    expect(backup).toContain("-h 127.0.0.1 -p 6000 -U replicator");
    expect(backup).toContain("--slot=b_replica");
    expect(storeFile(readProcessScript(ev, "a-replica-init"), "postgresql.conf")).toContain("hot_standby_feedback = on");
    expect(storeFile(readProcessScript(ev, "a-init"), "ensure.sql")).toContain('ALTER ROLE "replicator" WITH NOSUPERUSER LOGIN REPLICATION;');
  });

  it("redis-cluster runs one process per node and creates the cluster after all are healthy", () => {
    const ev = evalProcessComposeFull(`[
      ${nixPath(join(generated, "redis-cluster.nix"))}
      { services.redis-cluster."c" = { enable = true; nodes = { x.port = 7001; y.port = 7002; z.port = 7003; }; replicas = 0; }; }
    ]`);
    const p = procs(ev);
    expect(Object.keys(p).sort()).toEqual(["c-cluster-create", "c-x", "c-y", "c-z"]);
    expect(p["c-cluster-create"]!.depends_on).toEqual({
      "c-x": { condition: "process_healthy" },
      "c-y": { condition: "process_healthy" },
      "c-z": { condition: "process_healthy" },
    });
    const create = readProcessScript(ev, "c-cluster-create");
    expect(create).toContain("hosts=(127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003)");
    expect(create).toContain("replicas=0\n");
    const conf = storeFile(readProcessScript(ev, "c-y"), "redis.conf");
    expect(conf).toContain("port 7002\ncluster-enabled yes\ncluster-config-file nodes-7002.conf\n");
  });
});
