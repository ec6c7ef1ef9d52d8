/**
 * Colours, or none: NO_COLOR (https://no-color.org: any non-empty value) turns every colour off,
 * and the UI then marks selection and state with inverse video and words only, never colour alone.
 */
export interface Theme {
  color: boolean;
  /** Wraps text in blessed tags for a role; plain text when colour is off. */
  ok(text: string): string;
  warn(text: string): string;
  bad(text: string): string;
  dim(text: string): string;
  accent(text: string): string;
  /** Inverse (works without colour too). */
  selected(text: string): string;
  bold(text: string): string;
  /** Widget style objects for blessed. */
  barStyle: { fg?: string; bg?: string; inverse?: boolean };
  borderStyle: { fg?: string };
  dialogStyle: { fg?: string; bg?: string; border: { fg?: string } };
}

export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

const wrap = (tag: string) => (text: string) => `{${tag}}${text}{/${tag}}`;
const plain = (text: string) => text;

export function makeTheme(color: boolean): Theme {
  return {
    color,
    ok: color ? wrap('green-fg') : plain,
    warn: color ? wrap('yellow-fg') : plain,
    bad: color ? wrap('red-fg') : plain,
    dim: color ? wrap('gray-fg') : plain,
    accent: color ? wrap('cyan-fg') : plain,
    selected: wrap('inverse'),
    bold: wrap('bold'),
    barStyle: color ? { fg: 'black', bg: 'cyan' } : { inverse: true },
    borderStyle: color ? { fg: 'cyan' } : {},
    dialogStyle: color ? { fg: 'white', bg: 'black', border: { fg: 'yellow' } } : { border: {} },
  };
}
