export * from './collect';
export * from './endpoint';
export * from './config';
export * from './summary';
export * from './request';
