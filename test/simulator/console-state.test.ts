// The simulated console's memory of paired clients: like a console, it keeps every registered
// device, several under one PSN account, each with its own keys, across restarts (--state).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleGate } from '../../src/proto-stack/consolesession.js';
import { formatSessionInitRequest } from '../../src/proto-stack/session.js';
import { ConsoleState } from '../../src/simulator/console-state.js';
import { useHarness } from '../helpers/cli.js';

const h = useHarness('all');

const device = (registKey: string, morning: string) => ({
  accountId: '1234567890123456789',
  registKey,
  morning,
  pairedAt: '2026-12-04T00:00:00Z',
});

describe('ConsoleState pairings', () => {
  it('keeps two devices paired under one account, each with its keys, and both may open a session', async () => {
    const path = join(h.tempDir(), 'console.json');
    const st = await ConsoleState.open(path, { kind: 'PS5' });
    await st.addPairing(device('aa11bb22', '00112233445566778899aabbccddeeff'));
    await st.addPairing(device('cc33dd44', 'ffeeddccbbaa99887766554433221100'));
    // the same device pairing again replaces only its own entry
    await st.addPairing(device('AA11BB22', '0123456789abcdef0123456789abcdef'));
    const again = await ConsoleState.open(path, { kind: 'PS5' });
    expect(again.data.paired.map((p) => [p.registKey.toLowerCase(), p.morning])).toEqual([
      ['cc33dd44', 'ffeeddccbbaa99887766554433221100'],
      ['aa11bb22', '0123456789abcdef0123456789abcdef'],
    ]);
    const gate = new ConsoleGate({ target: 1000100 });
    for (const key of ['aa11bb22', 'cc33dd44']) {
      const head = formatSessionInitRequest({ target: 1000100, host: '127.0.0.2', registKeyText: key });
      expect(gate.sessionInit(head, '10.0.0.3', again.data.paired, false, 0).kind).toBe('nonce');
    }
  });
});
