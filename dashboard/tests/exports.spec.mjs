import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { apiKey, csvObjects, dash, demoStores, Expert, expectNoSeriousViolations, fullChat, login, parseCsv, session, startDemoServer } from './helpers.mjs';

test.use({ timezoneId: 'UTC' });
test.describe.configure({ mode: 'serial' });

let fw, admin, expert, stores;
test.beforeAll(async () => {
  fw = await startDemoServer();
  admin = await session(fw, 'admin@demo.example');
  stores = await demoStores(admin);
  expert = await Expert.connect(fw, 'expert1@demo.example');
  const s = stores['Stockholm Flagship'];
  // Three chats; one reply has a line break and a quote, which CSV must keep inside one field.
  await fullChat(fw, expert, { store_id: s.id, department_id: s.dept['TV & Audio'], text: 'Is the 55" OLED in stock?', reply: 'Yes!\nTwo left, "while stocks last".', rating: 5 });
  await fullChat(fw, expert, { store_id: s.id, department_id: s.dept['Kitchen'], text: 'Do you sell knives?', rating: 3 });
  await fullChat(fw, expert, { store_id: s.id, department_id: s.dept['Furniture'], text: 'Sofa delivery?' });
});
test.afterAll(async () => { expert?.close(); await fw?.stop(); });

async function download(page) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  return { dl, text: readFileSync(await dl.path(), 'utf8') };
}

test('a transcripts export downloads with a progress bar, and its rows match X-Row-Count', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/exports');
  await expect(page.locator('main h1')).toHaveText('Exports');
  await page.getByLabel('Transcripts').check();
  await page.getByLabel('Today').check();
  await expect(page).toHaveURL(/kind=transcripts.*range=today/);
  await expect(page.getByLabel('One row per', { exact: true })).toHaveCount(0); // grain is for metrics only

  const { dl, text } = await download(page);
  expect(dl.suggestedFilename()).toMatch(/^floorwalker-transcripts-.*\.csv$/);
  const progress = page.locator('#export-bar');
  await expect(page.locator('.export-progress')).toContainText('Downloaded');
  const total = Number(await page.locator('.progress-text').getAttribute('data-total'));
  const rows = Number(await page.locator('.progress-text').getAttribute('data-rows'));
  const records = parseCsv(text).length - 1;
  expect(total).toBeGreaterThan(3);
  expect(rows).toBe(total);
  expect(records).toBe(total);
  await expect(progress).toHaveAttribute('max', String(total));
  await expect(progress).toHaveAttribute('value', String(total));
  await expect(page.locator('.progress-text')).toContainText(`Rows: ${total} of ${total}`);
  // The multi-line message is one field of one record.
  expect(csvObjects(text).some((r) => Object.values(r).includes('Yes!\nTwo left, "while stocks last".'))).toBe(true);

  // The server's header says the same, on a request of our own with the same query.
  const curl = await page.locator('.code-block code').textContent();
  const url = curl.match(/"(http[^"]+)"/)[1];
  const r = await admin.raw('GET', url.replace(/^.*\/api\/v1/, ''));
  expect(r.status).toBe(200);
  expect(Number(r.headers.get('x-row-count'))).toBe(total);
});

test('the conversations export and the curl command work with an API key', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/exports?kind=conversations&range=today');
  await expect(page.getByLabel('Conversations')).toBeChecked();
  const { text } = await download(page);
  const rows = csvObjects(text);
  expect(rows).toHaveLength(3);
  await expect(page.locator('.progress-text')).toContainText('Rows: 3 of 3');

  const curl = await page.locator('.code-block code').textContent();
  expect(curl).toContain('Authorization: Bearer $FLOORWALKER_API_KEY');
  expect(curl).toContain('/api/v1/exports/conversations.csv?');
  const secret = await apiKey(admin, 'Exports');
  const url = curl.match(/"(http[^"]+)"/)[1];
  const r = await fetch(url, { headers: { authorization: 'Bearer ' + secret } });
  expect(r.status).toBe(200);
  expect(r.headers.get('x-row-count')).toBe('3');
  expect(csvObjects(await r.text())).toHaveLength(3);
});

test('metrics by expert per hour, and a download can be cancelled', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/exports?range=today');
  await page.getByLabel('One row per', { exact: true }).selectOption('hour');
  await page.getByLabel('Split by').selectOption('expert');
  const { text } = await download(page);
  const rows = csvObjects(text);
  const sara = rows.filter((r) => r.expert === 'Sara Lind');
  expect(sara.reduce((n, r) => n + Number(r.claimed), 0)).toBe(3);
  // Hours in the merchant's zone (the demo's first store: Stockholm), with their UTC offset.
  expect(rows.every((r) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00[+-]\d{2}:\d{2}$/.test(r.period_start))).toBe(true);

  // A server that never answers: Cancel stops the download.
  let release;
  await page.route('**/api/v1/exports/**', (route) => new Promise((r) => { release = () => r(route.abort()); }));
  await page.getByRole('button', { name: 'Download CSV' }).click();
  await expect(page.locator('.export-progress')).toContainText('Downloading…');
  await page.getByRole('button', { name: 'Cancel download' }).click();
  await expect(page.locator('.export-progress')).toContainText('Download cancelled');
  await expect(page.getByRole('button', { name: 'Download CSV' })).toBeEnabled();
  release?.();
  await expectNoSeriousViolations(page, 'exports');
});
