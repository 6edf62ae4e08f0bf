/**
 * A local stand-in for Hugging Face on 127.0.0.1 (node:http): the model listing API
 * (`/api/models/<repo>?blobs=true` with LFS sizes and sha256), `/<repo>/resolve/<rev>/<file>`
 * answering with a redirect that carries X-Linked-Size and X-Linked-ETag like the real one, and
 * a "CDN" that serves the bytes with Range support. Tests can make it lie about a file's size
 * or checksum, cut the connection mid-file, or hold the transfer until released. Gated files need
 * `Authorization: Bearer <token>` on the listing and the resolve URL, and their CDN is another
 * origin (a second port), as huggingface.co's is, so a token sent there is visible in `requests`.
 */
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface StandInFile {
  /** "owner/repo". */
  repo: string;
  /** Path in the repository, e.g. "model-Q8_0.gguf" or "sub/model.gguf". */
  path: string;
  data: Buffer;
  /** Announce this sha256 instead of the real one (checksum mismatch). */
  claimSha256?: string;
  /** Announce this size instead of the real one (size mismatch). */
  claimSize?: number;
  /** The repository is gated: this token is required on the listing and the resolve URL. */
  gatedToken?: string;
}

export interface Behaviour {
  /** Destroy the socket after this many body bytes of the next `times` responses. */
  cutAfter?: { bytes: number; times: number };
  /** Send the file up to this byte offset, then wait until `release()` (or the client leaves). */
  holdAfter?: number;
  /** Answer every request with this status (e.g. 404, 403, 500). */
  status?: number;
  /** Answer the next `times` requests with this status, then serve normally. */
  statusTimes?: { status: number; times: number };
  /** Never answer: accept the request and send nothing (a host that hangs). */
  silent?: boolean;
  /** Serve this instead of the file (an HTML error page, say). */
  body?: Buffer;
  /** Ignore Range headers (a server without resume support). */
  noRange?: boolean;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range: string | null;
  ifRange: string | null;
  /** The port the request came to (the CDN has its own). */
  port: number;
  authorization: string | null;
}

export class HfStandIn {
  readonly files = new Map<string, StandInFile>();
  readonly behaviours = new Map<string, Behaviour>();
  readonly requests: LoggedRequest[] = [];
  private server: http.Server | null = null;
  private cdn: http.Server | null = null;
  /** The gated files' CDN: same host, another port, so another origin. */
  cdnUrl = "";
  private held: (() => void)[] = [];
  url = "";

  static sha256(data: Buffer): string {
    return crypto.createHash("sha256").update(data).digest("hex");
  }

  add(file: StandInFile): this {
    this.files.set(`${file.repo}/${file.path}`, file);
    return this;
  }

  /** Sets how `repo/path` (or `plain/<name>`) is served from now on. */
  behave(key: string, behaviour: Behaviour): this {
    this.behaviours.set(key, behaviour);
    return this;
  }

  /** Lets held transfers continue. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.cdn = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.cdn!.listen(0, "127.0.0.1", resolve));
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.release();
    for (const s of [this.server, this.cdn]) {
      s?.closeAllConnections();
      await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push({
      method: req.method ?? "",
      url: url.pathname,
      range: req.headers.range ?? null,
      ifRange: (req.headers["if-range"] as string | undefined) ?? null,
      port: req.socket.localPort ?? 0,
      authorization: req.headers.authorization ?? null,
    });
    const refused = (file: StandInFile | undefined) =>
      file?.gatedToken !== undefined && req.headers.authorization !== `Bearer ${file.gatedToken}`;
    const api = /^\/api\/models\/([^/]+\/[^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = decodeURIComponent(api[1]!);
      const siblings = [...this.files.values()].filter((f) => f.repo === repo);
      if (refused(siblings[0]))
        return void res
          .writeHead(401, { "content-type": "application/json" })
          .end('{"error":"Access to this model is restricted."}');
      if (siblings.length === 0)
        return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Repository not found"}');
      const body = {
        id: repo,
        siblings: siblings.map((f) => ({
          rfilename: f.path,
          size: f.claimSize ?? f.data.length,
          lfs: {
            sha256: f.claimSha256 ?? HfStandIn.sha256(f.data),
            size: f.claimSize ?? f.data.length,
            pointerSize: 134,
          },
        })),
      };
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const key = `${decodeURIComponent(resolve[1]!)}/${resolve[3]!.split("/").map(decodeURIComponent).join("/")}`;
      const file = this.files.get(key);
      const behaviour = this.behaviours.get(key);
      if (behaviour?.silent) return;
      if (behaviour?.status) return void res.writeHead(behaviour.status).end(`status ${behaviour.status}`);
      if (behaviour?.statusTimes && behaviour.statusTimes.times > 0) {
        behaviour.statusTimes.times--;
        return void res.writeHead(behaviour.statusTimes.status).end(`status ${behaviour.statusTimes.status}`);
      }
      if (!file) return void res.writeHead(404).end("Entry not found");
      if (refused(file)) return void res.writeHead(401).end("Access to this model is restricted.");
      // Like huggingface.co: the size and sha256 ride on the redirect to the CDN.
      return void res
        .writeHead(302, {
          location: `${file.gatedToken !== undefined ? this.cdnUrl : ""}/cdn/${encodeURIComponent(key)}`,
          "x-linked-size": String(file.claimSize ?? file.data.length),
          "x-linked-etag": `"${file.claimSha256 ?? HfStandIn.sha256(file.data)}"`,
        })
        .end();
    }
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    if (cdn) {
      const key = decodeURIComponent(cdn[1]!);
      const file = this.files.get(key);
      if (!file) return void res.writeHead(404).end("not found");
      return this.serve(req, res, file.data, this.behaviours.get(key), HfStandIn.sha256(file.data));
    }
    const plain = /^\/plain\/(.+)$/.exec(url.pathname);
    if (plain) {
      const key = `plain/${decodeURIComponent(plain[1]!)}`;
      const file = this.files.get(key);
      const behaviour = this.behaviours.get(key);
      if (behaviour?.status) return void res.writeHead(behaviour.status).end(`status ${behaviour.status}`);
      if (!file) return void res.writeHead(404).end("not found");
      return this.serve(req, res, file.data, behaviour, HfStandIn.sha256(file.data));
    }
    res.writeHead(404).end("unknown path");
  }

  private serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    full: Buffer,
    behaviour: Behaviour | undefined,
    etag: string,
  ): void {
    const data = behaviour?.body ?? full;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    let start = 0;
    if (m && !behaviour?.noRange) {
      start = Number(m[1]);
      if (start >= data.length) return void res.writeHead(416, { "content-range": `bytes */${data.length}` }).end();
      res.writeHead(206, {
        "content-length": String(data.length - start),
        "content-range": `bytes ${start}-${data.length - 1}/${data.length}`,
        etag: `"${etag}"`,
        "accept-ranges": "bytes",
      });
    } else {
      res.writeHead(200, { "content-length": String(data.length), etag: `"${etag}"`, "accept-ranges": "bytes" });
    }
    const body = data.subarray(start);
    const cut = behaviour?.cutAfter && behaviour.cutAfter.times > 0 ? behaviour.cutAfter : null;
    if (cut) {
      cut.times--;
      res.write(body.subarray(0, cut.bytes), () => {
        // Give the bytes a moment to leave, then drop the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    if (behaviour?.holdAfter !== undefined && behaviour.holdAfter < data.length) {
      // The hold is at a position in the file: a resume past it gets nothing until released.
      const upTo = Math.max(0, behaviour.holdAfter - start);
      res.write(body.subarray(0, upTo));
      const go = () => res.end(body.subarray(upTo));
      this.held.push(go);
      res.once("close", () => {
        this.held = this.held.filter((g) => g !== go);
      });
      return;
    }
    res.end(body);
  }
}
