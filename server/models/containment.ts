/**
 * Whether a path is inside the models folder, judged by real paths. `path.resolve` only joins
 * names: `models/big/x.gguf`, where `big` is a link to another disk, resolves under `models/` while
 * its file lives elsewhere, and deleting it would delete that file. Every write, rename and
 * delete in the models folder asks here first.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { BadRequestError } from "../errors.js";

const inside = (root: string, p: string) =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/** The real path of `folder` (which must exist), or null. */
async function real(folder: string): Promise<string | null> {
  return fsp.realpath(folder).catch(() => null);
}

/**
 * True when the folder holding `entry` is, after following links, the models folder or a folder
 * inside it. The entry itself is not followed: a linked model is its link, and removing it removes
 * only the link.
 */
export async function entryInside(root: string, entry: string): Promise<boolean> {
  const [realRoot, realParent] = await Promise.all([real(root), real(path.dirname(path.resolve(entry)))]);
  return realRoot !== null && realParent !== null && inside(realRoot, realParent);
}

/** True when `folder` exists and is, after following links, the models folder or inside it. */
export async function folderInside(root: string, folder: string): Promise<boolean> {
  const [realRoot, realFolder] = await Promise.all([real(root), real(folder)]);
  return realRoot !== null && realFolder !== null && inside(realRoot, realFolder);
}

/** Throws 400 unless `entry` is in the models folder by its real path (see `entryInside`). */
export async function assertEntryInside(root: string, entry: string, action: string): Promise<void> {
  if (!(await entryInside(root, entry)))
    throw new BadRequestError(
      `Refusing to ${action} ${entry}: through a link it is outside the models folder (${root}).`,
      { code: "not_in_models_folder" },
    );
}

/** Throws 400 unless `folder` is the models folder or inside it by its real path. */
export async function assertFolderInside(root: string, folder: string, action: string): Promise<void> {
  if (!(await folderInside(root, folder)))
    throw new BadRequestError(
      `Refusing to ${action} ${folder}: it is a link to a folder outside the models folder (${root}).`,
      { code: "not_in_models_folder" },
    );
}
