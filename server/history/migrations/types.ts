import type { Database } from "better-sqlite3";

/** One schema step. `up` runs inside the start-up transaction, so it must not change pragmas that cannot run in one. */
export interface Migration {
  /** The `user_version` the database has after this step; versions are 1, 2, 3... with no gaps. */
  version: number;
  name: string;
  up(db: Database): void;
}
