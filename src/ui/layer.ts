/**
 * What the TUI's screens and dialogs are to the App (app.ts) and what they need of it, kept apart
 * so the dialog widgets and the App that opens them do not import each other.
 */
import type { ControllerState } from '../proto-stack/controller.js';
import type { KeyInfo, Widgets } from './blessed.js';
import type { Theme } from './theme.js';

export interface Layer {
  render(): void;
  handleKey(ch: string | undefined, key: KeyInfo): void;
  /** Key hints for the bottom line. */
  readonly hints: string;
  /** Lines for the help dialog (`?`). */
  help?: string[];
  destroy(): void;
  /** Called when the layer is on top again after the one above it closed. */
  resume?(): void;
  /** Asynchronous shutdown before destroy() when the app quits (e.g. a clean DISCONNECT). */
  dispose?(): Promise<void>;
}

/** Screens may also receive game pad states directly (the stream screen plays with them). */
export interface PadConsumer {
  padState(state: ControllerState): void;
}

/** The part of the App a dialog uses: where to draw, in which colours, and how to go away. */
export interface DialogHost {
  readonly screen: Widgets.Screen;
  readonly theme: Theme;
  render(): void;
  closeDialog(layer: Layer): void;
}
