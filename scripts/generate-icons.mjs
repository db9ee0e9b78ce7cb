#!/usr/bin/env node
// Draws the app and tray icons into resources/ with plain Node (no image library): one request fanning
// out to three workers. The PNGs are committed resources; run this again only to change the mark:
//   node scripts/generate-icons.mjs
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const out = path.resolve(import.meta.dirname, "..", "resources");

// The mark on a 32-unit square: an input dot on the left, lines to three worker dots on the right.
const input = { x: 8, y: 16, r: 4 };
const outputs = [7, 16, 25].map((y) => ({ x: 24.5, y, r: 3.25 }));
// Lines are thinner on the app icon than on the tray's: at 16 px a line needs two whole pixels.
const appLineWidth = 2.4;
const trayLineWidth = 4;

const distanceToSegment = (px, py, ax, ay, bx, by) => {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
};

/** Whether a point of the 32-unit square is on the mark. */
function onMark(x, y, lineWidth) {
  if (Math.hypot(x - input.x, y - input.y) <= input.r) return true;
  return outputs.some(
    (dot) =>
      Math.hypot(x - dot.x, y - dot.y) <= dot.r ||
      distanceToSegment(x, y, input.x, input.y, dot.x, dot.y) <= lineWidth / 2,
  );
}

/** Whether a point of the unit square is inside a rounded square with the given margin and radius. */
function onBody(x, y, margin, radius) {
  const lo = margin + radius;
  const hi = 1 - margin - radius;
  const dx = Math.max(lo - x, 0, x - hi);
  const dy = Math.max(lo - y, 0, y - hi);
  return Math.hypot(dx, dy) <= radius;
}

const top = [99, 102, 241]; // indigo
const bottom = [124, 58, 237]; // violet

/**
 * Renders `size`x`size` RGBA with 4x4 samples a pixel. `body`: a coloured rounded square with a white
 * mark (margin and radius as fractions of the side); without it, a black mark on clear (a macOS
 * template image).
 */
function render(size, lineWidth, body) {
  const pixels = Buffer.alloc(size * size * 4);
  const n = 4;
  const markScale = body ? (1 - 2 * body.margin) * body.markFraction : 1;
  const markOffset = (1 - markScale) / 2;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bodyHits = 0;
      let markHits = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const u = (px + (sx + 0.5) / n) / size;
          const v = (py + (sy + 0.5) / n) / size;
          const inBody = body ? onBody(u, v, body.margin, body.radius) : true;
          if (inBody) bodyHits++;
          const mu = ((u - markOffset) / markScale) * 32;
          const mv = ((v - markOffset) / markScale) * 32;
          if (inBody && onMark(mu, mv, lineWidth)) markHits++;
        }
      }
      const i = (py * size + px) * 4;
      const samples = n * n;
      if (!body) {
        pixels[i + 3] = Math.round((markHits / samples) * 255);
        continue;
      }
      const t = py / (size - 1);
      const base = top.map((c, k) => c + (bottom[k] - c) * t);
      const bodyAlpha = bodyHits / samples;
      // The white mark covers part of the body: mix within the body's coverage.
      const white = bodyHits ? markHits / bodyHits : 0;
      for (let k = 0; k < 3; k++) pixels[i + k] = Math.round(base[k] + (255 - base[k]) * white);
      pixels[i + 3] = Math.round(bodyAlpha * 255);
    }
  }
  return pixels;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An 8-bit RGBA PNG, every row unfiltered. */
function encodePng(size, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) pixels.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlib.deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** The same drawing as SVG, for documentation and anyone who wants another size. */
function svg() {
  const dots = [input, ...outputs].map((d) => `<circle cx="${d.x}" cy="${d.y}" r="${d.r}"/>`).join("");
  const lines = outputs
    .map((d) => `<line x1="${input.x}" y1="${input.y}" x2="${d.x}" y2="${d.y}"/>`)
    .join("");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512">`,
    `<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">`,
    `<stop offset="0" stop-color="rgb(${top})"/><stop offset="1" stop-color="rgb(${bottom})"/>`,
    `</linearGradient></defs>`,
    `<rect x="48" y="48" width="416" height="416" rx="92" fill="url(#g)"/>`,
    // The mark: 60% of the body, centred (the PNGs use the same proportions).
    `<g transform="translate(131.2 131.2) scale(7.8)" fill="#fff" stroke="#fff" stroke-width="${appLineWidth}" stroke-linecap="round">`,
    `${lines}${dots}</g></svg>`,
    "",
  ].join("\n");
}

const appIcon = { margin: 48 / 512, radius: 92 / 512, markFraction: 0.6 };
// The coloured tray icon fills its square: at 16 px every pixel counts.
const trayIcon = { margin: 0, radius: 0.22, markFraction: 0.8 };
const files = {
  "icon.png": encodePng(512, render(512, appLineWidth, appIcon)),
  "tray.png": encodePng(16, render(16, trayLineWidth, trayIcon)),
  "tray@2x.png": encodePng(32, render(32, trayLineWidth, trayIcon)),
  "trayTemplate.png": encodePng(16, render(16, trayLineWidth)),
  "trayTemplate@2x.png": encodePng(32, render(32, trayLineWidth)),
  "icon.svg": svg(),
};
fs.mkdirSync(out, { recursive: true });
for (const [name, data] of Object.entries(files)) {
  fs.writeFileSync(path.join(out, name), data);
  console.log(path.join("resources", name));
}
