/**
 * DynamoDB Local, AWS's downloadable DynamoDB for development, one per instance.
 * Options, defaults and the process name follow services-flake's `dynamodb-local`.
 * Options: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html
 */
import { and, defineService, exe, ifSet, not, notNull, optional, process, runtimePath, script, sh, t } from "../dsl";

export default defineService({
  name: "dynamodb-local",
  description: "[DynamoDB Local](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.html), AWS's DynamoDB for development, one per instance.",
  homepage: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html",
  example: `services.dynamodb-local."ddb" = {
  enable = true;
  port = 8001;
};`,
  options: {
    package: t.package("dynamodb-local"),
    port: t.port({ default: 8000, description: "The port applications reach DynamoDB on. DynamoDB Local has no option for the address: it listens on every interface." }),
    dbPath: t.nullOr(t.str(), {
      default: null,
      example: "./data/ddb-tables",
      description:
        "The directory of the database file (`-dbPath`). `null` means the instance's `dataDir` (services-flake leaves it to " +
        "DynamoDB Local, which writes into the directory the stack runs from, so two instances would share one file).",
    }),
    inMemory: t.bool({ default: false, description: "Keep the data in memory only (`-inMemory`): nothing survives a stop. Excludes `dbPath`." }),
    extraArgs: t.listOf(t.str(), { default: [], example: ["-sharedDb"], description: "More arguments for DynamoDB Local, one per element." }),
    disableTelemetry: t.bool({ default: true, description: "Pass `-disableTelemetry`." }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  assertions: ({ cfg }) => [
    { assertion: not(and(notNull(cfg.dbPath), cfg.inMemory)), message: "dbPath and inMemory are both set: DynamoDB Local keeps its data either in a file or in memory." },
  ],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-dynamodb",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        text: sh`
          ${optional(
            not(cfg.inMemory),
            sh`
              db=${runtimePath(ifSet(cfg.dbPath, (p) => p, cfg.dataDir))}
              mkdir -p -- "$db"
            `,
          )}
          exec dynamodb-local -port ${cfg.port} ${optional(not(cfg.inMemory), sh`-dbPath "$db"`)} ${optional(cfg.inMemory, sh`-inMemory`)} ${optional(cfg.disableTelemetry, sh`-disableTelemetry`)} ${cfg.extraArgs}
        `,
      }),
      // Ready when a ListTables request, signed with made-up credentials (DynamoDB Local takes any), is answered
      // with a table list; curl signs it (services-flake runs awscli2, a Python program, for the same request).
      readiness: {
        exec: sh`${exe(pkgs.curl, "curl")} -sf --aws-sigv4 aws:amz:us-east-1:dynamodb --user fake:fake -X POST -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -d '{}' http://127.0.0.1:${cfg.port}/ | ${exe(pkgs.gnugrep, "grep")} -q TableNames`,
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
