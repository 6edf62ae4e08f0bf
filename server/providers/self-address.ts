/**
 * Whether a provider's base URL is this server's own listening address: such a provider would
 * send every request back here. Checked when a provider is added, edited or tested; a name that
 * resolves elsewhere now and here later (or a forwarder in between) is caught by hops.ts instead.
 */
import dns from "node:dns/promises";
import net from "node:net";
import os from "node:os";

/** Where this server listens, as `server.address()` says. */
export interface ListeningAddress {
  address: string;
  port: number;
}

function plain(address: string): string {
  const a = address.toLowerCase().replace(/^\[|\]$/g, "");
  return a.startsWith("::ffff:") && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

const isLoopback = (a: string) => a === "::1" || /^127\./.test(a);
const isUnspecified = (a: string) => a === "0.0.0.0" || a === "::";

/** This machine's own addresses (every interface), for a server listening on all of them. */
function localAddresses(): Set<string> {
  return new Set(
    Object.values(os.networkInterfaces())
      .flat()
      .flatMap((i) => (i ? [plain(i.address)] : [])),
  );
}

/** True when `baseUrl` reaches the server listening at `self`; a name that does not resolve is not this server. */
export async function pointsAtSelf(baseUrl: string, self: ListeningAddress | null): Promise<boolean> {
  if (self === null) return false;
  const url = new URL(baseUrl);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  if (port !== self.port) return false;
  const host = plain(url.hostname);
  const targets = net.isIP(host)
    ? [host]
    : await dns
        .lookup(host, { all: true })
        .then((found) => found.map((a) => plain(a.address)))
        .catch(() => []);
  const listening = plain(self.address);
  if (isUnspecified(listening)) {
    const mine = localAddresses();
    return targets.some((t) => isLoopback(t) || isUnspecified(t) || mine.has(t));
  }
  return targets.some((t) => t === listening || (isUnspecified(t) && isLoopback(listening)));
}
