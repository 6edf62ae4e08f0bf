/**
 * Serving on the local network (issue 20, part 3): the addresses other machines reach this one by,
 * and the names the Host guard accepts for them. The switch itself is the `host` setting ("0.0.0.0"
 * on, the loopback default off), a guarding setting that only the desktop app's Settings (after a
 * native dialog) or the command line change, and that applies at the next start: rebinding a
 * listening server in place would drop every open connection and the desktop app's idea of its
 * address, and a restart is what every other guarding setting already asks for.
 */
import os from "node:os";
import { isLoopbackHost } from "../config.js";

/** This machine's IPv4 addresses on its networks (not loopback), in the order the OS lists them. */
export function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal && !out.includes(a.address)) out.push(a.address);
  return out;
}

/**
 * The names other machines may use for this one besides its addresses: its host name and the
 * `.local` name mDNS (Bonjour, Avahi) answers for it. A page served from one of these is on the
 * person's own network, not a rebinding attacker's name.
 */
export function localNames(): string[] {
  const name = os.hostname().toLowerCase();
  if (!name || isLoopbackHost(name)) return [];
  const short = name.endsWith(".local") ? name.slice(0, -".local".length) : name;
  return [...new Set([short, `${short}.local`])];
}

/** True when `host` makes the server reachable from other machines. */
export const servesNetwork = (host: string): boolean => !isLoopbackHost(host);

/** The base URLs other machines reach a server bound to `host`:`port` at: its addresses, then its `.local` name. */
export function lanUrls(host: string, port: number): string[] {
  if (!servesNetwork(host)) return [];
  const wildcard = host === "0.0.0.0" || host === "::" || host === "[::]";
  const addresses = wildcard ? lanAddresses() : [host];
  const names = wildcard ? localNames().filter((n) => n.endsWith(".local")) : [];
  return [...addresses, ...names].map((a) => `http://${a.includes(":") ? `[${a}]` : a}:${port}`);
}
