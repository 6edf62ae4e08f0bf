/**
 * The tools of a /v1/responses request for a model that knows only functions (issue 18: what
 * Codex CLI sends). Each wire tool becomes neutral functions, and each neutral call becomes the
 * wire item the client expects:
 * - `function`: itself;
 * - `namespace` (client functions grouped under a name): each of its functions, named
 *   `<namespace>.<name>` for the model (the form Codex itself writes a qualified name in; a tool
 *   name cannot hold a dot, so it never collides); a call comes back as OpenAI sends it, a
 *   `function_call` with `name` and `namespace` apart;
 * - `custom` (freeform): a function with one string parameter, `input`, whose description carries
 *   the tool's grammar (told to the model, not enforced); a call comes back as a
 *   `custom_tool_call` with that text as its `input`;
 * - `mcp`: the tools of an MCP server configured in Hearth, which Hearth runs itself
 *   (responses-mcp.ts), each a function `<server_label>__<tool>`;
 * - tools OpenAI runs itself, or that only its own models call (`web_search`, `file_search`,
 *   `local_shell`, `image_generation`...): not offered to the model, and said so in the
 *   response's `warnings`; a `tool_choice` that forces one is a 400.
 * Any other type is a 400 naming it.
 */
import type { ToolChoice, ToolDefinition } from "../core/types.js";
import { BadRequestError } from "../errors.js";
import { parseAt } from "./parse-item.js";
import { McpTools, mcpFunctionName } from "./responses-mcp.js";
import {
  CustomToolSchema,
  FunctionToolSchema,
  NamespaceToolSchema,
  type OutputCustomToolCall,
  type OutputFunctionCall,
  type ResponseCreateRequestBody,
  type ResponseWarning,
} from "./responses-schemas.js";

/** Tool types of the Responses API that OpenAI runs, or whose calls only its models make. */
export const HOSTED_TOOL_TYPES: ReadonlySet<string> = new Set([
  "web_search",
  "web_search_2025_08_26",
  "web_search_preview",
  "web_search_preview_2025_03_11",
  "file_search",
  "code_interpreter",
  "image_generation",
  "computer",
  "computer_use",
  "computer_use_preview",
  "local_shell",
  "shell",
  "apply_patch",
  "tool_search",
  "programmatic_tool_calling",
]);

/** What a neutral tool name is on the wire. */
export interface WireTool {
  kind: "function" | "custom";
  name: string;
  namespace?: string;
}

/** The model's name for a function `name` of `namespace` (or of none). */
export function neutralToolName(name: string, namespace?: string | null): string {
  return namespace ? `${namespace}.${name}` : name;
}

/** A freeform tool's input as the arguments of the function the model sees. */
export function customArguments(input: string): string {
  return JSON.stringify({ input });
}

/** The input of a freeform tool call from the function's arguments (the raw text, if they are not its JSON). */
export function customInputOf(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed && typeof parsed === "object" && typeof (parsed as { input?: unknown }).input === "string")
      return (parsed as { input: string }).input;
  } catch {
    // Not JSON (a call cut short): the text as it is.
  }
  return args;
}

/** The function a freeform tool is for the model. */
function customDefinition(tool: ReturnType<typeof CustomToolSchema.parse>, name: string): ToolDefinition {
  const format = tool.format;
  const grammar =
    format?.type === "grammar" ? `\n\nThe input must follow this ${format.syntax} grammar:\n${format.definition}` : "";
  return {
    name,
    description: `${tool.description ?? ""}${grammar}`.trim() || `The ${tool.name} tool.`,
    parameters: {
      type: "object",
      properties: { input: { type: "string", description: "The tool's input, as free text." } },
      required: ["input"],
    },
  };
}

/**
 * The names of a request's tools: neutral name -> wire tool. Built from the tools as the request
 * sent them (or as a kept response echoes them), so a stored response reads its calls back the
 * same way; a name it does not know is a function, split at its dot into namespace and name.
 */
export class ToolNames {
  private readonly byNeutral = new Map<string, WireTool>();

  constructor(tools: readonly Record<string, unknown>[] = []) {
    const add = (tool: Record<string, unknown>, namespace?: string) => {
      if (typeof tool.name !== "string") return;
      if (tool.type === "function" || tool.type === "custom") {
        this.byNeutral.set(neutralToolName(tool.name, namespace), {
          kind: tool.type,
          name: tool.name,
          ...(namespace ? { namespace } : {}),
        });
      } else if (tool.type === "namespace" && !namespace && Array.isArray(tool.tools)) {
        for (const inner of tool.tools as unknown[])
          if (inner && typeof inner === "object") add(inner as Record<string, unknown>, tool.name);
      }
    };
    for (const tool of tools) add(tool);
  }

  wire(neutral: string): WireTool {
    const known = this.byNeutral.get(neutral);
    if (known) return known;
    const dot = neutral.indexOf(".");
    return dot > 0
      ? { kind: "function", namespace: neutral.slice(0, dot), name: neutral.slice(dot + 1) }
      : { kind: "function", name: neutral };
  }

  /** The output item of a finished call. */
  callItem(
    call: { id: string; name: string; arguments: string },
    status: OutputFunctionCall["status"],
  ): OutputFunctionCall | OutputCustomToolCall {
    const wire = this.wire(call.name);
    const namespace = wire.namespace ? { namespace: wire.namespace } : {};
    return wire.kind === "custom"
      ? {
          type: "custom_tool_call",
          id: customCallItemId(call.id),
          call_id: call.id,
          name: wire.name,
          ...namespace,
          input: customInputOf(call.arguments),
          status,
        }
      : {
          type: "function_call",
          id: functionCallItemId(call.id),
          call_id: call.id,
          name: wire.name,
          ...namespace,
          arguments: call.arguments,
          status,
        };
  }
}

/** Call item ids derive from the call id, so a stored response reads back with the same ones. */
export function functionCallItemId(callId: string): string {
  return `fc_${callId.replace(/^call_/, "")}`;
}

export function customCallItemId(callId: string): string {
  return `ctc_${callId.replace(/^call_/, "")}`;
}

/** A request's tools for the model, where each came from (for errors), and what was left out. */
export interface RequestTools {
  definitions: ToolDefinition[];
  /** The wire path of each definition (`tools.2.tools.0`), for `param`. */
  paths: string[];
  warnings: ResponseWarning[];
}

/** `mcp`: the request's MCP tools, resolved (resolveMcpTools); without them an `mcp` tool is left out like a hosted one. */
export function requestToolsOf(body: ResponseCreateRequestBody, mcp: McpTools = McpTools.none): RequestTools {
  const out: RequestTools = { definitions: [], paths: [], warnings: [] };
  const offer = (definition: ToolDefinition, path: string) => {
    out.definitions.push(definition);
    out.paths.push(path);
  };
  const callable = (raw: { type: string }, at: string, namespace?: { name: string; description?: string | null }) => {
    if (raw.type === "function") {
      const t = parseAt(FunctionToolSchema, raw, at);
      const description = [t.description, namespace?.description].filter(Boolean).join("\n\n");
      offer(
        {
          name: neutralToolName(t.name, namespace?.name),
          ...(description ? { description } : {}),
          ...(t.parameters ? { parameters: t.parameters } : {}),
        },
        at,
      );
      return true;
    }
    if (raw.type === "custom") {
      const t = parseAt(CustomToolSchema, raw, at);
      offer(customDefinition(t, neutralToolName(t.name, namespace?.name)), at);
      return true;
    }
    return false;
  };
  (body.tools ?? []).forEach((raw, i) => {
    const at = `tools.${i}`;
    if (callable(raw, at)) return;
    if (raw.type === "namespace") {
      const ns = parseAt(NamespaceToolSchema, raw, at);
      ns.tools.forEach((inner, j) => {
        if (!callable(inner, `${at}.tools.${j}`, ns))
          throw new BadRequestError(
            `A namespace holds function and custom tools; '${inner.type}' is not one of them.`,
            { param: `${at}.tools.${j}.type`, code: "unsupported_value" },
          );
      });
      return;
    }
    const offered = raw.type === "mcp" ? mcp.offered.get(i) : undefined;
    if (offered) {
      for (const definition of offered) offer(definition, at);
      return;
    }
    if (HOSTED_TOOL_TYPES.has(raw.type) || raw.type === "mcp") {
      out.warnings.push({
        code: "tool_not_available",
        param: at,
        message: `'${raw.type}' is a tool OpenAI hosts; Hearth has none, so the model was not offered it.`,
      });
      return;
    }
    throw new BadRequestError(
      `Tools of type '${raw.type}' are not supported; send function, custom or namespace tools.`,
      { param: `${at}.type`, code: "unsupported_value" },
    );
  });
  return out;
}

/** The neutral tool choice; forcing a hosted tool, or one that is not callable here, is a 400. */
export function toolChoiceOf(
  body: ResponseCreateRequestBody,
  tools: RequestTools,
  mcp: McpTools = McpTools.none,
): ToolChoice {
  const tc = body.tool_choice;
  if (tc === null || tc === undefined) return "auto";
  let choice: ToolChoice;
  if (typeof tc === "string") choice = tc;
  else if (tc.type === "function" || tc.type === "custom") {
    if (!tc.name)
      throw new BadRequestError("Missing required parameter: 'tool_choice.name'.", {
        param: "tool_choice.name",
        code: "missing_required_parameter",
      });
    choice = { name: neutralToolName(tc.name, tc.namespace) };
  } else if (tc.type === "mcp") {
    if (!tc.server_label)
      throw new BadRequestError("Missing required parameter: 'tool_choice.server_label'.", {
        param: "tool_choice.server_label",
        code: "missing_required_parameter",
      });
    // Without a name: one of that server's tools.
    choice = tc.name ? { name: mcpFunctionName(tc.server_label, tc.name) } : "required";
    const name = typeof choice === "string" ? null : choice.name;
    const known = [...mcp.byName.values()].some(
      (u) => u.label === tc.server_label && (name === null || u.neutral === name),
    );
    if (!known)
      throw new BadRequestError(
        `tool_choice names ${tc.name ? `the tool '${tc.name}' of ` : ""}the MCP server '${tc.server_label}', which this request's tools do not offer.`,
        { param: "tool_choice", code: "unsupported_value" },
      );
  } else if (HOSTED_TOOL_TYPES.has(tc.type)) {
    throw new BadRequestError(
      `tool_choice forces '${tc.type}', a tool OpenAI hosts; Hearth has none. Force a function or custom tool, or use 'auto'.`,
      { param: "tool_choice", code: "unsupported_value" },
    );
  } else {
    throw new BadRequestError(
      `tool_choice of type '${tc.type}' is not supported; send none, auto, required or a function or custom tool.`,
      { param: "tool_choice.type", code: "unsupported_value" },
    );
  }
  if (choice !== "auto" && choice !== "none" && tools.definitions.length === 0) {
    throw new BadRequestError(
      tools.warnings.length > 0
        ? "tool_choice requires a tool the model can call; every tool in this request is hosted by OpenAI."
        : "tool_choice requires tools.",
      { param: "tool_choice" },
    );
  }
  return choice;
}
