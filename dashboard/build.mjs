// Bundles the dashboard into dist/: index.html, app.js, app.css (minified, relative URLs,
// because the server mounts it under /dashboard/).
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { compressDist } from '../web-shared/compress.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const watch = process.argv.includes('--watch');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
copyFileSync(join(root, 'src', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'src', 'favicon.svg'), join(out, 'favicon.svg'));

const options = {
  entryPoints: [
    { in: join(root, 'src', 'main.tsx'), out: 'app' },
    { in: join(root, 'src', 'app.css'), out: 'app' },
  ],
  outdir: out,
  bundle: true,
  format: 'esm',
  charset: 'utf8',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  minify: !watch,
  sourcemap: false,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'info',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
  // app.js and app.css get a version in the page's URLs so browsers may keep them for good
  // (the chunks carry a hash in their names already); then the precompressed copies.
  const hash = createHash('sha256');
  for (const f of ['app.js', 'app.css']) hash.update(readFileSync(join(out, f)));
  const version = hash.digest('hex').slice(0, 12);
  const page = readFileSync(join(out, 'index.html'), 'utf8');
  writeFileSync(join(out, 'index.html'), page.replace('./app.js"', `./app.js?v=${version}"`).replace('./app.css"', `./app.css?v=${version}"`));
  compressDist(out);
}
