/**
 * Every failure the rotator reports is a RotatorError with a stable `code`; callers branch on the
 * code (or the class), never on message text. Messages never contain passwords or tokens.
 */
export type RotatorErrorCode =
  | 'VAULT_UNAVAILABLE'
  | 'VAULT_DENIED'
  | 'VAULT_REQUEST_FAILED'
  | 'LEASE_INVALID'
  | 'DATABASE_UNAVAILABLE'
  | 'CONSUMER_FAILED'
  | 'ROTATOR_STOPPED'
  | 'OPTIONS_INVALID';

export class RotatorError extends Error {
  readonly code: RotatorErrorCode;
  /** The HTTP status Vault answered with, when there was an answer. */
  readonly status: number | undefined;

  constructor(code: RotatorErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status;
  }
}

/** Vault could not be reached, timed out, is sealed or on standby (5xx/429). Worth retrying. */
export class VaultUnavailableError extends RotatorError {
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super('VAULT_UNAVAILABLE', message, options);
  }
}

/** 403: the token lacks a capability, or it has expired or been revoked. */
export class VaultDeniedError extends RotatorError {
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super('VAULT_DENIED', message, options);
  }
}

/** Any other answer Vault rejected (4xx): a wrong path, a bad request, a missing role. */
export class VaultRequestError extends RotatorError {
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super('VAULT_REQUEST_FAILED', message, options);
  }
}

/** The lease is gone: revoked from outside, expired, or past its max_ttl. */
export class LeaseInvalidError extends RotatorError {
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super('LEASE_INVALID', message, options);
  }
}

/** The database refused or could not be reached with freshly issued credentials. */
export class DatabaseUnavailableError extends RotatorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DATABASE_UNAVAILABLE', message, options);
  }
}

/** A consumer refused new credentials: a callback threw, or a reload command did not exit 0. */
export class ConsumerFailedError extends RotatorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONSUMER_FAILED', message, options);
  }
}

export class RotatorStoppedError extends RotatorError {
  constructor() {
    super('ROTATOR_STOPPED', 'the rotator has been stopped');
  }
}

export class OptionsInvalidError extends RotatorError {
  constructor(message: string) {
    super('OPTIONS_INVALID', message);
  }
}

/** Worth retrying later with backoff (as opposed to a configuration or permission problem). */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof VaultUnavailableError ||
    err instanceof DatabaseUnavailableError ||
    err instanceof ConsumerFailedError
  );
}
