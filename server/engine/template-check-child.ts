/**
 * The chat-template checker's disposable process (template-guard.ts): parses a template once with
 * the exact @huggingface/jinja node-llama-cpp renders with, renders each sample conversation and
 * writes one JSON line on stdout: the sizes of the renders (-1 for a render that raised, the
 * template's own error) and the end of the first. Running out of time or heap ends only this
 * process; the parent reads that from its end.
 *
 * Started as a disposable child (util/disposable-child.ts), with the template and the samples as
 * its input message. It says `{"started":true}` first, so the parent's time limit covers the
 * renders, not the start of a process.
 */
import { createRequire } from "node:module";
import { childInput } from "../util/child-input.js";

export interface TemplateCheckInput {
  template: string;
  samples: Record<string, unknown>[];
}

/** What the checker writes, after its `{"started":true}` line. */
export type TemplateCheckAnswer = { parsed: false; error: string } | { parsed: true; sizes: number[]; end: string };

interface JinjaTemplate {
  render(context: Record<string, unknown>): string;
}

function check(input: TemplateCheckInput): TemplateCheckAnswer {
  // Found from node-llama-cpp itself, so it is the copy node-llama-cpp renders with.
  const { Template } = createRequire(import.meta.resolve("node-llama-cpp"))("@huggingface/jinja") as {
    Template: new (source: string) => JinjaTemplate;
  };
  let template: JinjaTemplate;
  try {
    template = new Template(input.template);
  } catch (err) {
    return { parsed: false, error: String((err as Error)?.message ?? err).slice(0, 300) };
  }
  const sizes: number[] = [];
  let end = "";
  for (const context of input.samples) {
    try {
      const text = template.render(context);
      if (sizes.length === 0) end = text.slice(-64);
      sizes.push(text.length);
    } catch {
      sizes.push(-1);
    }
  }
  return { parsed: true, sizes, end };
}

void childInput<TemplateCheckInput>().then((input) => {
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  process.stdout.write(`${JSON.stringify(check(input))}\n`, () => process.exit(0));
});
