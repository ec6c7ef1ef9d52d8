/**
 * Physical pads -> the PlayStation layout: which family a device belongs to, dead zones, and the
 * scaling of raw stick / trigger values to the console's ranges; and why an optional pad package
 * did not load.
 */
import { STICK_MAX, STICK_MIN } from '../../proto-stack/controller.js';

export type PadFamily = 'dualshock4' | 'dualsense' | 'xbox' | 'generic';

export const SONY_VENDOR = 0x054c;
export const MICROSOFT_VENDOR = 0x045e;
export const DS4_PRODUCTS = new Set([0x05c4, 0x09cc, 0x0ba0]);
export const DUALSENSE_PRODUCTS = new Set([0x0ce6, 0x0df2]);
/** Xbox 360 wired pads report triggers 0..255; newer ones 0..1023. */
export const XBOX360_PRODUCTS = new Set([0x028e, 0x028f, 0x0719]);

export function padFamily(vendor: number, product: number, name = ''): PadFamily {
  if (vendor === SONY_VENDOR && DS4_PRODUCTS.has(product)) return 'dualshock4';
  if (vendor === SONY_VENDOR && DUALSENSE_PRODUCTS.has(product)) return 'dualsense';
  if (/dualsense/i.test(name)) return 'dualsense';
  if (/wireless controller|dualshock 4/i.test(name)) return 'dualshock4';
  if (vendor === MICROSOFT_VENDOR || /x-?box|xinput/i.test(name)) return 'xbox';
  return 'generic';
}

export interface AxisRange {
  min: number;
  max: number;
}

/**
 * Byte-wide sticks (Sony pads, 0..255) rest at 128; treating 1..255 as the range puts 128 exactly
 * at the centre (0 reads as 1, i.e. full travel).
 */
export const BYTE_STICK: AxisRange = { min: 1, max: 255 };

/** Fraction of the stick's travel around the centre that counts as centred. */
export const DEFAULT_DEAD_ZONE = 0.12;
/** Triggers below this fraction count as released (worn triggers rest slightly pressed). */
export const TRIGGER_DEAD_ZONE = 0.04;

/** Raw axis value to -1..1. */
export function unitAxis(raw: number, r: AxisRange): number {
  const span = r.max - r.min;
  if (span <= 0) return 0;
  const v = ((raw - r.min) / span) * 2 - 1;
  return Math.max(-1, Math.min(1, v));
}

const toInt16 = (v: number): number => {
  if (Number.isNaN(v)) return 0;
  if (v >= 0) return Math.min(STICK_MAX, Math.round(v * STICK_MAX));
  return Math.max(STICK_MIN, Math.round(v * -STICK_MIN));
};

/**
 * Radial dead zone: a stick inside the circle of radius `deadZone` is centred; outside it the
 * magnitude is rescaled so the edge of the dead zone maps to 0 (no jump) and full travel to 1,
 * each axis clamped to the int16 range.
 */
export function applyStick(x: number, y: number, deadZone = DEFAULT_DEAD_ZONE): [number, number] {
  const mag = Math.hypot(x, y);
  if (mag <= deadZone || mag === 0) return [0, 0];
  // Not capped at 1: a square-gated stick in a corner reaches full travel on both axes.
  const scaled = (mag - deadZone) / (1 - deadZone);
  return [toInt16((x / mag) * scaled), toInt16((y / mag) * scaled)];
}

/** Raw trigger to 0..255 with a small dead zone at rest. */
export function applyTrigger(raw: number, r: AxisRange, deadZone = TRIGGER_DEAD_ZONE): number {
  const span = r.max - r.min;
  if (span <= 0) return 0;
  const v = Math.max(0, Math.min(1, (raw - r.min) / span));
  if (v <= deadZone) return 0;
  return Math.round(((v - deadZone) / (1 - deadZone)) * 255);
}

/** Hat switch (-1/0/1 per axis) to d-pad buttons. */
export function hatToDpad(
  x: number,
  y: number,
): { left: boolean; right: boolean; up: boolean; down: boolean } {
  return { left: x < 0, right: x > 0, up: y < 0, down: y > 0 };
}

/** 8-way hat value of Sony HID reports (0 = up, clockwise, 8+ = centred). */
export function hat8ToDpad(h: number): { left: boolean; right: boolean; up: boolean; down: boolean } {
  if (h > 7) return { left: false, right: false, up: false, down: false };
  return { up: h === 7 || h <= 1, right: h >= 1 && h <= 3, down: h >= 3 && h <= 5, left: h >= 5 };
}

/** Why an optional pad package could not be imported, as a user reads it. */
export function optionalLoadFailure(pkg: string, e: unknown): string {
  const msg = (e as Error).message ?? String(e);
  return /Cannot find (package|module)/.test(msg)
    ? `${pkg} is not installed (optional dependency; npm install ${pkg})`
    : `${pkg} failed to load: ${msg.split('\n')[0]}`;
}
