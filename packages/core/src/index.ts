export * from './errors';
export * from './log';
export * from './config';
export * from './entry';
