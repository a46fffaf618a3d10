// Precompressed copies of a built front end: next to every text file of dist/ (scripts,
// styles, pages, SVG, manifests) of at least 512 bytes, FILE.br (brotli, quality 11) and
// FILE.gz (gzip, level 9), each kept only when smaller. The server sends whichever the browser
// accepts (tower-http's ServeDir `precompressed_*`), so nothing is compressed per request.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';

const TEXT = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json', '.webmanifest', '.txt']);

export function compressDist(dir) {
  let files = 0, before = 0, after = 0;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) { walk(path); continue; }
      if (!TEXT.has(extname(name))) continue;
      const raw = readFileSync(path);
      for (const [ext, packed] of [
        ['.br', () => brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })],
        ['.gz', () => gzipSync(raw, { level: 9 })],
      ]) {
        rmSync(path + ext, { force: true });
        if (raw.length < 512) continue;
        const out = packed();
        if (out.length >= raw.length) continue;
        writeFileSync(path + ext, out);
        if (ext === '.br') { files++; before += raw.length; after += out.length; }
      }
    }
  };
  walk(dir);
  return { files, before, after };
}
