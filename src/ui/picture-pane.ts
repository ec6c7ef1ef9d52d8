/**
 * The terminal picture in a blessed box: a TerminalPictureSink in its 'pane' layout draws into
 * the box's inner rectangle, which blessed leaves empty. After every blessed render the pane
 * gives the sink the rectangle the box was drawn at (so moves and resizes follow), and looks at
 * blessed's screen buffer there: if something else was drawn over the box (a dialog), the
 * picture stops without erasing it, and comes back (from the next key frame) once the box is
 * clear again. A terminal resize makes blessed redraw everything: the next frame redraws all cells.
 *
 *   const sink = createVideoSink('terminal', { picture: { layout: 'pane', answers, output } });
 *   const pane = new PicturePane(screen, box, sink as TerminalPictureSink);
 *   pane.toggle();   // a hotkey: picture off / on
 */
import type { TerminalPictureSink } from '../media/picture/sink.js';
import type { CellRect } from '../media/picture/view.js';
import type { Widgets } from './blessed.js';

/** The parts of a blessed box the pane reads (blessed's typings leave most of them out). */
interface BoxInternals {
  lpos?: { xi: number; xl: number; yi: number; yl: number };
  ileft: number;
  itop: number;
  iwidth: number;
  iheight: number;
  visible: boolean;
  style: unknown;
  sattr(style: unknown): number;
}

interface ScreenInternals {
  /** Per row, per column: [attribute, character]. */
  lines: Array<Array<[number, string]>>;
}

export class PicturePane {
  private wanted = true;

  constructor(
    private readonly screen: Widgets.Screen,
    private readonly box: Widgets.BoxElement,
    private readonly sink: TerminalPictureSink,
  ) {
    screen.on('render', this.afterRender);
    screen.on('resize', this.onResize);
  }

  /** Whether the picture is wanted (toggle()); it may still be held back while covered. */
  get shown(): boolean {
    return this.wanted;
  }

  /** Picture off (erased, decoder stopped) or on again; returns whether it is now on. */
  toggle(): boolean {
    this.wanted = !this.wanted;
    if (this.wanted) this.screen.render();
    else this.sink.hide();
    return this.wanted;
  }

  /** Stops following the box (the sink itself is closed by its owner). */
  destroy(): void {
    this.screen.removeListener('render', this.afterRender);
    this.screen.removeListener('resize', this.onResize);
  }

  private readonly onResize = (): void => {
    this.sink.invalidate();
  };

  private readonly afterRender = (): void => {
    if (!this.wanted) return;
    const rect = this.rect();
    if (!rect || this.covered(rect)) {
      // blessed drew over the cells already: keep them, just stop drawing
      this.sink.hide(false);
      return;
    }
    this.sink.setRect(rect);
    this.sink.show();
  };

  /** The box's inner cells as last drawn, or undefined when it is not on screen. */
  private rect(): CellRect | undefined {
    const b = this.box as unknown as BoxInternals;
    const p = b.lpos;
    if (!b.visible || !p) return undefined;
    const cols = p.xl - p.xi - b.iwidth;
    const rows = p.yl - p.yi - b.iheight;
    if (cols < 1 || rows < 1) return undefined;
    return { left: p.xi + b.ileft, top: p.yi + b.itop, cols, rows };
  }

  /** Whether anything but the empty box is in the rectangle of blessed's screen buffer. */
  private covered(r: CellRect): boolean {
    const b = this.box as unknown as BoxInternals;
    const blank = b.sattr(b.style);
    const lines = (this.screen as unknown as ScreenInternals).lines;
    for (let y = r.top; y < r.top + r.rows; y++) {
      const line = lines[y];
      if (!line) return true;
      for (let x = r.left; x < r.left + r.cols; x++) {
        const cell = line[x];
        if (cell?.[1] !== ' ' || cell[0] !== blank) return true;
      }
    }
    return false;
  }
}
