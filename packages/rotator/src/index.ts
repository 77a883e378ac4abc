export { createRotator, Rotator, type RotatorOptions, type LeaseInfo } from './rotator';
export {
  VaultSession,
  DEFAULT_JWT_FILE,
  type VaultOptions,
  type VaultAuth,
  type SecretSource,
} from './session';
export {
  VaultClient,
  type VaultClientOptions,
  type VaultAuthInfo,
  type VaultLease,
  type VaultBody,
  type DatabaseCredentials,
} from './vault-client';
export {
  Reporter,
  jsonLogger,
  silentLogger,
  type RotatorLogger,
  type RotatorEvent,
  type RotatorEventType,
  type RotatorMetrics,
  type RotationReason,
} from './reporter';
export { busyConnections, drainPool, createVerifiedPool, isAccessDenied, type MysqlOptions } from './pool';
export { backoffDelay, type BackoffOptions } from './backoff';
export * from './errors';
