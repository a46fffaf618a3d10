// Browser-test support for the photo and video-call components (issue 24), shared by the
// store-app and widget suites: builds the two test benches (store-app/tests/media-lab,
// widget/tests/media-lab) with esbuild, serves them from the real server's origin (so their
// API calls are same-origin, as in the apps), relays call signals between two pages the way the
// chat will, and makes real JPEG bytes with Chromium itself.
import { join } from 'node:path';
import { repoRoot } from './server.mjs';

export const FAKE_MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'];

export async function buildLabs(esbuild) {
  const common = { bundle: true, write: false, format: 'iife', target: ['es2020'], logLevel: 'warning', legalComments: 'none' };
  const store = await esbuild.build({
    ...common,
    entryPoints: [join(repoRoot, 'store-app', 'tests', 'media-lab', 'lab.tsx')],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    nodePaths: [join(repoRoot, 'store-app', 'node_modules')],
  });
  const widget = await esbuild.build({ ...common, entryPoints: [join(repoRoot, 'widget', 'tests', 'media-lab', 'lab.ts')] });
  return { store: store.outputFiles[0].text, widget: widget.outputFiles[0].text };
}

const page = (body, { lang = 'en', head = '' } = {}) => `<!doctype html><html lang="${lang}" dir="${lang === 'fa' ? 'rtl' : 'ltr'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${head}<title>media lab</title></head><body>${body}</body></html>`;

/** Open the store-app bench at `${base}/app/media-lab` signed in with `token`. */
export async function openStoreLab(ctx, base, js, token, { conversation = '', lang = 'en' } = {}) {
  await ctx.addInitScript(([tk, l]) => {
    localStorage.setItem('fw.app.token', tk);
    localStorage.setItem('fw.app.lang', l);
  }, [token, lang]);
  const url = `${base}/app/media-lab?conversation=${encodeURIComponent(conversation)}`;
  const html = page(`<div id="root"></div><script>${js.replace(/<\/script/g, '<\\/script')}</script>`,
    { lang, head: '<link rel="stylesheet" href="/app/app.css"><style>.lab{display:flex;flex-direction:column;min-height:100dvh}.lab .transcript{flex:1;padding:1rem;display:flex;flex-direction:column;gap:.6rem}</style>' });
  await ctx.route(url, (r) => r.fulfill({ contentType: 'text/html; charset=utf-8', body: html }));
  const p = await ctx.newPage();
  p.on('pageerror', (e) => { (p.errors ||= []).push(String(e)); });
  await p.goto(url);
  await p.waitForFunction(() => !!window.__lab);
  return p;
}

/** Open the widget bench at `${base}/shop/media-lab` as the shopper with `token`. */
export async function openWidgetLab(ctx, base, js, { merchant, token, conversation = '', lang = 'en', dark = false }) {
  const q = new URLSearchParams({ merchant, token, conversation, lang, dark: dark ? '1' : '0' });
  const url = `${base}/shop/media-lab?${q}`;
  const html = page(`<div id="root"></div><script>${js.replace(/<\/script/g, '<\\/script')}</script>`,
    { lang, head: `<style>body{margin:0;background:${dark ? '#0b0d10' : '#f4f4f4'}}</style>` });
  await ctx.route(url, (r) => r.fulfill({ contentType: 'text/html; charset=utf-8', body: html }));
  const p = await ctx.newPage();
  p.on('pageerror', (e) => { (p.errors ||= []).push(String(e)); });
  await p.goto(url);
  await p.waitForFunction(() => !!window.__lab);
  return p;
}

/** Carry call signals between two pages (what the chat's socket will do). */
export async function relaySignals(a, b, log = []) {
  await a.exposeFunction('__signalOut', (json) => { log.push(['a→b', JSON.parse(json).kind]); b.evaluate((j) => window.__signalIn(j), json).catch(() => {}); });
  await b.exposeFunction('__signalOut', (json) => { log.push(['b→a', JSON.parse(json).kind]); a.evaluate((j) => window.__signalIn(j), json).catch(() => {}); });
  return log;
}

/** A real JPEG (a screenshot of a small colourful page), `w`×`h` pixels. */
export async function jpegBytes(browser, w = 640, h = 480) {
  const ctx = await browser.newContext({ viewport: { width: w, height: h } });
  const p = await ctx.newPage();
  await p.setContent('<body style="margin:0;background:linear-gradient(135deg,#0f5f4a,#f3c14b 60%,#d93025)"><h1 style="font:48px sans-serif;color:#fff;padding:40px">Oak shelf, 80 cm</h1></body>');
  const buf = await p.screenshot({ type: 'jpeg', quality: 85 });
  await ctx.close();
  return buf;
}

/** Frames of `selector`'s <video> presented in `ms` (requestVideoFrameCallback). */
export async function framesPresented(page, selector, ms = 1500) {
  return page.evaluate(async ([sel, wait]) => {
    const find = (root) => root.querySelector(sel) || [...root.querySelectorAll('*')].map((e) => e.shadowRoot && find(e.shadowRoot)).find(Boolean);
    const v = find(document);
    if (!v || !v.requestVideoFrameCallback) return -1;
    // Present is not enough: it must be playing (give it up to 5 s to start).
    for (let i = 0; i < 50 && (v.paused || v.videoWidth === 0); i++) await new Promise((r) => setTimeout(r, 100));
    if (v.paused || v.videoWidth === 0) return 0;
    let n = 0;
    const tick = () => { n++; v.requestVideoFrameCallback(tick); };
    v.requestVideoFrameCallback(tick);
    await new Promise((r) => setTimeout(r, wait));
    return n;
  }, [selector, ms]);
}
