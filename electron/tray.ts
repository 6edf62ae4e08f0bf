/**
 * The tray icon: shows the server's state in its tooltip and first menu line, and offers the few
 * actions that make sense without the window (show it, restart the server, open the data folder,
 * quit).
 */
import type { MenuActions, MenuItemSpec } from "./menu.js";
import type { ServerStatus } from "./server-process.js";

/** One line for people about the server's state. */
export function describeServer(status: Pick<ServerStatus, "state" | "url">): string {
  switch (status.state) {
    case "running":
      return `Server running at ${status.url ?? "?"}`;
    case "starting":
      return "Server starting…";
    case "restarting":
      return "Server restarting…";
    case "stopping":
      return "Server stopping…";
    case "failed":
      return "Server stopped after repeated crashes";
    case "stopped":
      return "Server stopped";
  }
}

/** The tray's tooltip. */
export function trayTooltip(appName: string, status: Pick<ServerStatus, "state" | "url">): string {
  return `${appName}: ${describeServer(status)}`;
}

/** The tray's context menu for the given server state. */
export function buildTrayMenu(
  appName: string,
  status: Pick<ServerStatus, "state" | "url">,
  actions: MenuActions,
): MenuItemSpec[] {
  const busy = status.state === "starting" || status.state === "restarting" || status.state === "stopping";
  return [
    { id: "show", label: `Show ${appName}`, click: () => actions.showWindow() },
    { id: "status", label: describeServer(status), enabled: false },
    { type: "separator" },
    {
      id: "restart-server",
      label: status.state === "failed" ? "Start Server" : "Restart Server",
      enabled: !busy,
      click: () => actions.restartServer(),
    },
    { id: "open-data-folder", label: "Open Data Folder", click: () => actions.openDataFolder() },
    { type: "separator" },
    { id: "quit", label: `Quit ${appName}`, click: () => actions.quit() },
  ];
}

/** The part of Electron's `Tray` the shell uses. */
export interface TrayLike {
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: "click", listener: () => void): unknown;
  destroy(): void;
}

/** Keeps a tray in step with the server: call the returned function with each new status. */
export function bindTray(
  tray: TrayLike,
  appName: string,
  actions: MenuActions,
  buildMenu: (template: MenuItemSpec[]) => unknown,
): (status: Pick<ServerStatus, "state" | "url">) => void {
  tray.on("click", () => actions.showWindow());
  return (status) => {
    tray.setToolTip(trayTooltip(appName, status));
    tray.setContextMenu(buildMenu(buildTrayMenu(appName, status, actions)));
  };
}
