export * from './bootstrap';
export * from './names';
export * from './policies';
