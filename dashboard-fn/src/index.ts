export * from './dashboard';
export * from './params';
export * from './queries';
export * from './page';
export * from './static-files';
