/**
 * A remote OpenAI-compatible server on 127.0.0.1 whose replies a test scripts, for the tool loop:
 * each chat completion answers with the next scripted turn (text, or tool calls), streamed as
 * OpenAI streams them, and every request body is kept so a test can read what the model was sent.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type UpstreamTurn = { text: string } | { calls: { name: string; arguments: string }[] };

export interface ScriptedUpstream {
  url: string;
  /** Bodies of the chat completion requests, in order. */
  requests: Record<string, unknown>[];
  /** The next replies, in order; once used up, `fallback` answers. */
  script: UpstreamTurn[];
  fallback: UpstreamTurn;
  close(): Promise<void>;
}

export async function scriptedUpstream(model = "m"): Promise<ScriptedUpstream> {
  let callCount = 0;
  const upstream: ScriptedUpstream = {
    url: "",
    requests: [],
    script: [],
    fallback: { text: "All done." },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/v1/models") {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({ object: "list", data: [{ id: model, object: "model", created: 0, owned_by: "test" }] }),
        );
        return;
      }
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.statusCode = 404;
        res.end("{}");
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      upstream.requests.push(body);
      const turn = upstream.script.shift() ?? upstream.fallback;
      const id = `chatcmpl-${upstream.requests.length}`;
      const chunk = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.setHeader("content-type", "text/event-stream");
      res.write(chunk({ role: "assistant", content: "" }));
      if ("text" in turn) {
        res.write(chunk({ content: turn.text }));
        res.write(chunk({}, "stop"));
      } else {
        turn.calls.forEach((c, index) => {
          callCount++;
          res.write(
            chunk({
              tool_calls: [
                {
                  index,
                  id: `call_${callCount}`,
                  type: "function",
                  function: { name: c.name, arguments: c.arguments },
                },
              ],
            }),
          );
        });
        res.write(chunk({}, "tool_calls"));
      }
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model, choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}
