export * from './dashboard';
export * from './params';
export * from './queries';
export * from './entries';
export * from './health';
export * from './auth';
export * from './page';
export * from './static-files';
