/**
 * Live download progress: one SSE stream from /api/models/downloads/events keeps a map of
 * snapshots; it reconnects after a drop, and tells the caller when a download completed so the
 * library can be refetched.
 */
import { useEffect, useRef, useState } from "react";
import { downloads as api, type DownloadSnapshot } from "../api/models.js";

export function useDownloads(onCompleted: (d: DownloadSnapshot) => void): {
  list: DownloadSnapshot[];
  error: unknown;
  upsert: (d: DownloadSnapshot) => void;
} {
  const [byId, setById] = useState<ReadonlyMap<string, DownloadSnapshot>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const completed = useRef(onCompleted);
  completed.current = onCompleted;
  const upsert = (d: DownloadSnapshot) =>
    setById((prev) => {
      const old = prev.get(d.id);
      if (old && old.updatedAt > d.updatedAt) return prev;
      if (d.state === "completed" && old && old.state !== "completed") completed.current(d);
      const next = new Map(prev);
      next.set(d.id, d);
      return next;
    });
  const upsertRef = useRef(upsert);
  upsertRef.current = upsert;

  useEffect(() => {
    const controller = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      try {
        for await (const snapshot of api.events({ signal: controller.signal })) {
          setError(null);
          upsertRef.current(snapshot);
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err);
      }
      if (!controller.signal.aborted) retry = setTimeout(() => void connect(), 2000);
    };
    void connect();
    return () => {
      controller.abort();
      clearTimeout(retry);
    };
  }, []);

  const list = [...byId.values()].sort((a, b) => b.createdAt - a.createdAt);
  return { list, error, upsert };
}
