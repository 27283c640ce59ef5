import { defineTest, file, s, sh, toJSON } from "../dsl";
import grafana from "./grafana";

const dashboardUid = "adnyzrfa5cqv4c";
const dashboard = file(
  "test_dashboard.json",
  toJSON({ title: "Test dashboard", uid: dashboardUid, panels: [], schemaVersion: 39, editable: true, time: { from: "now-6h", to: "now" } }),
);

export default defineTest({
  name: "grafana",
  services: { grafana },
  instances: {
    grafana: {
      // services-flake's test: an admin of one's own, a provisioned dashboard; and a provisioned data source.
      gf1: {
        http_port: 25300,
        extraConf: { security: { admin_user: "patato", admin_password: "po#tato" } },
        providers: [{ name: "Test dashboard provider", type: "file", options: { path: s`${dashboard}` } }],
        datasources: [{ name: "Test Loki", type: "loki", access: "proxy", url: "http://127.0.0.1:25310", uid: "test-loki" }],
      },
      // Another domain, reflected in the URL Grafana builds for itself.
      gf2: { http_port: 25301, domain: "grafana.test" },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      root=http://127.0.0.1:${cfg.grafana.gf1.http_port}
      # The admin (whose password holds a '#') can authenticate; the default one cannot.
      curl -sSf -u 'patato:po#tato' "$root/api/org/users" | grep -q 'admin@localhost'
      test "$(curl -s -o /dev/null -w '%{http_code}' -u admin:admin "$root/api/org/users")" = 401
      # The dashboard provider made the dashboard, the data source is there.
      curl -sSf -u 'patato:po#tato' "$root/api/dashboards/uid/${dashboardUid}" | grep -q '"title":"Test dashboard"'
      curl -sSf -u 'patato:po#tato' "$root/api/datasources/uid/test-loki" | grep -q '"name":"Test Loki"'
      # The second instance builds its URLs from its domain.
      curl -sSf -u admin:admin http://127.0.0.1:${cfg.grafana.gf2.http_port}/api/frontend/settings | grep -q '"appUrl":"http://grafana.test:${cfg.grafana.gf2.http_port}/"'
    `,
    dependsOn: [
      { process: "gf1", condition: "ready" },
      { process: "gf2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "gf1", contains: ["http_port = 25300", 'admin_password = """po#tato"""', '"name":"Test dashboard provider"', '"uid":"test-loki"'] },
    { process: "gf2", contains: ["http_port = 25301", 'domain = """grafana.test"""', 'http_addr = """127.0.0.1"""'] },
  ],
});
