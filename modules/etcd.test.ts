/**
 * etcd under process-compose: a one-member cluster and a three-member one side
 * by side. A key written through one member is read through another, the
 * three-member cluster lists three started members with one leader, and keys
 * written on the first start are there on the second.
 */
import { defineTest, sh } from "../dsl";
import etcd from "./etcd";

export default defineTest({
  name: "etcd",
  services: { etcd },
  instances: {
    etcd: {
      single: { members: { m1: { clientPort: 22379, peerPort: 22380 } } },
      trio: {
        initialClusterToken: "trio",
        members: {
          a: { clientPort: 22381, peerPort: 22382 },
          b: { clientPort: 22383, peerPort: 22384 },
          c: { clientPort: 22385, peerPort: 22386 },
        },
      },
    },
  },
  rendered: [
    { process: "trio-a", contains: ["a=http://127.0.0.1:22382,b=http://127.0.0.1:22384,c=http://127.0.0.1:22386", "--initial-cluster-token trio"] },
  ],
  test: ({ cfg, pkgs }) => {
    return {
      runtimeInputs: [cfg.etcd.single.package, pkgs.gnugrep, pkgs.coreutils],
      text: sh`
        run=\${SERVICES_TS_RUN:-1}
        at() { local port=$1; shift; ETCDCTL_API=3 etcdctl --endpoints="http://127.0.0.1:$port" --command-timeout=5s "$@"; }
        # The client ports configured above.
        single=22379 a=22381 c=22385

        at "$single" put "run$run" "single $run"
        at "$single" get --print-value-only "run$run" | grep -x "single $run"

        # Written through one member, read (linearizably) through another.
        at "$a" put "run$run" "trio $run"
        at "$c" get --print-value-only "run$run" | grep -x "trio $run"
        test "$(at "$a" member list | grep -c ', started, ')" = 3
        test "$(at "$a" endpoint status --cluster -w simple | grep -c ', true, ')" = 1

        # The two clusters are apart: the single member never saw the trio's value.
        at "$single" get --print-value-only "run$run" | grep -x "single $run"

        if [[ $run == 2 ]]; then
          at "$single" get --print-value-only run1 | grep -x "single 1"
          at "$c" get --print-value-only run1 | grep -x "trio 1"
        fi
      `,
      dependsOn: [
        { process: "single-m1", condition: "ready" },
        { process: "trio-a", condition: "ready" },
        { process: "trio-b", condition: "ready" },
        { process: "trio-c", condition: "ready" },
      ],
    };
  },
});
