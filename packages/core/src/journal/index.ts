export * from './reader';
export * from './lines';
export * from './export-parser';
export { CapturedEntry } from './entry-fields';
export * from './entry-reader';
export * from './ndjson-encoder';
export * from './json-parser';
export * from './verbose-parser';
