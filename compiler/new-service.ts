/**
 * `pnpm new-service <name> [--package ATTR] [--debian PKG] [--port N]`
 *
 * Starts a new service the way the project's conventions want it:
 * - `modules/<name>.ts`: a server with `package`, `port` and `extraArgs` options,
 *   started from its `dataDir`, ready when its port answers, restarted on failure;
 * - `modules/<name>.test.ts`: an instance on a test port and a test process to fill in;
 * - an entry in `test/packages.json`, so the test-only package set maps
 *   `pkgs.<ATTR>` onto the Debian package and `.ci/run` installs it;
 * then runs `pnpm build-modules` and prints the next steps.
 *
 * It never overwrites: existing files are left as they are (and said so), and
 * running it again only adds what is missing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli } from "./cli-args";

const usage = `usage: pnpm new-service <name> [--package ATTR] [--debian PKG] [--port N] [--root DIR] [--no-build]

  <name>          the service: lowercase letters, digits and dashes (services.<name>.<instance>)
  --package ATTR  the nixpkgs attribute of its server package (default: <name>)
  --debian PKG    the Debian package the test-only package set maps it onto (default: <name>)
  --port N        the server's default TCP port (default: 8000)
  --no-build      do not run pnpm build-modules afterwards
`;

/** What `newService` did, file by file. */
export interface NewServiceResult {
  readonly created: string[];
  readonly kept: string[];
  readonly notes: string[];
}

const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The module file for a new service. */
export function moduleTemplate(name: string, attr: string, port: number): string {
  return `/**
 * ${name}, one server per instance. If services-flake has a \`${name}\` service, keep its
 * option names, defaults and process names, so its users' configurations work unchanged.
 * TODO: link the upstream documentation of the server's configuration.
 */
import { defineService, exe, process, runtimePath, script, sh, t } from "../dsl";

export default defineService({
  name: ${JSON.stringify(name)},
  description: ${JSON.stringify(`${name}, one server per instance.`)},
  options: {
    package: t.package(${JSON.stringify(attr)}),
    port: t.port({ default: ${port}, description: "The TCP port the server listens on (127.0.0.1)." }),
    extraArgs: t.listOf(t.str(), { default: [], description: "Extra command-line arguments, one per element." }),
  },
  // The ports it listens on: evaluation refuses two enabled instances on one.
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: ${JSON.stringify(`start-${name}`)},
        runtimeInputs: [cfg.package, pkgs.coreutils],
        // sh\`\` quotes every interpolated value for the shell; runtimePath makes dataDir absolute.
        text: sh\`
          data=\${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          cd -- "$data"
          # TODO: the server's own flags for its address, port and data directory.
          exec ${attr} --listen 127.0.0.1 --port \${cfg.port} \${cfg.extraArgs}
        \`,
      }),
      // Ready as soon as it answers (the check is retried every 50 ms). Better: a request the
      // server itself answers (a ping, a status endpoint: readiness: { http: { host, port, path } }).
      readiness: { exec: sh\`\${exe(pkgs.get("netcat-openbsd"), "nc")} -z 127.0.0.1 \${cfg.port}\` },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
`;
}

/** The test file for a new service. */
export function testTemplate(name: string, port: number): string {
  const id = camel(name);
  const inst = `${name}1`;
  return `import { defineTest, sh } from "../dsl";
import ${id} from "./${name}";

export default defineTest({
  name: ${JSON.stringify(name)},
  services: { ${JSON.stringify(name)}: ${id} },
  instances: { ${JSON.stringify(name)}: { ${JSON.stringify(inst)}: { port: ${port} } } },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.get("netcat-openbsd")],
    // TODO: check real behaviour — a query, a set and a get, an HTTP request the server answers.
    // It runs twice in the same directory: SERVICES_TS_RUN is 1, then 2 (data must survive).
    text: sh\`
      nc -z 127.0.0.1 \${cfg[${JSON.stringify(name)}][${JSON.stringify(inst)}].port}
    \`,
    dependsOn: [{ process: ${JSON.stringify(inst)}, condition: "ready" }],
  }),
});
`;
}

/**
 * Writes the files of a new service under `root`, leaving existing ones alone.
 * @throws Error for an invalid name.
 */
export function newService(
  root: string,
  name: string,
  opts: { attr?: string; debian?: string; port?: number } = {},
): NewServiceResult {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(
      `service name ${JSON.stringify(name)} must be lowercase letters, digits and dashes, starting with a letter`,
    );
  }
  const attr = opts.attr ?? name;
  const debian = opts.debian ?? name;
  const port = opts.port ?? 8000;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--port ${port}: expected a TCP port (1-65535)`);
  // The test instance listens below the ephemeral port range, away from the default.
  const testPort = 20000 + (port % 10000);
  const result: NewServiceResult = { created: [], kept: [], notes: [] };
  const write = (rel: string, content: string) => {
    const file = join(root, rel);
    if (existsSync(file)) {
      result.kept.push(rel);
      return;
    }
    writeFileSync(file, content);
    result.created.push(rel);
  };
  write(`modules/${name}.ts`, moduleTemplate(name, attr, port));
  write(`modules/${name}.test.ts`, testTemplate(name, testPort));

  const pkgFile = join(root, "test", "packages.json");
  const data = JSON.parse(readFileSync(pkgFile, "utf8")) as { packages: Record<string, unknown> };
  if (attr in data.packages) {
    result.kept.push(`test/packages.json (pkgs.${attr})`);
  } else {
    data.packages[attr] = { debian: [debian] };
    writeFileSync(pkgFile, `${JSON.stringify(data, null, 2)}\n`);
    result.created.push(`test/packages.json (pkgs.${attr} → Debian ${debian})`);
    const policy = spawnSync("apt-cache", ["policy", debian], { encoding: "utf8" });
    if (policy.status === 0 && !/Candidate: (?!\(none\))/.test(policy.stdout)) {
      result.notes.push(
        `apt-cache knows no installable Debian package "${debian}": set the right one in test/packages.json (apt-cache search ${name})`,
      );
    } else if (
      !existsSync(`/var/lib/dpkg/info/${debian}.list`) &&
      !existsSync(`/var/lib/dpkg/info/${debian}:amd64.list`)
    ) {
      result.notes.push(
        `Debian package ${debian} is not installed here: apt-get install ${debian} (.ci/run installs it on CI); until then its run test is skipped by name`,
      );
    }
  }
  return result;
}

function main(): number {
  const cli = parseCli(
    usage,
    {
      package: { type: "string" },
      debian: { type: "string" },
      port: { type: "string" },
      "no-build": { type: "boolean", default: false },
    },
    { positionals: true },
  );
  if (typeof cli === "number") return cli;
  const { values, positionals, root } = cli;
  if (positionals.length !== 1) {
    process.stderr.write(usage);
    return 2;
  }
  const name = positionals[0]!;
  let result: NewServiceResult;
  try {
    result = newService(root, name, {
      ...(values.package ? { attr: values.package } : {}),
      ...(values.debian ? { debian: values.debian } : {}),
      ...(values.port ? { port: Number(values.port) } : {}),
    });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
  for (const f of result.created) process.stdout.write(`created  ${f}\n`);
  for (const f of result.kept) process.stdout.write(`kept     ${f} (exists; not overwritten)\n`);
  for (const n of result.notes) process.stdout.write(`note     ${n}\n`);
  if (!values["no-build"]) {
    process.stdout.write("\nrunning pnpm build-modules…\n");
    const build = spawnSync(process.execPath, [...process.execArgv, join(root, "compiler", "cli.ts"), "--root", root], {
      stdio: "inherit",
    });
    if (build.status !== 0) {
      process.stdout.write(
        "\nbuild-modules failed: fix the error above (file:line), then run pnpm build-modules again.\n",
      );
      return 1;
    }
  }
  const rel = (p: string) => relative(process.cwd(), join(root, p)) || ".";
  process.stdout.write(`
next steps:
  1. ${rel(`modules/${name}.ts`)}: the server's options and its command line (see the TODOs);
     readiness: a check the server itself answers.
  2. ${rel(`modules/${name}.test.ts`)}: a test that checks real behaviour.
  3. pnpm build-modules            (or pnpm build-modules --watch while you edit)
  4. pnpm test:service ${name}     (its compile, eval and run tiers)
  5. commit modules/, generated/ and test/packages.json together.
`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
