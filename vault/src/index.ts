export * from './bootstrap';
export * from './names';
export * from './policies';
export * from './agent-tokens';
export * from './function-secrets';
export * from './pki';
