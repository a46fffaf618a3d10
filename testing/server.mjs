// Starts a real `floorwalker serve` for browser tests: a fresh SQLite file, the demo merchant,
// port 0. Shared by the widget, store-app and dashboard test suites.
//
//   import { startServer } from '../../testing/server.mjs';
//   const fw = await startServer();            // { url, password, merchantId, stop() }
//   ...
//   await fw.stop();
//
// The binary is $FLOORWALKER_BIN, else $CARGO_TARGET_DIR/debug/floorwalker, else
// <repo>/target/debug/floorwalker. Build it first with `cargo build -p floorwalker`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_PASSWORD = 'demo-password-for-tests';

export function floorwalkerBin() {
  const candidates = [
    process.env.FLOORWALKER_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug', 'floorwalker'),
    join(repoRoot, 'target', 'debug', 'floorwalker'),
  ].filter(Boolean);
  const bin = candidates.find((c) => existsSync(c));
  if (!bin) throw new Error(`floorwalker binary not found; tried ${candidates.join(', ')}`);
  return bin;
}

export async function startServer({ demo = true, env = {}, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fw-e2e-'));
  const child = spawn(floorwalkerBin(), ['serve', '--log-json', ...args], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FLOORWALKER_ADDR: '127.0.0.1:0',
      DATABASE_URL: `sqlite://${join(dir, 'fw.db')}`,
      FLOORWALKER_DEMO: demo ? '1' : '0',
      FLOORWALKER_DEMO_PASSWORD: DEMO_PASSWORD,
      FLOORWALKER_WEB_DIR: repoRoot,
      FLOORWALKER_LOGIN_PER_MINUTE: '1000',
      RUST_LOG: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let merchantId = null;
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${log}`)), 60_000);
    const onData = (buf) => {
      log += buf.toString();
      const m = log.match(/Merchant ID: (mer_[0-9a-f]{32})/);
      if (m) merchantId = m[1];
      for (const line of log.split('\n')) {
        if (!line.includes('floorwalker listening')) continue;
        try {
          const addr = JSON.parse(line).addr;
          clearTimeout(timer);
          ok(`http://${addr}`);
          return;
        } catch { /* partial line */ }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited ${code}:\n${log}`)); });
  });
  return {
    url,
    password: DEMO_PASSWORD,
    merchantId,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
