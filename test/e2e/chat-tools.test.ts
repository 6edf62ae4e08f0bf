/**
 * MCP tools in the chat, end to end: the real UI in Chromium against a real Hearth with the
 * scripted model that calls the everything server's `echo` natively (qwen3-mcp-echo) and the real
 * everything server from npm in `<data-dir>/mcp.json`. The tools menu lists the server's tools and
 * turns one on for the chat; the model's call waits in an approval card; "Allow once" runs it and
 * the result shows under the call; Settings lists the server, running, with its tools.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import type { ConversationDetail } from "../../server/history/types.js";
import { everythingStdio } from "../helpers/mcp-servers.js";
import { scriptedModel, scriptedModelsDir } from "../helpers/scripted-models.js";
import { apiJson, type AppSession, type RunningHearth, startSession } from "./harness.js";

const LONG = 60_000;

describe("MCP tools in the browser", { timeout: 300_000 }, () => {
  let hearth: RunningHearth;
  let app: AppSession;
  let page: Page;
  let model = "";
  let cleanup = () => {};

  before(async () => {
    const models = scriptedModelsDir(["qwen3-mcp-echo"]);
    cleanup = models.cleanup;
    model = path.basename(scriptedModel("qwen3-mcp-echo"), ".gguf");
    app = await startSession(
      { modelDirs: [models.dir], parallel: 1, toolMaxSteps: 2 },
      {
        withModel: false,
        prepare: (started) =>
          fs.writeFileSync(
            path.join(started.dataDir, "mcp.json"),
            JSON.stringify({ mcpServers: { everything: everythingStdio() } }),
          ),
      },
    );
    ({ hearth, page } = app);
  });

  after(async () => {
    await app?.close();
    cleanup();
  });

  test("the tools menu turns a tool on; the call waits for approval, runs once allowed, and shows its result", async () => {
    await page.getByRole("heading", { name: "What can I help with?" }).waitFor();
    await page.getByLabel("Model", { exact: true }).selectOption(model);

    await page.getByRole("button", { name: "Tools" }).click();
    const menu = page.getByRole("dialog", { name: "Tools for this chat" });
    const echo = menu.getByLabel("everything echo");
    await echo.waitFor({ timeout: LONG });
    await echo.check();
    await page.getByRole("button", { name: "Tools" }).click();

    await page.getByLabel("Message", { exact: true }).fill("Say Paris back");
    await page.keyboard.press("Enter");
    const approval = page.getByRole("group", { name: "Allow everything__echo?" });
    await approval.waitFor({ timeout: LONG });
    const card = page.getByLabel("Tool call everything__echo").last();
    assert.match(await card.locator(".tool-args").innerText(), /"message": "Paris"/);
    await approval.getByRole("button", { name: "Allow once" }).click();

    const result = page.locator("article.message.tool");
    await result.waitFor({ timeout: LONG });
    assert.match(await result.locator("summary").innerText(), /everything\/echo · done · allowed once/);
    await result.locator("summary").click();
    assert.equal((await result.locator(".tool-output").innerText()).trim(), "Echo: Paris");
    // The loop's last turn (toolMaxSteps 2) is stored below the result.
    await page.locator("article.message.assistant[data-message-id]").nth(1).waitFor({ timeout: LONG });

    const id = decodeURIComponent(page.url().split("#/c/")[1]!.split("?")[0]!);
    const stored = await apiJson<ConversationDetail>(hearth.url, `/api/conversations/${id}`);
    assert.deepEqual(stored.tools, [{ server: "everything", tool: "echo", approval: "ask" }]);
    assert.deepEqual(
      stored.messages.map((m) => [m.role, m.toolRun?.outcome ?? null]),
      [
        ["user", null],
        ["assistant", null],
        ["tool", "ok"],
        ["assistant", null],
      ],
    );
  });

  test("Settings lists the MCP server, running, with its tools", async () => {
    await page.goto(`${hearth.url}/#/settings`);
    const servers = page.getByRole("list", { name: "MCP servers" });
    const item = servers.locator("li", { hasText: "everything" });
    await item.waitFor({ timeout: LONG });
    assert.equal(await item.getByLabel("State of everything").innerText(), "running");
    assert.match(await item.innerText(), /Tools: .*echo/);
  });
});
