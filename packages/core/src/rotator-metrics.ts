import type { CredentialRotator, RotatorEvent } from '@infralogs/vault-rotator';
import { Metrics } from './metrics';

/**
 * The rotator's events as metrics. Core's Vault wiring subscribes this to the shared session's
 * reporter (logins, token renewals, login failures: no role) and to each Database's rotator
 * (leases, renewals, rotations, revocations, failures: by role). Only the event type, the step
 * and the error code become labels; lease ids, user names and messages never do.
 */
export function recordRotatorEvent(event: RotatorEvent, role?: string, metrics = Metrics.forProcess()): void {
  const byRole = role === undefined ? {} : { role };
  switch (event.type) {
    case 'login':
      return metrics.counter('infralogs_vault_logins_total').inc();
    case 'token-renewed':
      return metrics.counter('infralogs_vault_token_renewals_total').inc();
    case 'lease':
      return metrics.counter('infralogs_credentials_leases_total').inc(byRole);
    case 'renewed':
      return metrics.counter('infralogs_credentials_renewals_total').inc(byRole);
    case 'rotated':
      return metrics
        .counter('infralogs_credentials_rotations_total')
        .inc({ ...byRole, reason: event.reason });
    case 'revoked':
      return metrics.counter('infralogs_credentials_revocations_total').inc(byRole);
    case 'error':
      return metrics
        .counter('infralogs_vault_failures_total')
        .inc({ during: event.during, cause: event.code });
    default:
      return;
  }
}

/** Exposes a rotator's lease time left, read at scrape time; returns the unsubscribe. */
export function exposeLeaseRemaining(
  rotator: Pick<CredentialRotator<unknown>, 'metrics'>,
  role: string,
  metrics = Metrics.forProcess(),
) {
  return metrics.gaugeFrom('infralogs_credentials_lease_remaining_seconds', () => [
    { labels: { role }, value: rotator.metrics().leaseTtlSeconds },
  ]);
}
