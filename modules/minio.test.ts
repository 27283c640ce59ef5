/**
 * minio under process-compose: an object written to a bucket from `buckets` and
 * read back over the S3 API (requests signed with SigV4 by curl), the console,
 * and a second server whose region the signature must name.
 */
import { defineTest, sh } from "../dsl";
import minio from "./minio";

export default defineTest({
  name: "minio",
  services: { minio },
  instances: {
    minio: {
      minio1: { port: 27010, consoleAddress: "127.0.0.1:27011", accessKey: "tester", secretKey: "it's a $ecret", buckets: ["photos"] },
      minio2: { port: 27012, consoleAddress: "127.0.0.1:27013", browser: false, region: "eu-west-1" },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      s3() { curl -sSf --aws-sigv4 "aws:amz:$1:s3" --user "$2" "\${@:3}"; }
      m1=http://127.0.0.1:${cfg.minio.minio1.port}
      body='hello, bucket'
      s3 us-east-1 ${"tester:it's a $ecret"} -X PUT --data-binary "$body" \\
        -H "x-amz-content-sha256: $(printf %s "$body" | sha256sum | cut -d' ' -f1)" "$m1/photos/greeting.txt"
      s3 us-east-1 ${"tester:it's a $ecret"} "$m1/photos/greeting.txt" | grep -qx 'hello, bucket'
      s3 us-east-1 ${"tester:it's a $ecret"} "$m1/" | grep -q '<Name>photos</Name>'
      curl -sSf -o /dev/null http://127.0.0.1:27011/
      # minio2: requests signed for its region are served, and the console is off.
      s3 eu-west-1 minioadmin:minioadmin http://127.0.0.1:${cfg.minio.minio2.port}/ | grep -q '<ListAllMyBucketsResult'
      if curl -s -o /dev/null http://127.0.0.1:27013/; then
        echo "minio2 serves its console although browser = false" >&2
        exit 1
      fi
    `,
    dependsOn: [
      { process: "minio1", condition: "ready" },
      { process: "minio2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "minio1",
      contains: ["--address 127.0.0.1:27010", "--console-address 127.0.0.1:27011", "export MINIO_ROOT_USER=tester", "export MINIO_ROOT_PASSWORD='it'\\''s a $ecret'"],
    },
    { process: "minio1-init", contains: ['mkdir -p -- "$data"/photos'] },
    { process: "minio2", contains: ["export MINIO_REGION=eu-west-1", "export MINIO_BROWSER=off", "--address 127.0.0.1:27012"] },
  ],
});
