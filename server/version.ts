/** Hearth's version, from package.json; its own module so `hearth mcp` need not load the whole server to know it. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository (or installed package) root: above `server/`, or above `dist/server/` once built. */
export const PACKAGE_ROOT = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? "../.." : "..");

export const VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }
).version;
