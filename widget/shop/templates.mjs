import { createHash } from 'node:crypto';
import { products, svgFor, priceText } from './products.mjs';

/** Each page's script, as a file of its own (file name → code): the shop is served with a
 * Content-Security-Policy that allows scripts from the server only, never inline ones. build.mjs
 * writes them next to the pages (`writePageScripts`). */
export const pageScripts = new Map();

function scriptFile(code) {
  const name = `js/page-${createHash('sha256').update(code).digest('hex').slice(0, 12)}.js`;
  pageScripts.set(name, code);
  return name;
}

/** Write every page's script into the shop's output folder. */
export function writePageScripts(shopDir, write, mkdir) {
  mkdir(`${shopDir}/js`, { recursive: true });
  for (const [name, code] of pageScripts) write(`${shopDir}/${name}`, code);
}

const MERCHANT = '__FLOORWALKER_MERCHANT_ID__';
const LOGO = '<svg viewBox="0 0 40 40" aria-hidden="true"><rect width="40" height="40" rx="10" fill="#0b5d4b"/><path d="M10 28V12l10 10 10-10v16" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/></svg>';

function page({ title, body, extraHead = '', script = '' }) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Nordhem Home &amp; Electronics</title>
<link rel="icon" href="img/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="shop.css">
${extraHead}<script src="${scriptFile(`window.Floorwalker=window.Floorwalker||function(){(Floorwalker.q=Floorwalker.q||[]).push(arguments)};${script}`)}"></script>
<script async src="/widget.js" data-merchant="${MERCHANT}"></script>
</head>
<body>
<div class="bar">Free delivery over 500 kr · Ask our in-store experts live, every day</div>
<header class="site">
  <a class="logo" href="index.html">${LOGO}<span>NORDHEM<small>Home &amp; Electronics</small></span></a>
  <nav class="main" aria-label="Departments"><a href="index.html#tv">TV &amp; Audio</a><a href="index.html#kitchen">Kitchen</a><a href="index.html#furniture">Furniture</a><a href="index.html#stores">Stores</a></nav>
  <div class="tools"><span class="search">Search</span><a class="cart" href="#">Cart (0)</a></div>
</header>
${body}
<footer class="site"><span>© 2026 Nordhem Home &amp; Electronics AB · Drottninggatan 50, Stockholm</span><span>A Floorwalker demo shop</span></footer>
</body>
</html>
`;
}

export function indexPage() {
  const cards = products.map((p) => `<a class="card" href="product-${p.slug}.html">${svgFor(p)}<div class="body"><div class="cat">${p.category}</div><h3>${p.name}</h3><div class="price">${priceText(p)}</div></div></a>`).join('\n');
  return page({
    title: 'Home',
    body: `<section class="hero"><div><h1>Good things for a Nordic home.</h1><p>Televisions, coffee machines and furniture, chosen by people who work on our shop floor, and who will answer your questions live, right here.</p><a class="btn" href="product.html">Shop the new Aurora OLED</a></div><div class="art">${svgFor(products[0])}</div></section>
<main><h2 class="section" id="tv">Popular right now</h2><div class="grid">
${cards}
</div>
<div class="usp" id="stores"><div><strong>Two stores, real experts</strong>Stockholm Flagship and Berlin Mitte.</div><div><strong>30-day returns</strong>In store or by post.</div><div><strong>Delivery in 1–3 days</strong>Free over 500 kr.</div></div>
</main>`,
  });
}

export function productPage(p) {
  const product = { id: p.id, name: p.name, price: p.price, currency: p.currency, image_url: `img/${p.slug}.svg`, url: `product-${p.slug}.html` };
  // Product URLs are made absolute against the page, so the expert's card links back here.
  const ctx = `Floorwalker('setContext',{department:${JSON.stringify(p.category)},product:Object.assign(${JSON.stringify(product)},{image_url:new URL(${JSON.stringify(product.image_url)},location.href).href,url:new URL(${JSON.stringify(product.url)},location.href).href})});`;
  return page({
    title: p.name,
    script: ctx + `document.addEventListener('DOMContentLoaded',function(){document.querySelector('[data-ask]').addEventListener('click',function(){Floorwalker('open')})});`,
    body: `<main><div class="crumbs"><a href="index.html">Home</a> / ${p.category} / ${p.name}</div>
<div class="pdp"><div class="gallery">${svgFor(p)}</div>
<div><h1>${p.name}</h1><div class="price">${priceText(p)}</div><p class="stock">● In stock in Stockholm Flagship</p><p>${p.blurb}</p>
<ul><li>2-year warranty, 30-day returns</li><li>Delivery in 1–3 working days</li><li>Collect in store today</li></ul>
<div class="actions"><button class="btn" type="button">Add to cart</button><button class="btn alt" type="button" data-ask>Ask an expert</button></div>
<div class="ask"><p><strong>Not sure it fits?</strong> Our experts are in the store right now and can check it for you.</p></div>
</div></div></main>`,
  });
}

/** The shop's icon (the logo mark), served as img/favicon.svg. */
export const FAVICON = LOGO.replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" ');

export { products, svgFor };
