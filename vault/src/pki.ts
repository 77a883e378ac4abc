import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InfralogsError } from '@infralogs/core';
import { RotatorError, type VaultClient } from '@infralogs/vault-mysql-rotator';
import { writeFileAtomic } from './files';

/**
 * Agent certificates from Vault's PKI secrets engine. The bootstrap (ensurePki) mounts the engine,
 * generates the root CA once (its key never leaves Vault) and the role that issues agent server
 * certificates; `issueAgentCertificate` asks for one certificate for a host's name and address;
 * `writeAgentCertificate` puts the pair where the agent reads it (the agent re-reads changed files,
 * so re-issuing before expiry is a rotation without a restart).
 */
export interface PkiSettings {
  /** The CA's subject. Default `Infralogs agents CA`. */
  commonName?: string;
  /** The CA's lifetime, also the mount's max_lease_ttl. Default 87600h (10 years). */
  caTtl?: string;
  /** Agent certificates: default and longest lifetime. Defaults 720h and 2160h. */
  certTtl?: string;
  certMaxTtl?: string;
}

export interface AgentCertificate {
  /** PEM of the agent's certificate. */
  certificate: string;
  /** PEM of its private key: goes only to the agent's key file, never to a log. */
  privateKey: string;
  /** PEM of the issuing CA: the bundle fetch-host trusts. */
  issuingCa: string;
  /** Unix seconds. */
  expiration: number;
}

/** The CA certificate (PEM), or null when the engine has no issuer yet. */
export async function readPkiCa(vault: VaultClient, mount: string): Promise<string | null> {
  try {
    const pem = (await vault.read<{ certificate?: string }>(`${mount}/cert/ca`)).data?.certificate;
    return pem ? pem.trim() : null;
  } catch (err) {
    // No issuer yet: OpenBao and Vault answer 400 "no default issuer currently configured".
    if (err instanceof RotatorError && (err.status === 400 || err.status === 404)) return null;
    throw err;
  }
}

/** The role's settings: server certificates for any host name and IP address, EC P-256 keys. */
export function agentCertRole(settings: PkiSettings = {}): Record<string, unknown> {
  return {
    allow_any_name: true,
    allow_ip_sans: true,
    enforce_hostnames: true,
    server_flag: true,
    client_flag: false,
    key_type: 'ec',
    key_bits: 256,
    ttl: settings.certTtl ?? '720h',
    max_ttl: settings.certMaxTtl ?? '2160h',
  };
}

/** Generates the root CA unless the engine has one; returns its PEM and whether it was made now. */
export async function ensurePkiCa(
  vault: VaultClient,
  mount: string,
  settings: PkiSettings = {},
): Promise<{ ca: string; created: boolean }> {
  const existing = await readPkiCa(vault, mount);
  if (existing) return { ca: existing, created: false };
  const answer = await vault.write<{ certificate?: string }>(`${mount}/root/generate/internal`, {
    common_name: settings.commonName ?? 'Infralogs agents CA',
    ttl: settings.caTtl ?? '87600h',
    key_type: 'ec',
    key_bits: 256,
  });
  const ca = answer?.data?.certificate;
  if (!ca) throw new InfralogsError('INTERNAL', `${mount}/root/generate/internal returned no certificate`);
  return { ca: ca.trim(), created: true };
}

/**
 * Issues an agent certificate for `host` (its common name) valid for the URL's host: a DNS name
 * or an IP address goes into the subject alternative names, which is what clients verify.
 */
export async function issueAgentCertificate(
  vault: VaultClient,
  target: { mount: string; role: string; host: string; agentUrl: string; ttl?: string },
): Promise<AgentCertificate> {
  const urlHost = new URL(target.agentUrl).hostname.replace(/^\[|\]$/g, '');
  const isIp = /^[\d.]+$/.test(urlHost) || urlHost.includes(':');
  const altNames = [target.host, ...(isIp ? [] : [urlHost])].filter((n, i, all) => all.indexOf(n) === i);
  const answer = await vault.write<{
    certificate?: string;
    private_key?: string;
    issuing_ca?: string;
    expiration?: number;
  }>(`${target.mount}/issue/${target.role}`, {
    common_name: target.host,
    alt_names: altNames.join(','),
    ...(isIp ? { ip_sans: urlHost } : {}),
    ...(target.ttl ? { ttl: target.ttl } : {}),
  });
  const d = answer?.data;
  if (!d?.certificate || !d.private_key || !d.issuing_ca) {
    throw new InfralogsError('INTERNAL', `${target.mount}/issue/${target.role} returned no certificate`);
  }
  return {
    certificate: d.certificate,
    privateKey: d.private_key,
    issuingCa: d.issuing_ca,
    expiration: Number(d.expiration ?? 0),
  };
}

/** Writes the pair for the agent (key 0600), each file replaced atomically. */
export async function writeAgentCertificate(
  cert: AgentCertificate,
  files: { certFile: string; keyFile: string },
): Promise<void> {
  await mkdir(dirname(files.keyFile), { recursive: true, mode: 0o700 });
  await mkdir(dirname(files.certFile), { recursive: true, mode: 0o700 });
  // Key first: the agent takes the pair only once both match, so it never sees a new cert with an old key.
  await writeFileAtomic(files.keyFile, `${cert.privateKey.trim()}\n`, 0o600);
  await writeFileAtomic(files.certFile, `${cert.certificate.trim()}\n`, 0o644);
  await chmod(files.keyFile, 0o600);
}
