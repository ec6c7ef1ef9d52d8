// PCoIP codecs from the project's seed document: MGMT chunks, SCS1 token, Salsa20/12 data packets.
export * from './data.js';
export * from './mgmt.js';
export * from './salsa20.js';
export * from './scs1.js';
