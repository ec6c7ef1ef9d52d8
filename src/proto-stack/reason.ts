/**
 * RP-Application-Reason: the code a console puts in a refusal (registration, session init).
 * Each maps to what the user should understand and do.
 */
export interface ReasonInfo {
  code: number;
  name: string;
  message: string;
  hint: string;
}

const REASONS: ReasonInfo[] = [
  {
    code: 0x80108b09,
    name: 'regist-failed',
    message: 'the console refused the registration (wrong PIN, or pairing is not open)',
    hint: 'on the console open Settings > Remote Play Connection Settings > Add Device (PS4) or Settings > System > Remote Play > Link Device (PS5), then use the 8-digit PIN it shows within its time limit',
  },
  {
    code: 0x80108b02,
    name: 'invalid-psn-id',
    message: 'the console does not know this PSN account id',
    hint: 'use the account id of a PSN user who is signed in on that console (rptui register --help explains where to find it)',
  },
  {
    code: 0x80108b10,
    name: 'in-use',
    message: 'Remote Play is already in use by another client',
    hint: 'disconnect the other Remote Play client (phone, PC) and try again',
  },
  {
    code: 0x80108b15,
    name: 'crashed',
    message: 'Remote Play crashed on the console',
    hint: 'restart the console, then connect again',
  },
  {
    code: 0x80108b11,
    name: 'rp-version',
    message: 'the console speaks another Remote Play protocol version',
    hint: 'update the console firmware, or re-register it so rptui learns its current version',
  },
  {
    code: 0x80108bff,
    name: 'unknown',
    message: 'the console refused with an unknown reason',
    hint: 'make sure Remote Play is enabled on the console (Settings > Remote Play) and that it is not in an update or a menu that blocks streaming',
  },
];

export function reasonInfo(code: number): ReasonInfo {
  return (
    REASONS.find((r) => r.code === code) ?? {
      code,
      name: 'unrecognised',
      message: `the console refused with reason 0x${code.toString(16)}`,
      hint: 'make sure Remote Play is enabled on the console and try again; run with --debug to see the exchange',
    }
  );
}

/** Parses the header value (hex, with or without 0x). Returns undefined for anything else. */
export function parseReason(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(?:0x)?([0-9a-fA-F]{1,8})\s*$/.exec(value);
  return m ? Number.parseInt(m[1], 16) : undefined;
}

export const REASON = {
  registFailed: 0x80108b09,
  invalidPsnId: 0x80108b02,
  inUse: 0x80108b10,
  crashed: 0x80108b15,
  rpVersion: 0x80108b11,
  unknown: 0x80108bff,
} as const;
