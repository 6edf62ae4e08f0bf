/** Ready-to-paste client code for the selected model. Keys are never inlined: they come from an environment variable. */

export type SnippetKind = "curl" | "node" | "python";

export const SNIPPET_LABELS: Record<SnippetKind, string> = {
  curl: "curl",
  node: "OpenAI Node",
  python: "OpenAI Python",
};

export function snippet(kind: SnippetKind, baseUrl: string, model: string, needsKey: boolean): string {
  const m = JSON.stringify(model);
  switch (kind) {
    case "curl":
      return [
        `curl ${baseUrl}/chat/completions \\`,
        `  -H "Content-Type: application/json" \\`,
        ...(needsKey ? [`  -H "Authorization: Bearer $HEARTH_API_KEY" \\`] : []),
        `  -d '${JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }], stream: true }).replace(/'/g, "'\\''")}'`,
      ].join("\n");
    case "node":
      return [
        `import OpenAI from "openai";`,
        ``,
        `const client = new OpenAI({`,
        `  baseURL: ${JSON.stringify(baseUrl)},`,
        `  apiKey: ${needsKey ? "process.env.HEARTH_API_KEY" : '"not-needed"'},`,
        `});`,
        ``,
        `const stream = await client.chat.completions.create({`,
        `  model: ${m},`,
        `  messages: [{ role: "user", content: "Hello!" }],`,
        `  stream: true,`,
        `});`,
        `for await (const chunk of stream) {`,
        `  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");`,
        `}`,
      ].join("\n");
    case "python":
      return [
        ...(needsKey ? [`import os`] : []),
        `from openai import OpenAI`,
        ``,
        `client = OpenAI(base_url=${JSON.stringify(baseUrl)}, api_key=${needsKey ? 'os.environ["HEARTH_API_KEY"]' : '"not-needed"'})`,
        ``,
        `stream = client.chat.completions.create(`,
        `    model=${m},`,
        `    messages=[{"role": "user", "content": "Hello!"}],`,
        `    stream=True,`,
        `)`,
        `for chunk in stream:`,
        `    print(chunk.choices[0].delta.content or "", end="", flush=True)`,
      ].join("\n");
  }
}
