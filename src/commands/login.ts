/**
 * `rptui login`, `rptui login --status`, `rptui logout`: the PSN sign-in that finds the account
 * id registration needs. The sign-in page opens in any browser (a phone, when rptui runs over
 * SSH: hence the QR code); the user pastes back the address the browser ends on.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { psnAuthServer, signInAndStore } from '../client/psn.js';
import { type PsnAccount, PsnAccountStore } from '../client/psn-account.js';
import { RptuiError, UsageError } from '../proto-stack/errors.js';
import { PSN_AUTH, signInUrl } from '../proto-stack/psn.js';
import { fitQr, qrSize } from '../ui/qr.js';
import { noColorRequested } from '../ui/theme.js';
import { spinner } from './discover.js';
import { jsonText, print } from './output.js';

interface LoginOpts {
  json?: boolean;
  status?: boolean;
  qr: boolean;
}

/** What `login` and `login --status` show: never the refresh token. */
function accountJson(a: PsnAccount, path: string) {
  return {
    signedIn: true,
    onlineId: a.onlineId ?? null,
    accountId: a.accountId,
    accountIdDecimal: a.accountIdDecimal,
    signedInAt: a.signedInAt,
    refreshTokenExpiresAt: a.refreshTokenExpiresAt ?? null,
    authServer: a.authServer,
    path,
  };
}

const who = (a: PsnAccount) => (a.onlineId ? `"${a.onlineId}"` : 'your PSN account');

function accountLines(a: PsnAccount, now = Date.now()): string[] {
  const lines = [`account id: ${a.accountIdDecimal} (base64 ${a.accountId})`];
  if (a.refreshTokenExpiresAt) {
    const expired = Date.parse(a.refreshTokenExpiresAt) <= now;
    lines.push(
      expired
        ? `refresh token: expired ${a.refreshTokenExpiresAt} (the account id stays valid; sign in again for a new token)`
        : `refresh token: stored, valid until ${a.refreshTokenExpiresAt}`,
    );
  } else if (a.refreshToken) lines.push('refresh token: stored');
  if (a.authServer !== PSN_AUTH.baseUrl) lines.push(`sign-in service: ${a.authServer}`);
  return lines;
}

/** The QR code of `url` if `out` is a terminal wide enough, else a line saying what it needs. */
function qrText(url: string, out: NodeJS.WriteStream): string[] {
  const columns = out.columns ?? 80;
  const rows = fitQr(url, columns);
  const need = qrSize(url);
  if (!rows) {
    return [
      `(a QR code of the address needs ${need.columns} columns: widen the terminal or zoom out, then`,
      'run rptui login again)',
      '',
    ];
  }
  const color = !noColorRequested();
  const out2 = rows.map((r) => (color ? `\x1b[97;40m${r}\x1b[0m` : r));
  if (rows.length + 9 > (out.rows ?? 24))
    out2.push(`(the QR code is ${rows.length} rows tall: to scan it, make the terminal taller or zoom out)`);
  return [...out2, ''];
}

/** One line from stdin (a terminal or a pipe); undefined at end of input. */
function readLine(prompt: string, out: NodeJS.WriteStream): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: out, terminal: Boolean(process.stdin.isTTY) });
  return new Promise((resolve, reject) => {
    let done = false;
    rl.once('line', (line) => {
      done = true;
      rl.close();
      if (!process.stdin.isTTY) out.write('\n'); // a terminal echoed the line and its newline
      resolve(line);
    });
    rl.once('close', () => {
      if (!done) resolve(undefined);
    });
    rl.once('SIGINT', () => {
      done = true;
      rl.close();
      out.write('\n');
      reject(new RptuiError('usage', 'sign-in cancelled; nothing stored', { exitCode: 130 }));
    });
    rl.setPrompt(prompt);
    rl.prompt();
  });
}

async function status(o: LoginOpts): Promise<void> {
  const store = PsnAccountStore.fromEnv();
  const a = await store.load();
  if (!a) {
    if (o.json) print(jsonText({ signedIn: false, path: store.path }));
    else print('not signed in to PSN (rptui login signs in and stores your account id)');
    process.exitCode = 1;
    return;
  }
  if (o.json) {
    print(jsonText(accountJson(a, store.path)));
    return;
  }
  print(`signed in to PSN as ${who(a)} since ${a.signedInAt}`);
  for (const l of accountLines(a)) print(l);
}

async function login(o: LoginOpts): Promise<void> {
  const store = PsnAccountStore.fromEnv();
  const url = signInUrl(psnAuthServer());
  // with --json, stdout carries only the result
  const out = o.json ? process.stderr : process.stdout;
  const say = (text = '') => out.write(`${text}\n`);
  say('Sign in to PSN to find the account id of the user who plays on the console.');
  say();
  if (o.qr && out.isTTY) for (const l of qrText(url, out)) say(l);
  say(`1. Open this address in a browser${o.qr && out.isTTY ? ' (or scan the QR code with a phone)' : ''}:`);
  say();
  say(url);
  say();
  say('2. Sign in. The browser then shows a page at remoteplay.dl.playstation.net');
  say('   (it may look empty or show an error: that is fine). Copy its whole address.');
  say('3. Paste it here and press Enter. From a phone, typing just the code is enough:');
  say('   the text after code= up to the next &, e.g. v5v0Nc. Codes last a few minutes.');
  const pasted = await readLine('address> ', out);
  if (pasted === undefined || pasted.trim() === '') {
    throw new UsageError(
      'no address was pasted; nothing stored',
      'run rptui login again and paste the address of the page the browser ends on after the sign-in',
    );
  }
  const spin = spinner('signing in to PSN...', !o.json);
  let account: PsnAccount;
  try {
    account = await signInAndStore(pasted, { store });
  } finally {
    spin.stop();
  }
  if (o.json) {
    print(jsonText(accountJson(account, store.path)));
    return;
  }
  print(`signed in to PSN as ${who(account)}`);
  for (const l of accountLines(account)) print(l);
  print(`stored in ${store.path}: rptui register and the TUI use this account id when none is given`);
}

export const register = (program: Command): void => {
  program
    .command('login')
    .description('sign in to PSN once to find and store your account id (for register)')
    .option('--status', 'show the stored sign-in (exit status 1 when there is none)')
    .option('--json', 'print the result as JSON (the sign-in steps go to stderr)')
    .option('--no-qr', 'do not draw a QR code of the sign-in address')
    .addHelpText(
      'after',
      `
Pairing a console needs the PSN account id of the user signed in on it. rptui finds it the way
Sony's Remote Play app does: you sign in on Sony's page in any browser and paste back the address
the browser ends on. Over SSH, scan the QR code with a phone (or copy the address), sign in there,
and type the code from the final address (code=..., six characters) here.

The account id, your online id and a refresh token (kept for internet play; never printed) are
stored in psn.json in the config directory, mode 0600. rptui logout forgets them.

Nothing else goes to Sony: the code from the address is traded for a token, and the token tells
the account's numeric id and online id.

RPTUI_PSN_AUTH_URL=<https://...> points the sign-in at another server: for tests and other
regions only.

Examples:
  rptui login
  rptui login --status
  rptui register --host 192.168.1.20 --pin 12345678     # uses the stored account id`,
    )
    .action(async (o: LoginOpts) => {
      if (o.status) await status(o);
      else await login(o);
    });

  program
    .command('logout')
    .description('forget the stored PSN sign-in (account id and refresh token)')
    .action(async () => {
      const store = PsnAccountStore.fromEnv();
      const gone = await store.clear();
      if (!gone) print('not signed in to PSN; nothing to forget');
      else
        print(
          `signed out: forgot the PSN sign-in of ${who(gone)} (${store.path} removed; existing profiles keep working)`,
        );
    });
};
