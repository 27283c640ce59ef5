/**
 * azurite (npm's azurite): a container and a blob written through the Blob REST
 * API with a SharedKey-signed request (Azurite's well-known development account),
 * read back after the restart; the second instance's three services answer.
 */
import { defineTest, sh } from "../dsl";
import azurite from "./azurite";

export default defineTest({
  name: "azurite",
  services: { azurite },
  instances: {
    azurite: {
      az1: { blobPort: 29610, queuePort: 29611, tablePort: 29612 },
      az2: { blobPort: 29620, queuePort: 29621, tablePort: 29622 },
    },
  },
  rendered: [
    { process: "az1", contains: ["--blobPort 29610 --queueHost 127.0.0.1 --queuePort 29611", "--tablePort 29612", "--skipApiVersionCheck --disableTelemetry"] },
    { process: "az2", contains: ["--blobHost 127.0.0.1 --blobPort 29620"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.get("openssl"), pkgs.coreutils, pkgs.gnugrep],
    text: sh`
      account=devstoreaccount1
      # Azurite's documented development key.
      key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
      hexkey=$(printf '%s' "$key" | base64 -d | od -An -tx1 | tr -d ' \\n')
      # blob METHOD PATH CANONICAL-QUERY QUERY [BODY]: a Blob REST request signed with SharedKey.
      blob() {
        local method=$1 path=$2 canon=$3 query=$4 body=\${5-} len="" ctype="" blobtype="" sts date sig
        date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
        if [ -n "$body" ]; then len=\${#body}; ctype=text/plain; blobtype=$'x-ms-blob-type:BlockBlob\\n'; fi
        printf -v sts '%s\\n' "$method" "" "" "$len" "" "$ctype" "" "" "" "" "" ""
        sts+="\${blobtype}x-ms-date:$date"$'\\n'"x-ms-version:2021-08-06"$'\\n'"/$account/$account$path$canon"
        sig=$(printf '%s' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
        local headers=(-H "x-ms-date: $date" -H "x-ms-version: 2021-08-06" -H "Authorization: SharedKey $account:$sig")
        if [ -n "$body" ]; then headers+=(-H "x-ms-blob-type: BlockBlob" -H "Content-Type: text/plain" --data-binary "$body"); fi
        curl -sSf -X "$method" "\${headers[@]}" "http://127.0.0.1:${cfg.azurite.az1.blobPort}/$account$path$query"
      }
      if [ "$SERVICES_TS_RUN" = 1 ]; then
        blob PUT /box $'\\nrestype:container' '?restype=container'
        blob PUT /box/hello.txt '' '' 'hello from azurite'
      fi
      # Written on the first start, read on every start: the storage is in dataDir.
      test "$(blob GET /box/hello.txt '' '')" = 'hello from azurite'
      # Without credentials the second instance's services refuse the request (a 4xx status), which shows they serve.
      for port in ${cfg.azurite.az2.blobPort} ${cfg.azurite.az2.queuePort} ${cfg.azurite.az2.tablePort}; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/devstoreaccount1?comp=list")
        case $code in 4??) ;; *) echo "port $port answered $code" >&2; exit 1 ;; esac
      done
    `,
    dependsOn: [
      { process: "az1", condition: "ready" },
      { process: "az2", condition: "ready" },
    ],
  }),
});
