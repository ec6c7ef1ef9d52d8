// Fuzz targets with known bugs, for the test of the fuzz runner (scripts/fuzz.ts --module).
import { ParseError } from '../../src/proto-stack/errors.js';
import type { FuzzTarget } from '../helpers/fuzz-targets.js';

export function fuzzTargets(): FuzzTarget[] {
  return [
    {
      name: 'fine',
      covers: 'a parser that only throws typed errors',
      maxLength: 16,
      seeds: [Uint8Array.of(1, 2, 3)],
      run: (b) => {
        if (b.length > 8) throw new ParseError('fine', 'too long');
      },
    },
    {
      name: 'untyped',
      covers: 'a parser that throws a TypeError on any 0x42 byte',
      maxLength: 64,
      seeds: [Uint8Array.of(1, 2, 0x42, 4, 5)],
      run: (b) => {
        if (b.includes(0x42)) throw new TypeError('unchecked read');
      },
    },
    {
      name: 'hang',
      covers: 'a parser that never returns on a 0x99 byte',
      maxLength: 64,
      seeds: [Uint8Array.of(7, 8, 0x99, 10, 11, 12)],
      run: (b) => {
        if (b.includes(0x99)) for (;;);
      },
    },
    {
      name: 'slow',
      covers: 'a parser that takes 2 ms an input',
      maxLength: 8,
      seeds: [Uint8Array.of(1)],
      run: () => {
        const until = performance.now() + 2;
        while (performance.now() < until);
      },
    },
  ];
}
