/** Model output rendered as Markdown: highlighted code with a copy button, GFM, and nothing unsafe. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { tsImport } from "tsx/esm/api";

// tsx compiles with the one tsconfig it finds (tsconfig.json, the Node program), and only the files
// that config includes; renderer/ belongs to the DOM program, so its JSX would lose the automatic
// runtime. Load it with the DOM program's settings instead.
const { Markdown } = (await tsImport("../../renderer/src/chat/Markdown.tsx", {
  parentURL: import.meta.url,
  tsconfig: fileURLToPath(new URL("../../renderer/tsconfig.json", import.meta.url)),
})) as typeof import("../../renderer/src/chat/Markdown.js");

const render = (text: string) => renderToStaticMarkup(createElement(Markdown, { text }));

describe("renderer Markdown", () => {
  test("a fenced code block is highlighted, labelled with its language and has a copy button", () => {
    const html = render("Here:\n\n```ts\nconst answer: number = 42; // the answer\n```\n");
    assert.match(html, /<div class="code-block">/);
    assert.match(html, /<span class="code-block-lang">ts<\/span>/);
    assert.match(html, /aria-label="Copy code"/);
    assert.match(html, /<code class="hljs language-ts">/);
    assert.match(html, /<span class="hljs-keyword">const<\/span>/);
    assert.match(html, /<span class="hljs-number">42<\/span>/);
    assert.match(html, /<span class="hljs-comment">\/\/ the answer<\/span>/);
  });

  test("a code block in an unknown language is shown as plain text, not an error", () => {
    const html = render("```klingon\nqapla'\n```");
    assert.match(html, /<span class="code-block-lang">klingon<\/span>/);
    assert.match(html, /qapla&#x27;/);
  });

  test("GFM: tables, strikethrough, task lists and autolinks", () => {
    const html = render("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~\n\n- [x] done\n\nsee https://example.com");
    assert.match(html, /<div class="md-table"><table>/);
    assert.match(html, /<td>2<\/td>/);
    assert.match(html, /<del>old<\/del>/);
    assert.match(html, /<input type="checkbox" disabled="" checked=""\/>/);
    assert.match(html, /<a href="https:\/\/example.com" target="_blank" rel="noopener noreferrer">/);
  });

  test("raw HTML from the model is shown as text, never as elements", () => {
    const html = render('Hello <script>alert(1)</script> <img src=x onerror="alert(2)"> <b>bold</b>');
    assert.doesNotMatch(html, /<script/);
    assert.doesNotMatch(html, /<img/);
    assert.doesNotMatch(html, /<b>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  test("javascript: links lose their target", () => {
    const html = render("[click](javascript:alert(1)) and [ok](https://hearth.example/)");
    assert.doesNotMatch(html, /javascript:/);
    assert.match(html, /href="https:\/\/hearth.example\/"/);
  });

  test("images become links, so a reply cannot make the app fetch from the network", () => {
    const html = render("![a cat](https://tracker.example/cat.png)");
    assert.doesNotMatch(html, /<img/);
    assert.match(
      html,
      /<a href="https:\/\/tracker.example\/cat.png" target="_blank" rel="noopener noreferrer" class="md-image-link">\[a cat\]<\/a>/,
    );
  });

  test("half-written Markdown while streaming still renders", () => {
    const html = render("Some **bold and an open fence:\n\n```py\nprint(1");
    assert.match(html, /Some \*\*bold/);
    assert.match(html, /<code class="hljs language-py">/);
  });
});
