// Tagged feedback datagrams for a FeedbackSender's transmits, the way ClientSession sends them
// (key_pos = payload + 16 per packet; without crypt key_pos and gmac stay zero).
import {
  FEEDBACK_KEY_POS_EXTRA,
  type FeedbackCrypt,
  formatFeedbackPacket,
} from '../../src/proto-stack/feedback.js';
import type { FeedbackOutput } from '../../src/proto-stack/feedbacksender.js';

export function packetsFor(
  outputs: readonly FeedbackOutput[],
  crypt: FeedbackCrypt | undefined,
  allocKeyPos: (size: number) => number,
): Uint8Array[] {
  return outputs.map((o) =>
    formatFeedbackPacket(
      o.type,
      o.seq,
      o.payload,
      crypt,
      crypt ? allocKeyPos(o.payload.length + FEEDBACK_KEY_POS_EXTRA) : 0,
    ),
  );
}
