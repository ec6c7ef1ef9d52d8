/** A decoded picture: 8-bit RGB, rows top to bottom, no padding (`data.length` >= width * height * 3). */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}
