/**
 * The floor for bench/proxy.ts: a bare Node HTTP proxy that pipes bytes to the upstream and back
 * (keep-alive, no parsing, no translation). What it adds is the cost of any extra process and
 * loopback hop on this machine; what Hearth's proxy adds beyond it is Hearth's own.
 * Run as a child: `--upstream <url> --key <api key>`; prints its URL on stdout.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { upstream: { type: "string" }, key: { type: "string" } } });
const upstream = new URL(values.upstream!);
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const out = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      agent,
      headers: { ...req.headers, host: upstream.host, authorization: `Bearer ${values.key}` },
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on("error", () => res.destroy());
  res.on("close", () => {
    if (!res.writableFinished) out.destroy();
  });
  req.pipe(out);
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
