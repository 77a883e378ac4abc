// The database-independent part: the lifecycle, Vault, the generic (callback) adapter and the file
// sink. Database adapters are subpaths, so a consumer installs only the driver it uses:
// `@infralogs/vault-rotator/mysql` (mysql2) and `@infralogs/vault-rotator/postgres` (pg).
export {
  CredentialRotator,
  type CredentialAdapter,
  type DrainResult,
  type LeaseInfo,
  type RotatorCoreOptions,
} from './core.js';
export {
  CallbackRotator,
  callbackAdapter,
  createCallbackRotator,
  type CallbackRotatorOptions,
  type Drain,
} from './callback.js';
export {
  fileSink,
  formatCredentials,
  readPidFile,
  runReloadCommand,
  writeFileAtomic,
  type CredentialsFormat,
  type FileSinkOptions,
} from './file-sink.js';
export {
  VaultSession,
  DEFAULT_JWT_FILE,
  type VaultOptions,
  type VaultAuth,
  type SecretSource,
} from './session.js';
export {
  VaultClient,
  classify,
  type VaultClientOptions,
  type VaultAuthInfo,
  type VaultLease,
  type VaultBody,
  type DatabaseCredentials,
} from './vault-client.js';
export {
  Reporter,
  jsonLogger,
  silentLogger,
  type RotatorLogger,
  type RotatorEvent,
  type RotatorEventType,
  type RotatorMetrics,
  type RotationReason,
} from './reporter.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export * from './errors.js';
