/**
 * Azurite, the local emulator of Azure Storage (Blob, Queue and Table services),
 * one per instance, its storage in `dataDir`. Options, defaults and the process
 * name follow services-flake's `azurite` service.
 * Command-line options: https://github.com/Azure/Azurite#command-line-options
 */
import { connectHost, defineService, exe, process, runtimePath, script, sh, t } from "../dsl";

export default defineService({
  name: "azurite",
  description: "[Azurite](https://github.com/Azure/Azurite), the Azure Storage emulator (Blob, Queue and Table), one per instance.",
  homepage: "https://github.com/Azure/Azurite#command-line-options",
  example: `services.azurite."storage" = {
  enable = true;
  blobPort = 20000;
  queuePort = 20001;
  tablePort = 20002;
};`,
  options: {
    package: t.package("azurite"),
    listenAddress: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address all three services listen on." }),
    blobPort: t.port({ default: 10000, description: "The Blob service's port." }),
    queuePort: t.port({ default: 10001, description: "The Queue service's port." }),
    tablePort: t.port({ default: 10002, description: "The Table service's port." }),
  },
  ports: ({ cfg }) => [
    { port: cfg.blobPort, option: "blobPort" },
    { port: cfg.queuePort, option: "queuePort" },
    { port: cfg.tablePort, option: "tablePort" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    const host = connectHost(cfg.listenAddress);
    const curl = exe(pkgs.curl, "curl");
    // An HTTP status from the service (403 without credentials) means it serves requests; 000 means no answer.
    const answers = (port: typeof cfg.blobPort) => sh`[ "$(${curl} -s -o /dev/null -w '%{http_code}' http://${host}:${port}/)" != 000 ]`;
    return [
      process(name, {
        command: script({
          name: "start-azurite",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          text: sh`
            data=${runtimePath(cfg.dataDir)}/azurite
            mkdir -p -- "$data"
            exec azurite --blobHost ${cfg.listenAddress} --blobPort ${cfg.blobPort} --queueHost ${cfg.listenAddress} --queuePort ${cfg.queuePort} --tableHost ${cfg.listenAddress} --tablePort ${cfg.tablePort} --location "$data" --skipApiVersionCheck --disableTelemetry
          `,
        }),
        // Ready when all three services answer HTTP (services-flake only checks that the Blob port accepts a connection).
        readiness: { exec: sh`${answers(cfg.blobPort)} && ${answers(cfg.queuePort)} && ${answers(cfg.tablePort)}` },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
