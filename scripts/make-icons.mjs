#!/usr/bin/env node
// Draws Hearth's icon (a flame over a hearth log on a dark rounded square) and writes every size
// the installers and the tray need into resources/: PNGs, icon.icns (macOS) and icon.ico (Windows).
// Everything is computed here, no network, so the icons can be regenerated on any machine:
//   node scripts/make-icons.mjs
import fs from "node:fs";
import path from "node:path";
import png2icons from "png2icons";
import { PNG } from "pngjs";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, "resources");
const iconsDir = path.join(out, "icons");

const smooth = (e0, e1, x) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};
const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

/** Inside test for a flame: a round base with a tip that leans and flickers; (u, v) in [0, 1]. */
function inFlame(u, v, { cx, tip, base, radius, lean }) {
  const cy = base - radius;
  if (v > base || v < tip) return false;
  if (v >= cy) return (u - cx) ** 2 + (v - cy) ** 2 <= radius ** 2;
  const t = (v - tip) / (cy - tip); // 0 at the tip, 1 where the round base starts
  // Both the width and the lean have zero slope where they meet the round base: no kink.
  const shift = lean * Math.sin(((1 - t) * Math.PI) / 2) ** 2;
  return Math.abs(u - cx - shift) <= radius * Math.sin((t * Math.PI) / 2) ** 1.6;
}

function inRoundedRect(u, v, x0, y0, x1, y1, r) {
  const qx = Math.max(x0 + r - u, 0, u - (x1 - r));
  const qy = Math.max(y0 + r - v, 0, v - (y1 - r));
  return u >= x0 && u <= x1 && v >= y0 && v <= y1 && qx * qx + qy * qy <= r * r;
}

/** The colour (RGBA, 0-255) of one sample point of the full icon. */
function sampleIcon(u, v) {
  if (!inRoundedRect(u, v, 0.04, 0.04, 0.96, 0.96, 0.2)) return [0, 0, 0, 0];
  let c = mix([68, 52, 44], [28, 25, 23], smooth(0.04, 0.96, v));
  // Warm glow behind the flame.
  const glow = Math.max(0, 1 - Math.hypot(u - 0.5, v - 0.62) / 0.42);
  c = mix(c, [180, 83, 9], glow * glow * 0.55);
  if (inRoundedRect(u, v, 0.2, 0.76, 0.8, 0.86, 0.05)) c = mix([120, 53, 15], [87, 38, 12], smooth(0.76, 0.86, v));
  if (inFlame(u, v, { cx: 0.5, tip: 0.14, base: 0.78, radius: 0.22, lean: 0.07 }))
    c = mix([251, 191, 36], [234, 88, 12], smooth(0.2, 0.75, v));
  if (inFlame(u, v, { cx: 0.5, tip: 0.42, base: 0.77, radius: 0.11, lean: -0.04 }))
    c = mix([254, 243, 199], [253, 186, 116], smooth(0.45, 0.77, v));
  return [...c, 255];
}

/** A monochrome glyph (the flame alone) for tray icons; macOS template images use only alpha. */
function sampleTray(u, v, rgb) {
  const inside = inFlame(u, v, { cx: 0.5, tip: 0.04, base: 0.96, radius: 0.3, lean: 0.08 });
  const hole = inFlame(u, v, { cx: 0.5, tip: 0.5, base: 0.9, radius: 0.13, lean: -0.05 });
  return inside && !hole ? [...rgb, 255] : [0, 0, 0, 0];
}

/** Renders `size` x `size` pixels with 4x4 supersampling for smooth edges. */
function render(size, sample) {
  const png = new PNG({ width: size, height: size });
  const n = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const s = sample((x + (sx + 0.5) / n) / size, (y + (sy + 0.5) / n) / size);
          // Premultiplied so transparent samples do not darken the edges.
          acc[0] += s[0] * s[3];
          acc[1] += s[1] * s[3];
          acc[2] += s[2] * s[3];
          acc[3] += s[3];
        }
      }
      const i = (y * size + x) * 4;
      const a = acc[3];
      png.data[i] = a ? Math.round(acc[0] / a) : 0;
      png.data[i + 1] = a ? Math.round(acc[1] / a) : 0;
      png.data[i + 2] = a ? Math.round(acc[2] / a) : 0;
      png.data[i + 3] = Math.round(a / (n * n));
    }
  }
  return PNG.sync.write(png, { colorType: 6 });
}

fs.mkdirSync(iconsDir, { recursive: true });
const big = render(1024, sampleIcon);
fs.writeFileSync(path.join(out, "icon.png"), big);
// electron-builder's Linux targets take a folder of NxN.png files.
for (const size of [16, 32, 48, 64, 128, 256, 512])
  fs.writeFileSync(path.join(iconsDir, `${size}x${size}.png`), render(size, sampleIcon));
fs.writeFileSync(
  path.join(iconsDir, "tray.png"),
  render(32, (u, v) => sampleTray(u, v, [251, 146, 60])),
);
fs.writeFileSync(
  path.join(iconsDir, "trayTemplate.png"),
  render(16, (u, v) => sampleTray(u, v, [0, 0, 0])),
);
fs.writeFileSync(
  path.join(iconsDir, "trayTemplate@2x.png"),
  render(32, (u, v) => sampleTray(u, v, [0, 0, 0])),
);

const icns = png2icons.createICNS(big, png2icons.BICUBIC, 0);
const ico = png2icons.createICO(big, png2icons.BICUBIC, 0, true, true);
if (!icns || !ico) throw new Error("png2icons could not convert the icon");
fs.writeFileSync(path.join(out, "icon.icns"), icns);
fs.writeFileSync(path.join(out, "icon.ico"), ico);
console.log(`icons written to ${path.relative(root, out)}/`);
