/**
 * The application menu as data: a template built from the platform and a set of actions, so what
 * each item does is tested without Electron, and main.ts only hands it to `Menu.buildFromTemplate`.
 */

/** The Electron menu roles Hearth uses (each is a built-in behaviour, such as copy or zoom). */
export type MenuRole =
  | "about"
  | "services"
  | "hide"
  | "hideOthers"
  | "unhide"
  | "quit"
  | "undo"
  | "redo"
  | "cut"
  | "copy"
  | "paste"
  | "pasteAndMatchStyle"
  | "delete"
  | "selectAll"
  | "reload"
  | "forceReload"
  | "toggleDevTools"
  | "resetZoom"
  | "zoomIn"
  | "zoomOut"
  | "togglefullscreen"
  | "minimize"
  | "zoom"
  | "front"
  | "close"
  | "appMenu"
  | "fileMenu"
  | "editMenu"
  | "viewMenu"
  | "windowMenu"
  | "help";

/** A menu item in the shape `Menu.buildFromTemplate` takes (the subset Hearth uses). */
export interface MenuItemSpec {
  id?: string;
  label?: string;
  role?: MenuRole;
  type?: "normal" | "separator" | "submenu";
  accelerator?: string;
  enabled?: boolean;
  click?: () => void;
  submenu?: MenuItemSpec[];
}

/** What menu and tray items do; main.ts wires each to the shell. */
export interface MenuActions {
  showWindow(): void;
  openDataFolder(): void;
  restartServer(): void;
  openExternal(url: string): void;
  showAbout(): void;
  quit(): void;
}

export interface AppMenuContext {
  platform: NodeJS.Platform;
  /** Developer tools are offered only when running from source. */
  isPackaged: boolean;
  appName: string;
  /** Project page for the Help menu. Defaults to none (the item is left out). */
  homepage?: string;
}

const separator: MenuItemSpec = { type: "separator" };

/** The application menu template. */
export function buildAppMenu(ctx: AppMenuContext, actions: MenuActions): MenuItemSpec[] {
  const mac = ctx.platform === "darwin";
  const menu: MenuItemSpec[] = [];
  if (mac) {
    menu.push({
      label: ctx.appName,
      submenu: [
        { role: "about" },
        separator,
        { role: "services" },
        separator,
        { role: "hide" },
        { role: "hideOthers" },
        { role: "unhide" },
        separator,
        { role: "quit" },
      ],
    });
  }
  menu.push({
    label: "&File",
    submenu: [
      { id: "open-data-folder", label: "Open Data Folder", click: () => actions.openDataFolder() },
      { id: "restart-server", label: "Restart Server", click: () => actions.restartServer() },
      ...(mac
        ? []
        : [separator, { id: "quit", label: "Quit", accelerator: "CmdOrCtrl+Q", click: () => actions.quit() }]),
    ],
  });
  menu.push({
    label: "&Edit",
    submenu: [
      { role: "undo" },
      { role: "redo" },
      separator,
      { role: "cut" },
      { role: "copy" },
      { role: "paste" },
      ...(mac ? [{ role: "pasteAndMatchStyle" } as const] : []),
      { role: "delete" },
      separator,
      { role: "selectAll" },
    ],
  });
  menu.push({
    label: "&View",
    submenu: [
      { role: "reload" },
      { role: "forceReload" },
      ...(ctx.isPackaged ? [] : [{ role: "toggleDevTools" } as const]),
      separator,
      { role: "resetZoom" },
      { role: "zoomIn" },
      { role: "zoomOut" },
      separator,
      { role: "togglefullscreen" },
    ],
  });
  menu.push({
    label: "&Window",
    submenu: mac
      ? [{ role: "minimize" }, { role: "zoom" }, separator, { role: "front" }]
      : [{ role: "minimize" }, { role: "close" }],
  });
  const help: MenuItemSpec[] = [];
  if (ctx.homepage) {
    const homepage = ctx.homepage;
    help.push({ id: "homepage", label: `${ctx.appName} Website`, click: () => actions.openExternal(homepage) });
  }
  if (!mac) help.push({ id: "about", label: `About ${ctx.appName}`, click: () => actions.showAbout() });
  if (help.length > 0) menu.push({ role: "help", label: "&Help", submenu: help });
  return menu;
}

/** Finds an item by id anywhere in a template (tests and the tray use it). */
export function findMenuItem(items: readonly MenuItemSpec[], id: string): MenuItemSpec | undefined {
  for (const item of items) {
    if (item.id === id) return item;
    const inner = item.submenu && findMenuItem(item.submenu, id);
    if (inner) return inner;
  }
  return undefined;
}
