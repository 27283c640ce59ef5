/**
 * SeaweedFS, a distributed object and file store, as one `weed server` per
 * instance (master and volume server, optionally a filer and its S3 gateway),
 * its data in `dataDir`. Options, defaults and the process name follow
 * services-flake's `seaweedfs` service, so its users' configurations work unchanged.
 * `weed server`: https://github.com/seaweedfs/seaweedfs/wiki/Components
 */
import {
  and,
  concatLists,
  concatStrings,
  cond,
  defineService,
  exe,
  type Expr,
  gte,
  nix,
  not,
  optional,
  orElse,
  plus,
  process,
  runtimePath,
  s,
  script,
  sh,
  t,
  ifSet,
  list,
} from "../dsl";

/** A component's gRPC port option: `null` means weed's default, its HTTP port + 10000. */
const grpcPort = (component: string) =>
  t.nullOr(t.port(), { default: null, description: `The gRPC port; \`null\` means \`${component}.port\` + 10000.` });

/** The gRPC port of the S3 gateway: `-s3.port.grpc=N` from `extraArgs` when given there, else the HTTP port + 10000 (weed's default). */
const s3GrpcPort = (extraArgs: Expr<readonly string[]>, s3Port: Expr<number>) =>
  nix<number>("int")`let given = lib.findFirst (arg: builtins.match "--?s3[.]port[.]grpc=[0-9]+" arg != null) null ${extraArgs}; in if given == null then ${s3Port} + 10000 else lib.toInt (lib.last (lib.splitString "=" given))`;

export default defineService({
  name: "seaweedfs",
  description:
    "[SeaweedFS](https://github.com/seaweedfs/seaweedfs) object and file store: one `weed server` per instance " +
    "(a master and a volume server, optionally a filer and an S3 gateway), its data in `dataDir`.",
  homepage: "https://github.com/seaweedfs/seaweedfs/wiki/Components",
  example: `services.seaweedfs."blobs" = {
  enable = true;
  master.port = 9433;
  volume.port = 8180;
  filer.enable = true;
  s3.enable = true;
};`,
  options: {
    package: t.package("seaweedfs"),
    host: t.str({ default: "127.0.0.1", description: "The address every component listens on (`-ip.bind`) and advertises (`-ip`)." }),
    master: t.submodule(
      {
        port: t.port({ default: 9333, description: "The HTTP port of the master." }),
        grpcPort: grpcPort("master"),
        defaultReplication: t.str({
          default: "000",
          example: "001",
          description: "The default [replication](https://github.com/seaweedfs/seaweedfs/wiki/Replication) of new volumes; `000` keeps one copy.",
        }),
        volumeSizeLimitMB: t.int({ default: 1024, description: "The size (MB) past which the master stops directing writes to a volume; positive." }),
      },
      { default: {}, description: "The master server." },
    ),
    volume: t.submodule(
      {
        port: t.port({ default: 8080, description: "The HTTP port of the volume server." }),
        grpcPort: grpcPort("volume"),
        max: t.str({ default: "8", description: "The most volumes the volume server holds (`-volume.max`)." }),
      },
      { default: {}, description: "The volume server." },
    ),
    filer: t.submodule(
      {
        enable: t.bool({ default: false, description: "Whether to run the filer (a file system over the volumes)." }),
        port: t.port({ default: 8888, description: "The HTTP port of the filer." }),
        grpcPort: grpcPort("filer"),
      },
      { default: {}, description: "The filer." },
    ),
    s3: t.submodule(
      {
        enable: t.bool({ default: false, description: "Whether to run the S3 gateway; it needs `filer.enable`." }),
        port: t.port({ default: 8333, description: "The HTTP port of the S3 API (its gRPC port is this + 10000 unless `extraArgs` sets `-s3.port.grpc`)." }),
        config: t.nullOr(t.path(), {
          default: null,
          description: "An S3 identities file (`-s3.config`, credentials and their actions); `null` runs the gateway without authentication.",
        }),
      },
      { default: {}, description: "The S3 gateway." },
    ),
    extraArgs: t.listOf(t.str(), {
      default: [],
      example: ["-volume.index=leveldb"],
      description: "Extra arguments to `weed server`, one argument per element, each quoted for the shell.",
    }),
  },
  assertions: ({ cfg }) => [
    { assertion: not(and(cfg.s3.enable, not(cfg.filer.enable))), message: "s3.enable needs filer.enable: the S3 gateway stores through the filer." },
    { assertion: gte(cfg.master.volumeSizeLimitMB, 1), message: "master.volumeSizeLimitMB must be positive." },
  ],
  ports: ({ cfg }) => [
    { port: cfg.master.port, option: "master.port" },
    { port: orElse(cfg.master.grpcPort, plus(cfg.master.port, 10000)), option: "master.grpcPort" },
    { port: cfg.volume.port, option: "volume.port" },
    { port: orElse(cfg.volume.grpcPort, plus(cfg.volume.port, 10000)), option: "volume.grpcPort" },
    { port: cond(cfg.filer.enable, cfg.filer.port, 0), option: "filer.port" },
    { port: cond(cfg.filer.enable, orElse(cfg.filer.grpcPort, plus(cfg.filer.port, 10000)), 0), option: "filer.grpcPort" },
    { port: cond(cfg.s3.enable, cfg.s3.port, 0), option: "s3.port" },
    { port: cond(cfg.s3.enable, s3GrpcPort(cfg.extraArgs, cfg.s3.port), 0), option: "s3.port + 10000 (its gRPC port)" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    const url = (port: Expr<number>, path: string) => s`http://${cfg.host}:${port}${path}`;
    const curl = exe(pkgs.curl, "curl");
    // Each argument quoted for the shell, `-flag=value` as weed reads them.
    const grpcArg = (flag: string, port: Expr<number | null>) => ifSet(port, (p) => list<string>(s`-${flag}=${p}`), list<string>());
    const args = concatLists<string>(
      [
        s`-ip=${cfg.host}`,
        s`-ip.bind=${cfg.host}`,
        s`-master.port=${cfg.master.port}`,
        s`-master.defaultReplication=${cfg.master.defaultReplication}`,
        s`-master.volumeSizeLimitMB=${cfg.master.volumeSizeLimitMB}`,
        s`-volume.port=${cfg.volume.port}`,
        s`-volume.max=${cfg.volume.max}`,
      ],
      grpcArg("master.port.grpc", cfg.master.grpcPort),
      grpcArg("volume.port.grpc", cfg.volume.grpcPort),
      optional(cfg.filer.enable, concatLists<string>(["-filer", s`-filer.port=${cfg.filer.port}`], grpcArg("filer.port.grpc", cfg.filer.grpcPort))),
      optional(cfg.s3.enable, concatLists<string>(["-s3", s`-s3.port=${cfg.s3.port}`], ifSet(cfg.s3.config, (c) => list<string>(s`-s3.config=${c}`), list<string>()))),
      cfg.extraArgs,
    );
    return [
      process(name, {
        command: script({
          name: "start-seaweedfs",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          // `exec`, so that weed itself gets the stop signal (services-flake's script keeps bash in between).
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            mkdir -p -- "$data/master" "$data/volume" ${optional(cfg.filer.enable, sh`"$data/filer"`)}
            exec weed server -dir="$data/volume" -master.dir="$data/master" ${args}
          `,
        }),
        // Ready when every component it runs answers its health check.
        readiness: {
          exec: sh`${concatStrings([
            sh`${curl} -fsS -o /dev/null ${url(cfg.master.port, "/cluster/healthz")}`,
            sh` && ${curl} -fsS -o /dev/null ${url(cfg.volume.port, "/healthz")}`,
            optional(cfg.filer.enable, sh` && ${curl} -fsS -o /dev/null ${url(cfg.filer.port, "/healthz")}`),
            optional(cfg.s3.enable, sh` && ${curl} -fsS -o /dev/null ${url(cfg.s3.port, "/healthz")}`),
          ])}`,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
