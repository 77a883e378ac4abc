import { closeVaultSessions, lazyDatabase, type Database } from '@infralogs/core';

/**
 * ingest's wiring to MySQL: writer credentials on the primary, leased from Vault and rotated by
 * the rotator plug-in. The environment names the primary (DB_HOST, DB_PORT, DB_NAME) and how to
 * log in to Vault (VAULT_ADDR, VAULT_AUTH, ...); AppRole ids come from the OpenFaaS secrets
 * `vault-role-id` and `vault-secret-id`. No MySQL password exists anywhere in its configuration.
 *
 * That environment is validated when the module loads (the function's start: a missing DB_HOST
 * stops it with CONFIG_INVALID naming the variable). The first request connects; while Vault is
 * unreachable that request fails with a coded 503 (VAULT_UNAVAILABLE) and the next one tries again.
 */
const database = lazyDatabase('writer');

export function getDatabase(): Promise<Database> {
  return database.get();
}

/** On shutdown: drain the pool, revoke the lease, revoke the Vault token. */
export async function closeDatabase(): Promise<void> {
  await database.close();
  await closeVaultSessions();
}
