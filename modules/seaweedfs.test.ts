/**
 * seaweedfs under process-compose: a file written and read back through the
 * filer, the S3 gateway answering without authentication (services-flake's test
 * configuration), and a blob stored on a second server's volume server by a file
 * id its master assigned.
 */
import { defineTest, sh } from "../dsl";
import seaweedfs from "./seaweedfs";

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
        // No usage reports to SeaweedFS's telemetry server (weed 4.53 sends them by default): the test sends nothing off the machine.
        extraArgs: ["-s3.port.grpc=27067", "-master.telemetry=false"],
      },
      seaweedfs2: {
        master: { port: 27070, grpcPort: 27072, volumeSizeLimitMB: 64 },
        volume: { port: 27071, grpcPort: 27073, max: "4" },
        extraArgs: ["-master.telemetry=false"],
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.jq, pkgs.coreutils],
    text: sh`
      filer=http://127.0.0.1:${cfg.seaweedfs.seaweedfs1.filer.port}
      printf 'hello, filer' | curl -sSf -F 'file=@-;filename=hello.txt' "$filer/docs/" >/dev/null
      test "$(curl -sSf "$filer/docs/hello.txt")" = 'hello, filer'
      curl -sSf http://127.0.0.1:${cfg.seaweedfs.seaweedfs1.s3.port}/ | grep -q ListAllMyBucketsResult

      # seaweedfs2: the master assigns a file id on its volume server, which stores the blob under it.
      # The first assignment grows a volume, which may take a moment after the servers are up.
      fid=
      for _ in $(seq 1 40); do
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
