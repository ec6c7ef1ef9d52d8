// `rptui doctor` and `rptui doctor --json` as a user runs them: here as it is, and with no
// ffmpeg tools on PATH (each then MISSING with its fix).
import { describe, expect, it } from 'vitest';
import type { Check, DoctorReport } from '../../src/doctor/checks.js';
import { runCli, useHarness } from '../helpers/cli.js';

const h = useHarness('all');
const configDir = h.tempDir('rptui-cli-doctor-');
const doctor = (env: Record<string, string>, ...args: string[]) =>
  runCli(['doctor', '--simulate-host', '127.0.0.119', ...args], { configDir, env });
const check = (r: DoctorReport, id: string): Check | undefined =>
  r.sections.flatMap((s) => s.checks).find((c) => c.id === id);

describe('rptui doctor', () => {
  it('--json: every section, a summary that adds up, exit 0', async () => {
    const r = await doctor({}, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.sections.map((s) => s.title)).toEqual([
      'System',
      'Video',
      'Audio',
      'Input',
      'Terminal',
      'Network',
      'New profiles',
    ]);
    const n = report.sections.reduce((a, s) => a + s.checks.length, 0);
    expect(Object.values(report.summary).reduce((a, b) => a + b, 0)).toBe(n);
    expect(check(report, 'sim-ports')?.detail).toContain('127.0.0.119');
    // stdout is a pipe here: the terminal is not asked, and that is said
    expect(check(report, 'kitty-keyboard')?.detail).toBe('not asked (stdin/stdout is not a terminal)');
  });

  it('with no ffplay or ffmpeg on PATH: both MISSING, with the apt command', async () => {
    const env = { PATH: '/nonexistent', RPTUI_FFPLAY: '', RPTUI_FFMPEG: '' };
    const json = JSON.parse((await doctor(env, '--json')).stdout) as DoctorReport;
    expect(check(json, 'ffplay')).toMatchObject({ status: 'missing', fix: 'sudo apt install -y ffmpeg' });
    expect(check(json, 'decode-h264')?.status).toBe('not-needed');
    const text = await doctor(env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}MISSING {4}ffplay {16}ffplay not found on PATH/m);
    expect(text.stdout).toMatch(/^ {35}fix: sudo apt install -y ffmpeg$/m);
    expect(text.stdout).toMatch(
      /^\d+ ok, [1-9]\d* missing, \d+ warnings, \d+ not needed: the fix lines say what to run$/m,
    );
  });
});
