import type { ThemeChoice } from "../app/theme.js";
export default function SettingsView(_props: { theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  return <div className="page"><h1>Settings</h1></div>;
}
