/** Moved to server/core/types.ts; kept only while branches that import this path are merged. */
export type * from "../core/types.js";
