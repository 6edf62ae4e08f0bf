/**
 * The child's side of util/disposable-child.ts, kept apart so a disposable program loads nothing
 * more than it needs before its time limits start: its input, and the channel it comes over.
 */

/** A message channel to the process that started this one. */
export interface ParentPort {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

/**
 * This process's channel to its parent: an Electron utility process's `process.parentPort`, else a
 * Node IPC channel (a child started with `fork`, as the shell's tests start the server); null when
 * there is neither.
 */
export function ownParentPort(): ParentPort | null {
  const port = (
    process as {
      parentPort?: { postMessage(m: unknown): void; on(e: "message", f: (ev: { data: unknown }) => void): void };
    }
  ).parentPort;
  if (port)
    return { postMessage: (m) => port.postMessage(m), onMessage: (l) => port.on("message", (ev) => l(ev.data)) };
  if (process.send) {
    const send = process.send.bind(process);
    return { postMessage: (m) => send(m as object), onMessage: (l) => process.on("message", l) };
  }
  return null;
}

/**
 * In a child program: its input, the first message from whoever started it. A Node child also
 * exits when that channel closes (its parent died), so none outlives the server; the desktop app's
 * main process ends the children of a server that exits.
 */
export function childInput<T>(): Promise<T> {
  return new Promise((resolve) => {
    const port = ownParentPort();
    if (!port) throw new Error("this program runs as a disposable child (util/disposable-child.ts)");
    let received = false;
    port.onMessage((message) => {
      if (received) return;
      received = true;
      resolve(message as T);
    });
    if (process.send) process.once("disconnect", () => process.exit(0));
  });
}
