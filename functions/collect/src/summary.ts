import { emptyHostResult, type HostResult, type RunOutcome } from '@infralogs/core';

/** The error code of a host the run did not start: its time budget was spent. */
export const SKIPPED = 'SKIPPED';

/**
 * succeeded: every host was pulled without error (also when there were none); failed: every host
 * was pulled and failed; partial otherwise — some failed, or some were SKIPPED (not a failure,
 * but the run did not cover them: the next one does).
 */
export function runStatus(hosts: HostResult[]): RunOutcome {
  const failed = hosts.filter((h) => h.error !== null && h.error.code !== SKIPPED).length;
  const skipped = hosts.filter((h) => h.error?.code === SKIPPED).length;
  if (failed === 0 && skipped === 0) return 'succeeded';
  return failed === hosts.length ? 'failed' : 'partial';
}

/** A result for a host whose fetch-host call produced no usable answer. */
export function failedHost(host: string, error: { code: string; message: string }): HostResult {
  return emptyHostResult(host, error);
}

/** A host the run did not start because its time budget was spent. */
export function skippedHost(host: string): HostResult {
  return failedHost(host, { code: SKIPPED, message: 'time budget spent; next run continues' });
}
