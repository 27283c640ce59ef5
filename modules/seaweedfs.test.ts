/**
 * seaweedfs under process-compose: a file written through the filer on the first
 * start and read back on both (so after the restart too), the S3 gateway answering without authentication (services-flake's test
 * configuration), and a blob stored on a second server's volume server by a file
 * id its master assigned.
 */
import { defineTest, sh } from "../dsl";
import seaweedfs from "./seaweedfs";

/**
 * For a test machine: no usage reports to SeaweedFS's telemetry server (weed 4.53 sends them by
 * default), and quick starts and stops. A single master resuming its Raft state waits one election
 * timeout (10 s) before it leads, and the volume server waits `preStopSeconds` (10 s) before it stops:
 * measured here, a restart became ready in 17.6 s and stopped in 10.2 s; with these, 3.1 s and 0.1 s.
 */
const quick = ["-master.telemetry=false", "-master.electionTimeout=2s", "-volume.preStopSeconds=0"];

export default defineTest({
  name: "seaweedfs",
  services: { seaweedfs },
  instances: {
    seaweedfs: {
      seaweedfs1: {
        master: { port: 27060, grpcPort: 27064 },
        volume: { port: 27061, grpcPort: 27065 },
        filer: { enable: true, port: 27062, grpcPort: 27066 },
        s3: { enable: true, port: 27063 },
        extraArgs: ["-s3.port.grpc=27067", ...quick],
      },
      seaweedfs2: {
        master: { port: 27070, grpcPort: 27072, volumeSizeLimitMB: 64 },
        volume: { port: 27071, grpcPort: 27073, max: "4" },
        extraArgs: quick,
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.jq, pkgs.coreutils],
    text: sh`
      filer=http://127.0.0.1:${cfg.seaweedfs.seaweedfs1.filer.port}
      # Written on the first start only: on the second, the filer still serves it from dataDir.
      if [ "\${SERVICES_TS_RUN:-1}" = 1 ]; then
        printf 'hello, filer' | curl -sSf -F 'file=@-;filename=hello.txt' "$filer/docs/" >/dev/null
      fi
      test "$(curl -sSf "$filer/docs/hello.txt")" = 'hello, filer'
      curl -sSf http://127.0.0.1:${cfg.seaweedfs.seaweedfs1.s3.port}/ | grep -q ListAllMyBucketsResult

      # seaweedfs2: the master assigns a file id on its volume server, which stores the blob under it.
      # The first assignment grows a volume, and after a restart a master that had volumes refuses to assign for three heartbeat pulses (15 s in weed 4.53: "master is warming up"): up to 30 s.
      fid=
      for _ in $(seq 1 120); do
        fid=$(curl -sS http://127.0.0.1:${cfg.seaweedfs.seaweedfs2.master.port}/dir/assign | jq -r '.fid // empty') || true
        [[ -n "$fid" ]] && break
        sleep 0.25
      done
      test -n "$fid"
      printf 'hello, volume' | curl -sSf -F 'file=@-' "http://127.0.0.1:${cfg.seaweedfs.seaweedfs2.volume.port}/$fid" >/dev/null
      test "$(curl -sSf "http://127.0.0.1:${cfg.seaweedfs.seaweedfs2.volume.port}/$fid")" = 'hello, volume'
    `,
    dependsOn: [
      { process: "seaweedfs1", condition: "ready" },
      { process: "seaweedfs2", condition: "ready" },
    ],
  }),
  // weed's arguments are quoted one by one (escapeShellArgs), so `-flag=value` is single-quoted.
  rendered: [
    {
      process: "seaweedfs1",
      contains: [
        "'-master.port=27060' ",
        "'-volume.port=27061' ",
        "'-master.port.grpc=27064' '-volume.port.grpc=27065' ",
        "-filer '-filer.port=27062' '-filer.port.grpc=27066' ",
        "-s3 '-s3.port=27063' '-s3.port.grpc=27067'",
      ],
    },
    {
      process: "seaweedfs2",
      contains: ["'-master.port=27070' ", "'-master.volumeSizeLimitMB=64' ", "'-volume.port=27071' ", "'-volume.max=4' ", "'-volume.port.grpc=27073'"],
    },
  ],
});
