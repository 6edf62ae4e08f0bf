import { coreSchema } from "./001-core.js";
import { searchIndex } from "./002-search.js";
import { safeImports } from "./003-safe-imports.js";
import { boundedSearch } from "./004-bounded-search.js";
import { reasoning } from "./005-reasoning.js";
import { storedResponses } from "./006-stored-responses.js";
import { toolRuns } from "./007-tool-runs.js";
import type { Migration } from "./types.js";

export type { Migration } from "./types.js";

/** Every schema step, oldest first. Append only: a released step is never edited. */
export const MIGRATIONS: readonly Migration[] = [
  coreSchema,
  searchIndex,
  safeImports,
  boundedSearch,
  reasoning,
  storedResponses,
  toolRuns,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
