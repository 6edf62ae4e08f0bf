/** Sidebar date groups, computed in the person's local time. */
export type DateGroup = "Today" | "Yesterday" | "Previous 7 days" | "Previous 30 days" | "Older";

export function dateGroup(time: number, now = Date.now()): DateGroup {
  const startOfToday = new Date(now);
  startOfToday.setHours(0, 0, 0, 0);
  const day = 86_400_000;
  const t0 = startOfToday.getTime();
  if (time >= t0) return "Today";
  if (time >= t0 - day) return "Yesterday";
  if (time >= t0 - 7 * day) return "Previous 7 days";
  if (time >= t0 - 30 * day) return "Previous 30 days";
  return "Older";
}

const rtf = typeof Intl !== "undefined" ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;

export function relativeTime(time: number, now = Date.now()): string {
  const s = Math.round((time - now) / 1000);
  const abs = Math.abs(s);
  if (!rtf) return new Date(time).toLocaleString();
  if (abs < 60) return rtf.format(s, "second");
  if (abs < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (abs < 86_400) return rtf.format(Math.round(s / 3600), "hour");
  if (abs < 30 * 86_400) return rtf.format(Math.round(s / 86_400), "day");
  return new Date(time).toLocaleDateString();
}
