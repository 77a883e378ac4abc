export * from './errors';
export * from './log';
export * from './config';
export * from './entry';
export * from './faas';
export * from './secrets';
export * from './database';
export * from './store';
