/**
 * The body of the audio child process. The `speaker` native module aborts the whole process
 * (an uncatchable C assertion) when ALSA has no usable device, so it is only ever loaded here,
 * in a throwaway `node -e` child; the parent watches it die instead of dying with it.
 *
 * The function is sent as source text (Function.prototype.toString), which works both from the
 * TypeScript sources and from the esbuild bundle. So it must be self-contained: no imports and
 * no reference to anything outside its own body; builtins come from process.getBuiltinModule.
 *
 * Protocol: argv = speaker module path, JSON {sampleRate, channels}; PCM s16le on stdin; IPC
 * messages {type:'open'} once the device is open and {type:'error', message} on failure. The
 * child exits 0 after stdin ends and the device drained, and when the parent goes away.
 */
export function speakerChildMain(speakerModule: string, formatJson: string): void {
  const { createRequire } = process.getBuiltinModule('node:module');
  const send = (msg: { type: 'open' } | { type: 'error'; message: string }): void => {
    if (process.connected) process.send?.(msg);
  };
  const format = JSON.parse(formatJson) as { sampleRate: number; channels: number };
  let Speaker: new (opts: Record<string, unknown>) => NodeJS.WritableStream & NodeJS.EventEmitter;
  try {
    Speaker = createRequire(speakerModule)(speakerModule);
  } catch (err) {
    send({ type: 'error', message: `cannot load the speaker module: ${(err as Error).message}` });
    process.exit(3);
  }
  const speaker = new Speaker({
    channels: format.channels,
    sampleRate: format.sampleRate,
    bitDepth: 16,
    signed: true,
  });
  speaker.on('open', () => send({ type: 'open' }));
  speaker.on('error', (err: Error) => {
    send({ type: 'error', message: err.message });
    process.exit(4);
  });
  speaker.on('close', () => process.exit(0));
  process.stdin.pipe(speaker);
  // The parent died or gave up on us: stop playing.
  process.on('disconnect', () => process.exit(0));
}
