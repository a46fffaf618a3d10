// Builds the store app into dist/: index.html, app.js, app.css, manifest.webmanifest, sw.js
// and icons (SVG, and PNGs rasterised here so no image tool is needed). All URLs are relative:
// the server mounts dist/ under /app/.
import * as esbuild from 'esbuild';
import { compressDist } from '../web-shared/compress.mjs';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const watch = process.argv.includes('--watch');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const BRAND = '#0f5f4a';

// ---- icons ---------------------------------------------------------------------------------
const svgIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
<rect width="512" height="512" rx="112" fill="${BRAND}"/>
<path d="M256 104c-97 0-168 60-168 138 0 45 24 84 62 109l-14 62c-2 9 8 16 16 11l70-42c11 2 22 3 34 3 97 0 168-60 168-143S353 104 256 104z" fill="#fff"/>
<circle cx="186" cy="245" r="24" fill="${BRAND}"/><circle cx="256" cy="245" r="24" fill="${BRAND}"/><circle cx="326" cy="245" r="24" fill="${BRAND}"/>
</svg>
`;

function png(size, { maskable = false } = {}) {
  const [br, bg, bb] = [0x0f, 0x5f, 0x4a];
  const s = size / 512;
  // Maskable icons keep their content inside the central 80% circle.
  const k = maskable ? 0.72 : 1;
  const off = (1 - k) * 256;
  const raw = Buffer.alloc((size * 4 + 1) * size);
  const inside = (x, y) => {
    // Map back to the 512 design grid.
    const X = (x / s - off) / k, Y = (y / s - off) / k;
    const ell = ((X - 256) / 168) ** 2 + ((Y - 245) / 140) ** 2 <= 1;
    // Tail: triangle (150,330) (135,420) (235,370)
    const tri = (() => {
      const [x1, y1, x2, y2, x3, y3] = [140, 320, 135, 420, 240, 370];
      const d = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3);
      const a = ((y2 - y3) * (X - x3) + (x3 - x2) * (Y - y3)) / d;
      const b = ((y3 - y1) * (X - x3) + (x1 - x3) * (Y - y3)) / d;
      return a >= 0 && b >= 0 && a + b <= 1;
    })();
    if (!(ell || tri)) return 0;
    for (const cx of [186, 256, 326]) if ((X - cx) ** 2 + (Y - 245) ** 2 <= 24 * 24) return 0;
    return 1;
  };
  const inRounded = (x, y) => {
    if (maskable) return true;
    const r = 112 * s, X = x + 0.5, Y = y + 0.5;
    const cx = Math.min(Math.max(X, r), size - r), cy = Math.min(Math.max(Y, r), size - r);
    return (X - cx) ** 2 + (Y - cy) ** 2 <= r * r;
  };
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      // 2x2 supersampling for smooth edges.
      let white = 0, bgCov = 0;
      for (const [dx, dy] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]) {
        if (inRounded(x + dx - 0.5, y + dy - 0.5)) { bgCov++; white += inside(x + dx, y + dy); }
      }
      const i = y * (size * 4 + 1) + 1 + x * 4;
      const w = white / 4;
      raw[i] = Math.round(br + (255 - br) * (w * 4 / Math.max(bgCov, 1)));
      raw[i + 1] = Math.round(bg + (255 - bg) * (w * 4 / Math.max(bgCov, 1)));
      raw[i + 2] = Math.round(bb + (255 - bb) * (w * 4 / Math.max(bgCov, 1)));
      raw[i + 3] = Math.round(255 * bgCov / 4);
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0)),
  ]);
}

writeFileSync(join(out, 'icon.svg'), svgIcon);
writeFileSync(join(out, 'icon-192.png'), png(192));
writeFileSync(join(out, 'icon-512.png'), png(512));
writeFileSync(join(out, 'icon-maskable-512.png'), png(512, { maskable: true }));

// ---- manifest ------------------------------------------------------------------------------
const manifest = {
  name: 'Floorwalker store app',
  short_name: 'Floorwalker',
  description: 'Answer shoppers from the shop floor.',
  id: './',
  start_url: './',
  scope: './',
  display: 'standalone',
  orientation: 'portrait',
  background_color: '#ffffff',
  theme_color: BRAND,
  lang: 'en',
  dir: 'auto',
  categories: ['business', 'productivity'],
  icons: [
    { src: 'icon.svg', sizes: 'any', type: 'image/svg+xml' },
    { src: 'icon-192.png', sizes: '192x192', type: 'image/png' },
    { src: 'icon-512.png', sizes: '512x512', type: 'image/png' },
    { src: 'icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
  ],
};
writeFileSync(join(out, 'manifest.webmanifest'), JSON.stringify(manifest, null, 2));

// ---- bundle --------------------------------------------------------------------------------
const options = {
  entryPoints: [
    { in: join(root, 'src', 'main.tsx'), out: 'app' },
    { in: join(root, 'src', 'app.css'), out: 'app' },
  ],
  outdir: out,
  bundle: true,
  minify: !watch,
  sourcemap: false,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: watch ? 'info' : 'warning',
};

function finish() {
  const hash = createHash('sha256');
  for (const f of ['app.js', 'app.css', 'manifest.webmanifest']) hash.update(readFileSync(join(out, f)));
  hash.update(readFileSync(join(root, 'src', 'sw.js')));
  hash.update(readFileSync(join(root, 'src', 'index.html')));
  const version = hash.digest('hex').slice(0, 12);
  const html = readFileSync(join(root, 'src', 'index.html'), 'utf8').replaceAll('__VERSION__', version);
  writeFileSync(join(out, 'index.html'), html);
  const shell = ['./', 'index.html', `app.js?v=${version}`, `app.css?v=${version}`, 'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png'];
  const sw = readFileSync(join(root, 'src', 'sw.js'), 'utf8')
    .replaceAll('__VERSION__', version)
    .replaceAll('__SHELL__', JSON.stringify(shell));
  writeFileSync(join(out, 'sw.js'), sw);
  compressDist(out);
  console.log(`store-app built: dist/ (version ${version})`);
}

if (watch) {
  const ctx = await esbuild.context({ ...options, plugins: [{ name: 'finish', setup(b) { b.onEnd(finish); } }] });
  await ctx.watch();
} else {
  await esbuild.build(options);
  finish();
}
