export * from './fetch-host';
export * from './endpoint';
export * from './config';
export * from './batches';
