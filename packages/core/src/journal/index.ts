/**
 * Journal readers. Export (`journalctl -o export`, lossless) is what Infralogs reads:
 * - ExportParser: raw fields of each entry (JournalFields), for any use;
 * - EntryReader: Entry objects, as entryFromFields would map them;
 * - NdjsonEncoder: the NDJSON wire lines of those entries, straight from the bytes (the agent).
 * (The `-o json` and `-o verbose` readers, which only tests use, are in devkit's journal-readers.)
 */
export * from './reader';
export * from './lines';
export * from './export-parser';
export { CapturedEntry } from './entry-fields';
export * from './entry-reader';
export * from './ndjson-encoder';
