/**
 * The floor for bench/proxy.ts: a bare HTTP proxy that pipes bytes to the upstream and back
 * (undici keep-alive like Hearth's proxy, no parsing, no translation). What it adds is the cost
 * of any extra process and loopback hop on this machine; what Hearth's proxy adds beyond it is
 * Hearth's own. Run as a child: `--upstream <url> --key <api key>`; prints its URL on stdout.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";

const { values } = parseArgs({ options: { upstream: { type: "string" }, key: { type: "string" } } });
const upstream = values.upstream!;
const dispatcher = new Agent();

const server = http.createServer(async (req, res) => {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  try {
    const up = await request(`${upstream}${req.url ?? "/"}`, {
      method: req.method as "POST",
      headers: {
        "content-type": req.headers["content-type"] ?? "application/json",
        authorization: `Bearer ${values.key}`,
      },
      body: req,
      signal: controller.signal,
      dispatcher,
    });
    res.writeHead(up.statusCode, up.headers as http.OutgoingHttpHeaders);
    await pipeline(up.body, res);
  } catch {
    res.destroy();
  }
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
