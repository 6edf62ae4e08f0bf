/**
 * Model output as Markdown: GFM (tables, task lists, strikethrough), highlighted code with a copy
 * button. No raw HTML is ever rendered (react-markdown escapes it without rehype-raw), unsafe URL
 * schemes are dropped by react-markdown's default urlTransform, and images become links so a reply
 * cannot make the app fetch from the network.
 */
import { memo, type ReactNode } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { CopyButton } from "../app/CopyButton.js";

function textOf(node: ReactNode): string {
  if (node === null || node === undefined || typeof node === "boolean") return "";
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (typeof node === "object" && "props" in node) return textOf((node.props as { children?: ReactNode }).children);
  return "";
}

const components: Components = {
  pre({ children }) {
    const code = Array.isArray(children) ? children[0] : children;
    const className = (code as { props?: { className?: string } } | undefined)?.props?.className ?? "";
    const language = /language-([\w+#.-]+)/.exec(className)?.[1] ?? "";
    const text = textOf(children).replace(/\n$/, "");
    return (
      <div className="code-block">
        <div className="code-block-bar">
          <span className="code-block-lang">{language || "text"}</span>
          <CopyButton text={text} label="Copy code" className="icon-button small labelled" />
        </div>
        <pre>{children}</pre>
      </div>
    );
  },
  a({ href, children }) {
    return (
      <a href={href} target="_blank" rel="noopener noreferrer">
        {children}
      </a>
    );
  },
  img({ src, alt }) {
    const label = alt || "image";
    return typeof src === "string" && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer" className="md-image-link">
        [{label}]
      </a>
    ) : (
      <span>[{label}]</span>
    );
  },
  table({ children }) {
    return (
      <div className="md-table">
        <table>{children}</table>
      </div>
    );
  },
};

const remarkPlugins = [remarkGfm];
const rehypePlugins: NonNullable<Parameters<typeof ReactMarkdown>[0]["rehypePlugins"]> = [
  [rehypeHighlight, { detect: false }],
];

/** Renders Markdown text; memoized on the text so unchanged messages skip work while another streams. */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={remarkPlugins}
        rehypePlugins={rehypePlugins}
        components={components}
        skipHtml={false}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
});

export default Markdown;
