/**
 * Module-system behaviour a Nix user expects: instance definitions in every form
 * services-flake accepts (functions of `{ pkgs, name, config, lib, ... }`), and
 * process settings a module chooses overridden field by field from the user's
 * `settings.processes.<name>` without `mkForce`, lists and attribute sets merging.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { evalProcessComposeFull, nixAvailable, nixPath, type ProcessComposeEval, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";

const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] module system skipped: ${upstreamSkipReason}`);

describe.skipIf(!seeded)("[nix eval] module system: instance definition forms and overrides", () => {
  let ev: ProcessComposeEval;
  const procs = () => ev.settings.processes ?? {};
  beforeAll(() => {
    ev = evalProcessComposeFull(`[
      ${nixPath(join(repoRoot, "generated", "default.nix"))}
      {
        services.postgres."db" = { pkgs, name, config, lib, ... }: {
          enable = true;
          package = pkgs.postgresql;
          port = 5500;
          dataDir = "./state/\${name}";
          initialDatabases = lib.mkIf config.enable [ { name = "app"; } ];
        };
        services.redis."r1" = { name, ... }: { imports = [ { enable = true; } ]; port = 6400; };
        services.postgres-with-replica."pr" = { enable = true; port = 5600; replicaPort = 5601; };

        settings.processes."r1" = {
          availability.max_restarts = 10;
          readiness_probe.period_seconds = 7;
          environment.FOO = "bar";
        };
        settings.processes."db".depends_on."r1".condition = "process_healthy";
        settings.processes."db".shutdown.timeout_seconds = 20;
        settings.processes."pg-basebackup-pr".availability.restart = "always";
        settings.processes."pr-replica".environment.ROLE = "replica";
      }
    ]`);
  });

  it("accepts instances written as functions of { pkgs, name, config, lib, ... } and with imports", () => {
    expect(Object.keys(procs())).toEqual(expect.arrayContaining(["db", "db-init", "r1", "pr", "pr-replica", "pg-basebackup-pr"]));
    expect(procs()["db"]!.namespace).toBe("postgres.db");
  });

  it("overrides one field of a restart policy and a probe, keeping the module's other fields", () => {
    expect(procs()["r1"]!.availability).toMatchObject({ restart: "on_failure", max_restarts: 10 });
    expect(procs()["r1"]!.readiness_probe).toMatchObject({ period_seconds: 7, failure_threshold: 30, initial_delay_seconds: 0 });
    expect((procs()["r1"]!.readiness_probe as { exec: { command: string } }).exec.command).toContain("redis-cli");
  });

  it("merges the user's environment and depends_on entries with the module's", () => {
    expect(procs()["r1"]!.environment).toEqual(["FOO=bar"]);
    expect(procs()["db"]!.depends_on).toEqual({ "db-init": { condition: "process_completed_successfully" }, r1: { condition: "process_healthy" } });
    expect(procs()["db"]!.shutdown).toMatchObject({ signal: 2, timeout_seconds: 20 });
  });

  it("overrides the processes of a composite service and of the instances it composes", () => {
    expect(procs()["pg-basebackup-pr"]!.availability).toMatchObject({ restart: "always" });
    expect(procs()["pg-basebackup-pr"]!.depends_on).toEqual({ pr: { condition: "process_healthy" } });
    expect(procs()["pr-replica"]!.environment).toEqual(["ROLE=replica"]);
    expect(procs()["pr-replica"]!.availability).toMatchObject({ restart: "on_failure", max_restarts: 5 });
  });
});

describe.skipIf(!seeded)("[nix eval] module system: assertions stop evaluation naming the instance and the option", () => {
  const evalWith = (config: string) => () =>
    evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} { ${config} } ]`);

  it("redis-cluster: fewer nodes than 3 masters with their replicas", () => {
    expect(evalWith(`services.redis-cluster."c" = { enable = true; nodes = { a.port = 21001; b.port = 21002; c.port = 21003; }; };`)).toThrow(
      /services\.redis-cluster\."c": nodes has 3 nodes, but a cluster needs at least 3 masters with 1 replicas each: 6 nodes\./,
    );
  });

  it("postgres: port 0", () => {
    expect(evalWith(`services.postgres."p" = { enable = true; port = 0; };`)).toThrow(/services\.postgres\."p": port is 0: PostgreSQL needs a TCP port/);
  });

  it("postgres-with-replica: one port for the primary and the replica; redis: listening nowhere", () => {
    expect(evalWith(`services.postgres-with-replica."db" = { enable = true; port = 5800; replicaPort = 5800; };`)).toThrow(
      /services\.postgres-with-replica\."db": port and replicaPort are both 5800/,
    );
    expect(evalWith(`services.redis."r" = { enable = true; port = 0; };`)).toThrow(/services\.redis\."r": port is 0 and unixSocket is null/);
  });

  it("an instance name that would put data outside ./data", () => {
    for (const name of ["..", "../x", "a/b"]) {
      expect(evalWith(`services.redis.${JSON.stringify(name)}.enable = true;`)).toThrow(
        /an instance name is part of its data directory and process names; it cannot be empty, "\." or "\.\.", nor contain "\/"/,
      );
    }
  });

  it("a disabled instance is not checked", () => {
    expect(evalWith(`services.postgres."p".port = 0; services.redis."r".enable = true;`)).not.toThrow();
  });
});

describe.skipIf(!seeded)("[nix eval] module system: collisions are refused with both definitions named", () => {
  const evalWith = (config: string) => () =>
    evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} { ${config} } ]`);

  it("two enabled instances of different services making the same process", () => {
    expect(evalWith(`services.redis."x".enable = true; services.memcached."x".enable = true;`)).toThrow(
      /process "x" would be made by both services\.memcached\."x" and services\.redis\."x": give one of the instances another name/,
    );
  });

  it("a user's own instance that a composite service also declares", () => {
    expect(evalWith(`services.postgres-with-replica."db".enable = true; services.postgres."db-replica" = { enable = true; port = 5999; };`)).toThrow(
      /services\.postgres\."db-replica" is declared by services\.postgres-with-replica\."db", and defined as an instance of its own in .*: the two would merge into one/,
    );
  });

  it("no false alarm: distinct names, and a composite's instances configured through it", () => {
    expect(evalWith(`services.redis."a".enable = true; services.memcached."b".enable = true; services.postgres-with-replica."db".enable = true;`)).not.toThrow();
  });
});

describe.skipIf(!seeded)("[nix eval] module system: two servers on one port are refused, naming both options", () => {
  const evalWith = (config: string) => () =>
    evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} { ${config} } ]`);

  it("two postgres instances at the default port", () => {
    expect(evalWith(`services.postgres."a".enable = true; services.postgres."b".enable = true;`)).toThrow(
      /port 5432 is set for both services\.postgres\."a"\.port and services\.postgres\."b"\.port: two servers cannot listen on one port/,
    );
  });

  it("a replica port derived by a composite service, and a redis on a cluster node's bus port", () => {
    expect(evalWith(`services.postgres-with-replica."db" = { enable = true; port = 5600; replicaPort = 5601; }; services.postgres."other" = { enable = true; port = 5601; };`)).toThrow(
      /port 5601 is set for both services\.postgres\."db-replica"\.port and services\.postgres\."other"\.port/,
    );
    expect(
      evalWith(`services.redis-cluster."c" = { enable = true; nodes = { a.port = 21001; b.port = 21002; c.port = 21003; d.port = 21004; e.port = 21005; f.port = 21006; }; }; services.redis."r" = { enable = true; port = 31001; };`),
    ).toThrow(/port 31001 is set for both services\.redis-cluster\."c"\.nodes\.a\.port \+ 10000 \(cluster bus\) and services\.redis\."r"\.port/);
  });

  it("pgweb's port counts only when pgweb is enabled", () => {
    const config = (pgweb: boolean) => () =>
      evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ({ pkgs, ... }: {
        services.notes-app."n" = { enable = true; package = pkgs.bash; port = 8600; dbPort = 5650; pgweb = { enable = ${pgweb}; port = 6300; package = pkgs.bash; }; };
        services.redis."r" = { enable = true; port = 6300; };
      }) ]`);
    expect(config(false)).not.toThrow();
    expect(config(true)).toThrow(/port 6300 is set for both services\.notes-app\."n"\.pgweb\.port and services\.redis\."r"\.port/);
  });
});
