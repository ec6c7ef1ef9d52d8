/**
 * Protocol generation of a console ("target"), as the references number it:
 * 800 = PS4 fw < 7 (RP-Version 8.0), 900 = PS4 7.x (9.0), 1000 = PS4 fw >= 8 (10.0),
 * 1000000 = PS5 of unknown firmware, 1000100 = PS5 (1.0).
 */
import { ParseError } from './errors.js';

export type Target = 800 | 900 | 1000 | 1000000 | 1000100;
export type ConsoleKind = 'PS4' | 'PS5';

export const isPs5 = (t: Target): boolean => t >= 1000000;
export const consoleKind = (t: Target): ConsoleKind => (isPs5(t) ? 'PS5' : 'PS4');
/** Old PS4 firmware speaks the `/sce/rp/...` paths and the echo-table crypto. */
export const isPre10 = (t: Target): boolean => t === 800 || t === 900;

export function rpVersionString(t: Target): string {
  switch (t) {
    case 800:
      return '8.0';
    case 900:
      return '9.0';
    case 1000:
      return '10.0';
    case 1000000:
    case 1000100:
      return '1.0';
  }
}

/** Parses an RP-Version header value; `ps5` decides what "1.0" means. Unknown values throw. */
export function parseRpVersion(text: string, ps5: boolean): Target {
  switch (text.trim()) {
    case '8.0':
      return 800;
    case '9.0':
    case '5.0': // some PS4s answer 5.0 and accept 9.0
      return 900;
    case '10.0':
      return 1000;
    case '1.0':
      if (ps5) return 1000100;
  }
  throw new ParseError('rp-version', `unknown RP-Version "${text.slice(0, 20)}"`);
}

/** Target from discovery: PS5 iff its DDP protocol version is 00030010; then system-version. */
export function targetFromDiscovery(ps5: boolean, systemVersion: string): Target {
  const v = Number.parseInt(systemVersion, 10);
  if (ps5) return Number.isFinite(v) && v >= 8050001 ? 1000100 : 1000000;
  if (!Number.isFinite(v) || v <= 0) return 1000;
  if (v >= 8000000) return 1000;
  if (v >= 7000000) return 900;
  return 800;
}
