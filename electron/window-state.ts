/**
 * Remembers the window's size and position in a small JSON file. What is read back is validated
 * (a hand-edited or truncated file gives the defaults) and clamped to the displays that exist now,
 * so a window last seen on an unplugged monitor comes back where it can be seen.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

export const MIN_WIDTH = 480;
export const MIN_HEIGHT = 360;
const DEFAULT_WIDTH = 1200;
const DEFAULT_HEIGHT = 800;
/** How much of the title bar area must be on a display for a saved position to be kept. */
const MIN_VISIBLE = 64;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const finite = z.number().finite();
export const WindowStateSchema = z.object({
  x: finite.int().optional(),
  y: finite.int().optional(),
  width: finite.int().min(1).max(100_000),
  height: finite.int().min(1).max(100_000),
  maximized: z.boolean().default(false),
  fullScreen: z.boolean().default(false),
});
export type WindowState = z.infer<typeof WindowStateSchema>;

/** A display as the shell needs it: its work area (the screen minus task bars and docks). */
export interface DisplayLike {
  workArea: Rect;
}

function overlap(a: Rect, b: Rect): { width: number; height: number } {
  return {
    width: Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)),
    height: Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)),
  };
}

/** The default state: a comfortable size centred by Electron (no x/y) on the primary display. */
export function defaultWindowState(primary: DisplayLike | undefined): WindowState {
  const area = primary?.workArea;
  return {
    width: area ? Math.max(MIN_WIDTH, Math.min(DEFAULT_WIDTH, area.width)) : DEFAULT_WIDTH,
    height: area ? Math.max(MIN_HEIGHT, Math.min(DEFAULT_HEIGHT, area.height)) : DEFAULT_HEIGHT,
    maximized: false,
    fullScreen: false,
  };
}

/**
 * Fits a saved state to the current displays: the size shrinks to fit the display it is on, and a
 * position whose top strip is not visible on any display is dropped (Electron then centres the
 * window on the primary display).
 */
export function clampToDisplays(state: WindowState, displays: readonly DisplayLike[]): WindowState {
  const primary = displays[0];
  if (!primary) return { ...state };
  const width = Math.max(MIN_WIDTH, state.width);
  const height = Math.max(MIN_HEIGHT, state.height);
  if (state.x === undefined || state.y === undefined) {
    const area = primary.workArea;
    return {
      ...state,
      x: undefined,
      y: undefined,
      width: Math.min(width, area.width),
      height: Math.min(height, area.height),
    };
  }
  const titleStrip = { x: state.x, y: state.y, width, height: Math.min(height, MIN_VISIBLE) };
  let best: DisplayLike | undefined;
  let bestArea = 0;
  for (const d of displays) {
    const o = overlap(titleStrip, d.workArea);
    if (
      o.width >= Math.min(MIN_VISIBLE, width) &&
      o.height >= Math.min(MIN_VISIBLE / 2, titleStrip.height) &&
      o.width * o.height > bestArea
    ) {
      best = d;
      bestArea = o.width * o.height;
    }
  }
  if (!best) {
    const area = primary.workArea;
    return {
      ...state,
      x: undefined,
      y: undefined,
      width: Math.min(width, area.width),
      height: Math.min(height, area.height),
    };
  }
  const area = best.workArea;
  const w = Math.min(width, area.width);
  const h = Math.min(height, area.height);
  // Pull the window fully inside the work area of the display it is (mostly) on.
  const x = Math.min(Math.max(state.x, area.x), area.x + area.width - w);
  const y = Math.min(Math.max(state.y, area.y), area.y + area.height - h);
  return { ...state, x, y, width: w, height: h };
}

/** Reads the saved state; a missing, unreadable or invalid file gives null. */
export function readWindowState(file: string): WindowState | null {
  try {
    const parsed = WindowStateSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Writes the state atomically (temp file + rename), so a crash mid-write leaves the old file. */
export function writeWindowState(file: string, state: WindowState): void {
  const valid = WindowStateSchema.parse(state);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(valid, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** The state to open the window with: the saved one fitted to the displays, or the default. */
export function loadWindowState(file: string, displays: readonly DisplayLike[]): WindowState {
  const saved = readWindowState(file);
  return saved ? clampToDisplays(saved, displays) : defaultWindowState(displays[0]);
}

/** The part of Electron's `BrowserWindow` that state tracking reads. */
export interface TrackableWindow {
  getNormalBounds(): Rect;
  isMaximized(): boolean;
  isFullScreen(): boolean;
  isDestroyed(): boolean;
  on(
    event: "resize" | "move" | "maximize" | "unmaximize" | "enter-full-screen" | "leave-full-screen" | "close",
    listener: () => void,
  ): unknown;
}

export interface TrackOptions {
  /** Wait after the last move/resize before writing. Defaults to 500 ms. */
  debounceMs?: number;
}

/**
 * Saves the window's state after it settles from a move or resize, and at once when it closes.
 * Returns a function that writes any pending change now (used on quit).
 */
export function trackWindowState(win: TrackableWindow, file: string, options: TrackOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 500;
  let timer: NodeJS.Timeout | null = null;
  const save = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (win.isDestroyed()) return;
    const b = win.getNormalBounds();
    try {
      writeWindowState(file, {
        x: Math.round(b.x),
        y: Math.round(b.y),
        width: Math.round(b.width),
        height: Math.round(b.height),
        maximized: win.isMaximized(),
        fullScreen: win.isFullScreen(),
      });
    } catch {
      // Losing the window position is not worth a crash (read-only or full disk).
    }
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, debounceMs);
    timer.unref?.();
  };
  for (const e of ["resize", "move"] as const) win.on(e, later);
  for (const e of ["maximize", "unmaximize", "enter-full-screen", "leave-full-screen", "close"] as const)
    win.on(e, save);
  return () => {
    if (timer) save();
  };
}
