// The TUI's PSN sign-in in a real terminal (tmux): from the register dialog, "Sign in to PSN"
// against the fake sign-in service (127.0.0.103, RPTUI_PSN_AUTH_URL), a bad paste first, then the
// real one; the account id fills the field and pairs the demo console (`--simulate` on
// 127.0.0.104/105). A big terminal shows the QR code, which scans back to the sign-in address.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PSN_AUTH, signInUrl } from '../../src/proto-stack/psn.js';
import { useHarness } from '../helpers/cli.js';
import { FakePsn } from '../helpers/fake-psn.js';
import { decodeTerminalQr } from '../helpers/qr.js';
import { readSimEvents } from '../helpers/simulator.js';
import { startDemo, type Tmux } from './tmux.js';

const h = useHarness('each');
let term: Tmux | undefined;
afterEach(async () => {
  await term?.kill();
  term = undefined;
});

async function start(simHost: string, width: number, height: number) {
  const f = await FakePsn.start({
    host: '127.0.0.103',
    userId: '1234567890123456789',
    onlineId: 'couch-player',
  });
  h.defer(() => f.close());
  const { t, configDir, eventsPath } = startDemo(h, simHost, {
    env: { RPTUI_PSN_AUTH_URL: f.baseUrl },
    width,
    height,
  });
  term = t;
  const ready = await t.waitFor((s) => s.includes('demo ready'), 15_000);
  const pin = /registration PIN (\d{8})/.exec(ready)?.[1] ?? '';
  return { f, t, pin, psnFile: join(configDir, 'psn.json'), eventsPath };
}

/** The text inside the dialog's border, line by line, joined: wrapped text reads whole again. */
const dialogText = (screen: string) =>
  screen
    .split('\n')
    .map((l) => /│ (.*) │/.exec(l)?.[1].trimEnd() ?? '')
    .join('');

describe('PSN sign-in in the TUI', () => {
  it('80x24: the register dialog offers it, a bad paste is explained, the right one fills the account id and pairs', async () => {
    const { f, t, pin, psnFile, eventsPath } = await start('127.0.0.104', 80, 24);
    t.send('n');
    await t.waitFor('no PSN sign-in stored: [ Sign in to PSN ] finds your account id');
    t.type('127.0.0.104');
    t.send('Enter');
    t.type(pin);
    t.send('Down', 'Down', 'Down', 'Right'); // account id, name, [ Register ], then [ Sign in to PSN ]
    t.send('Enter');
    const url = signInUrl(f.baseUrl);
    const zoomOut = /a QR code shows in a terminal of 117x\d+ or more: zoom out/;
    // a capture can catch the dialog half drawn (a loaded machine): wait for all of it
    const dialog = await t.waitFor(
      (s) => s.includes('Sign in to PSN ─') && zoomOut.test(s) && dialogText(s).includes(url),
    );
    expect(dialogText(dialog)).toContain(url);
    expect(dialog).toMatch(zoomOut);

    // the address of the page before the code: the error and its hint stay in view, nothing stored
    t.type(PSN_AUTH.redirectUri);
    t.send('Enter');
    const bad = await t.waitFor('failed: the pasted address has no sign-in code');
    expect(bad).toMatch(/hint: after signing in, copy the whole address/);
    expect(existsSync(psnFile)).toBe(false);

    t.send('C-u');
    t.type(await f.signInInBrowser(url));
    t.send('Enter');
    const filled = await t.waitFor('account id from your PSN sign-in as "couch-player"');
    expect(filled).toContain('Register a console');
    expect(filled).toMatch(/Account id: FYHpffQQIhE=/);
    expect(filled).toContain('signed in to PSN as "couch-player": account id 1234567890123456789 filled in');
    expect(filled).not.toContain('[ Sign in to PSN ]'); // offered only while none is stored
    expect(statSync(psnFile).mode & 0o777).toBe(0o600);

    // the focus is on [ Register ] now (the PIN was typed): pair with the signed-in account
    t.send('Enter');
    await t.waitFor(/paired with PS5 "PS5-sim" at 127\.0\.0\.104; stored profile "PS5-sim-2"/, 15_000);
    const deadline = Date.now() + 5000;
    while (!readSimEvents(eventsPath).some((e) => e.event === 'paired' && e.accountId === 'FYHpffQQIhE=')) {
      if (Date.now() > deadline) throw new Error('the console never saw the signed-in account id');
      await new Promise((r) => setTimeout(r, 50));
    }

    // a second register dialog starts with the stored account id and no sign-in offer
    t.send('n');
    const again = await t.waitFor('account id from your PSN sign-in as "couch-player"');
    expect(again).toMatch(/Account id: FYHpffQQIhE=/);
  });

  it.each([
    { size: '120x50', where: 'beside', host: '127.0.0.105', width: 120, height: 50 },
    { size: '90x60', where: 'above', host: '127.0.0.106', width: 90, height: 60 },
  ])(
    '$size: the QR code shows $where the address and scans back to it; Esc cancels, nothing stored',
    async ({ where, host, width, height }) => {
      const { f, t, psnFile } = await start(host, width, height);
      t.send('n');
      await t.waitFor('[ Sign in to PSN ]');
      t.send('Down', 'Down', 'Down', 'Down', 'Right', 'Enter');
      const url = signInUrl(f.baseUrl);
      // a capture can catch the dialog half drawn (a loaded machine): wait for a code that scans
      const scans = (s: string) => {
        try {
          return decodeTerminalQr(s) === url;
        } catch {
          return false;
        }
      };
      const screen = await t.waitFor((s) => s.includes('Sign in to PSN ─') && scans(s));
      expect(decodeTerminalQr(screen)).toBe(url);
      const lines = screen.split('\n');
      const qrTop = lines.findIndex((l) => /█{20}/.test(l));
      const introRow = lines.findIndex((l) => l.includes('Open this address in a browser,'));
      // beside: the text starts on the QR code's first row; above: the intro is the row before it
      expect(introRow).toBe(where === 'beside' ? qrTop : qrTop - 1);
      t.send('Escape');
      await t.waitFor((s) => !s.includes('Sign in to PSN ─') && s.includes('Register a console'));
      expect(existsSync(psnFile)).toBe(false);
      expect(f.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
    },
  );
});
