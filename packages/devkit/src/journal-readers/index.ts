/**
 * Journal readers only tests and benchmarks use: `-o json` and `-o verbose` (what those formats
 * lose against export, shown on real journals), and reading a whole buffer or a chunked feed with
 * any reader. Infralogs itself reads export only (core's ExportParser, EntryReader, NdjsonEncoder).
 */
export * from './line-reader';
export * from './json-parser';
export * from './verbose-parser';
export * from './read-all';
