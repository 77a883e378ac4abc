export * from './reader';
export * from './lines';
export * from './export-parser';
export * from './entry-reader';
export * from './json-parser';
export * from './verbose-parser';
