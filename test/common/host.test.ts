// The real Host: /etc/group parsing, commands, and the bind probe (on this task's loopback addresses).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseGroupFile, realHost } from '../../src/common/host.js';

describe('the real machine', () => {
  it('names the groups of /etc/group and those that list a user', () => {
    const text = 'root:x:0:\ninput:x:101:pi,kodi\nvideo:x:44:pi\naudio:x:29:\nbroken line\n';
    const g = parseGroupFile(text, 'pi');
    expect(g.byGid.get(101)).toBe('input');
    expect(g.byGid.get(44)).toBe('video');
    expect(g.memberOf).toEqual(['input', 'video']);
    expect(parseGroupFile(text, 'kodi').memberOf).toEqual(['input']);
  });

  it('runs commands without a shell, and reports one that does not exist', async () => {
    const host = realHost();
    const ok = await host.run(process.execPath, ['-e', 'process.stdout.write("hi"); process.exit(3)']);
    expect(ok).toMatchObject({ code: 3, stdout: 'hi' });
    const none = await host.run('/nonexistent/tool', ['-version']);
    expect(none).toMatchObject({ code: null, error: 'ENOENT' });
    const slow = await host.run(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], 200);
    expect(slow.code).toBeNull();
    expect(slow.error).toBe('no answer within 200 ms');
  });

  it('tells a free port from a taken one', async () => {
    const host = realHost();
    expect(await host.tryBind('udp', '127.0.0.112', 0)).toBeUndefined();
    const server = createServer();
    await new Promise<void>((r) => server.listen({ host: '127.0.0.112', port: 0 }, r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await host.tryBind('tcp', '127.0.0.112', port)).toBe('EADDRINUSE');
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await host.tryBind('tcp', '127.0.0.112', port)).toBeUndefined();
    const u = host.user();
    expect(u.name.length).toBeGreaterThan(0);
    expect(u.groups.length).toBeGreaterThan(0);
  });
});
