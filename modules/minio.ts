/**
 * MinIO, an S3-compatible object store, one server per instance, its objects in
 * `dataDir`/data. Options, defaults and process names follow services-flake's
 * `minio` service, so its users' configurations work unchanged.
 * Server: https://min.io/docs/minio/linux/reference/minio-server/minio-server.html
 */
import {
  all,
  concatStrings,
  cond,
  connectHost,
  defineService,
  type Expr,
  helper,
  mapList,
  matches,
  nix,
  or,
  process,
  runtimePath,
  s,
  script,
  sh,
  t,
} from "../dsl";

/** The port of a `host:port` address (the text after the last colon). */
const addressPort = helper("minioAddressPort", "address", (a: Expr<string>) =>
  nix<number>("int")`lib.toInt (lib.last (lib.splitString ":" ${a}))`,
);

export default defineService({
  name: "minio",
  description: "[MinIO](https://min.io/) S3-compatible object storage server, one per instance, its objects in `dataDir`.",
  homepage: "https://min.io/docs/minio/linux/reference/minio-server/minio-server.html",
  example: `services.minio."s3" = {
  enable = true;
  port = 9100;
  consoleAddress = "127.0.0.1:9101";
  buckets = [ "uploads" ];
};`,
  options: {
    host: t.str({ default: "127.0.0.1", description: "The address the S3 API listens on." }),
    port: t.port({ default: 9000, description: "The TCP port of the S3 API." }),
    consoleAddress: t.str({
      default: "127.0.0.1:9001",
      example: "127.0.0.1:9101",
      description: "`host:port` of the web console (only served when `browser` is true).",
    }),
    accessKey: t.str({
      default: "minioadmin",
      description: "The root user's access key (`MINIO_ROOT_USER`), 5 to 20 characters. It is stored in the Nix store.",
    }),
    secretKey: t.str({
      default: "minioadmin",
      description: "The root user's secret key (`MINIO_ROOT_PASSWORD`), 8 to 40 characters. It is stored in the Nix store: keep real secrets out of it.",
    }),
    region: t.str({
      default: "us-east-1",
      description: "The region the server reports and requests must be signed for (`MINIO_REGION`); `us-east-1` is S3's and MinIO's default.",
    }),
    browser: t.bool({ default: true, description: "Whether the web console is served (`MINIO_BROWSER`)." }),
    package: t.package("minio"),
    buckets: t.listOf(t.str(), {
      default: [],
      example: ["uploads", "backups"],
      description:
        "Buckets made sure to exist (as directories of the data directory) before every start. " +
        "Names are checked at evaluation (S3's rules), so none can reach outside the data directory.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.port, option: "port" },
    { port: cond(cfg.browser, addressPort(cfg.consoleAddress), 0), option: "consoleAddress" },
  ],
  assertions: ({ cfg }) => [
    {
      assertion: all(mapList(cfg.buckets, (b) => matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", b), "bucket")),
      message: "buckets: a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.",
    },
  ],
  processes: ({ name, cfg, pkgs }) => {
    const init = process(s`${name}-init`, {
      command: script({
        name: "setup-minio",
        runtimeInputs: [pkgs.coreutils],
        text: sh`
          data=${runtimePath(s`${cfg.dataDir}/data`)}
          mkdir -p -- "$data" ${runtimePath(s`${cfg.dataDir}/config`)}
          ${concatStrings(mapList(cfg.buckets, (bucket) => sh`mkdir -p -- "$data"/${bucket}\n`, "bucket"))}
        `,
      }),
      oneshot: true,
    });
    return [
      init,
      process(name, {
        command: script({
          name: "start-minio",
          runtimeInputs: [cfg.package],
          // Every value is quoted for the shell (services-flake puts the keys and region between double quotes
          // as they are, so a `"`, `$` or backquote in them breaks the script or runs code).
          text: sh`
            export MINIO_REGION=${cfg.region}
            export MINIO_BROWSER=${cond(cfg.browser, "on", "off")}
            export MINIO_ROOT_USER=${cfg.accessKey}
            export MINIO_ROOT_PASSWORD=${cfg.secretKey}
            exec minio server --json --address ${s`${cfg.host}:${cfg.port}`} --console-address ${cfg.consoleAddress} \\
              --config-dir=${runtimePath(s`${cfg.dataDir}/config`)} ${runtimePath(s`${cfg.dataDir}/data`)}
          `,
        }),
        dependsOn: [{ process: init, condition: "succeeded" }],
        readiness: {
          http: {
            host: connectHost(cfg.host),
            port: cfg.port,
            path: "/minio/health/live",
          },
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
