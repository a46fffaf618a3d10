// Screenshots of the outbound pages for a human look: node tests/outbound-shots.mjs [outDir]
import { chromium } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { startServer } from '../../testing/server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, dash, login, session } from './helpers.mjs';

const out = process.argv[2] || '/tmp/outbound-shots';
mkdirSync(out, { recursive: true });
const fw = await startServer({ env: { FLOORWALKER_DEMO: 'true', FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS: '1', FLOORWALKER_OUTBOUND_SPEEDUP: '1000' } });
const api = await session(fw, 'admin@demo.example');
// An endpoint nobody answers (a closed port): its deliveries fail and retry.
const ep = await api('POST', '/webhooks', { url: 'http://127.0.0.1:9/hooks', description: 'Order system' });
await api('POST', `/webhooks/${ep.endpoint.id}/test`);
await api('POST', '/team/invitations', { emails: ['kim@example.com'], language: 'fa' });
await new Promise((r) => setTimeout(r, 1500));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const outbox = await api('GET', '/outbox?kind=email');
const fa = outbox.items.find((x) => x.recipient === 'kim@example.com');
const pages = ['integrations', `integrations/webhooks/${ep.endpoint.id}`, 'integrations/outbox', `integrations/outbox/${fa.id}`, 'settings/messaging', 'team'];
try {
  for (const vp of [{ name: 'desktop', width: 1280, height: 800 }, { name: 'phone', width: 390, height: 844 }]) {
    for (const [lang, scheme] of [['en', 'light'], ['fa', 'light'], ['en', 'dark']]) {
      const tag = `${vp.name}-${lang}-${scheme}`;
      const ctx = await browser.newContext({ viewport: vp, colorScheme: scheme, locale: lang });
      const page = await ctx.newPage();
      await login(page, fw, 'admin@demo.example', { lang });
      for (const p of pages) {
        await page.goto(dash(fw) + '#/' + p);
        await page.waitForTimeout(600);
        await page.screenshot({ path: `${out}/${tag}-${p.replace(/[/?=]/g, '_').slice(0, 40)}.png`, fullPage: vp.name !== 'phone' });
      }
      await page.goto(dash(fw) + '#/team');
      await page.getByRole('button').filter({ has: page.locator('svg') }).first().waitFor();
      await page.locator('.page-actions button').first().click();
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${out}/${tag}-invite-dialog.png` });
      await ctx.close();
    }
  }
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await login(page, fw, 'operator@demo.example');
  await page.goto(dash(fw) + '#/outbox');
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${out}/operator-outbox.png`, fullPage: true });
} finally {
  await browser.close();
  await fw.stop();
}
