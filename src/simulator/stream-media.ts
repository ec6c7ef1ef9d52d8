/**
 * A STREAMINFO without a clip: an H.264 SPS + PPS (Annex-B) for any resolution, and the 14-byte
 * audio header. The parameter sets are generated (Main profile, CAVLC, 4:2:0, cropping for
 * heights that are not a multiple of 16, VUI timing for the frame rate) so tests of the stream
 * connection get a header a decoder accepts. The simulator itself announces the parameter sets
 * of the clip it streams (stream-av.ts).
 */

import { ByteWriter, concatBytes } from '../proto-stack/bytes.js';
import { UsageError } from '../proto-stack/errors.js';

/** MSB-first bit writer with the Exp-Golomb codes of H.264 (ITU-T H.264 §9.1). */
class BitWriter {
  private readonly bytes: number[] = [];
  private cur = 0;
  private n = 0;

  u(bits: number, value: number): this {
    for (let i = bits - 1; i >= 0; i--) this.bit(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  ue(value: number): this {
    const v = value + 1;
    const len = Math.floor(Math.log2(v));
    this.u(len, 0);
    return this.u(len + 1, v);
  }

  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing(): Uint8Array {
    this.bit(1);
    while (this.n !== 0) this.bit(0);
    return Uint8Array.from(this.bytes);
  }

  private bit(b: number): void {
    this.cur = (this.cur << 1) | b;
    if (++this.n === 8) {
      this.bytes.push(this.cur);
      this.cur = 0;
      this.n = 0;
    }
  }
}

/** Inserts emulation-prevention bytes (00 00 0x with x <= 3 becomes 00 00 03 0x). */
export function escapeRbsp(rbsp: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

const START_CODE = Uint8Array.of(0, 0, 0, 1);
const PROFILE_MAIN = 77;
const LEVEL_4_2 = 42;

/** SPS + PPS for a `width` x `height` stream at `fps`, each behind a 4-byte start code. */
export function h264ParameterSets(width: number, height: number, fps: number): Uint8Array {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 16 ||
    height < 16 ||
    width > 4096 ||
    height > 4096
  )
    throw new UsageError(`cannot describe a ${width}x${height} H.264 stream`);
  if (width % 2 || height % 2) throw new UsageError('H.264 4:2:0 needs an even width and height');
  if (!Number.isInteger(fps) || fps < 1 || fps > 240) throw new UsageError(`unsupported frame rate ${fps}`);
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const cropRight = (mbW * 16 - width) / 2; // crop units are 2 luma samples for 4:2:0
  const cropBottom = (mbH * 16 - height) / 2;
  const sps = new BitWriter()
    .u(8, PROFILE_MAIN)
    .u(8, 0) // constraint flags
    .u(8, LEVEL_4_2)
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type: output order = decode order
    .ue(1) // max_num_ref_frames
    .u(1, 0) // gaps_in_frame_num_value_allowed_flag
    .ue(mbW - 1)
    .ue(mbH - 1)
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1); // direct_8x8_inference_flag
  if (cropRight || cropBottom) sps.u(1, 1).ue(0).ue(cropRight).ue(0).ue(cropBottom);
  else sps.u(1, 0);
  sps
    .u(1, 1) // vui_parameters_present_flag
    .u(1, 0) // aspect_ratio_info_present_flag
    .u(1, 0) // overscan_info_present_flag
    .u(1, 0) // video_signal_type_present_flag
    .u(1, 0) // chroma_loc_info_present_flag
    .u(1, 1) // timing_info_present_flag
    .u(32, 1) // num_units_in_tick
    .u(32, fps * 2) // time_scale: two ticks per frame
    .u(1, 1) // fixed_frame_rate_flag
    .u(1, 0) // nal_hrd_parameters_present_flag
    .u(1, 0) // vcl_hrd_parameters_present_flag
    .u(1, 0) // pic_struct_present_flag
    .u(1, 0); // bitstream_restriction_flag
  const pps = new BitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(1, 0) // entropy_coding_mode_flag (CAVLC)
    .u(1, 0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(1, 0) // weighted_pred_flag
    .u(2, 0) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(1, 1) // deblocking_filter_control_present_flag
    .u(1, 0) // constrained_intra_pred_flag
    .u(1, 0); // redundant_pic_cnt_present_flag
  return concatBytes(
    START_CODE,
    Uint8Array.of(0x67), // nal_ref_idc 3, type 7 (SPS)
    escapeRbsp(sps.trailing()),
    START_CODE,
    Uint8Array.of(0x68), // nal_ref_idc 3, type 8 (PPS)
    escapeRbsp(pps.trailing()),
  );
}

/**
 * STREAMINFO audio header (14 bytes): channels, bits per sample, rate u32, samples per frame u32,
 * then a u32 the reference does not interpret. Opus stereo, 48 kHz, 10 ms frames.
 */
export function audioHeader(channels = 2, rate = 48000, frameSize = 480): Uint8Array {
  return new ByteWriter(14).u8(channels).u8(16).u32(rate).u32(frameSize).u32(0).finish();
}
