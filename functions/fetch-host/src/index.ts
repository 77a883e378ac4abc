export * from './fetch-host';
export * from './endpoint';
export * from './config';
export * from './batches';
export * from './caller-auth';
export * from './request-body';
