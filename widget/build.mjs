// Builds dist/: widget.js (the loader, served at /widget.js), panel.js (the lazily loaded chat
// panel, served at /widget/panel.js) and shop/ (the sample shop, served at /shop/).
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressDist } from '../web-shared/compress.mjs';
import { FAVICON, indexPage, productPage, products, svgFor } from './shop/templates.mjs';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'shop', 'img'), { recursive: true });

const common = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome87', 'firefox90', 'safari14'],
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
};

const panel = await esbuild.build({ ...common, entryPoints: [join(root, 'src/panel/panel.ts')], outfile: join(out, 'panel.js') });
const panelCode = panel.outputFiles[0].contents;
const version = createHash('sha256').update(panelCode).digest('hex').slice(0, 10);
writeFileSync(join(out, 'panel.js'), panelCode);

const loader = await esbuild.build({
  ...common,
  entryPoints: [join(root, 'src/loader.ts')],
  outfile: join(out, 'widget.js'),
  define: { PANEL_VERSION: JSON.stringify(version) },
});
writeFileSync(join(out, 'widget.js'), loader.outputFiles[0].contents);

// The sample shop.
copyFileSync(join(root, 'shop', 'shop.css'), join(out, 'shop', 'shop.css'));
writeFileSync(join(out, 'shop', 'index.html'), indexPage());
writeFileSync(join(out, 'shop', 'product.html'), productPage(products[0]));
writeFileSync(join(out, 'shop', 'img', 'favicon.svg'), FAVICON);
for (const p of products) {
  writeFileSync(join(out, 'shop', `product-${p.slug}.html`), productPage(p));
  writeFileSync(join(out, 'shop', 'img', `${p.slug}.svg`), svgFor(p));
}
console.log(`widget: built dist/widget.js (${loader.outputFiles[0].contents.length} B), dist/panel.js (${panelCode.length} B, v=${version}), dist/shop/`);
compressDist(out);
