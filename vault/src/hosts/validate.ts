import { InfralogsError } from '@infralogs/core';

/**
 * What a host may be called and where its agent may be: shared by `hosts add` and the inventory.
 * A name is DNS-style (it also names the KV path of its token and its certificate's common name);
 * an agent URL is https:// (http:// only for a host explicitly marked insecure), with no user,
 * password, query or fragment: the bearer token travels in a header, never in the URL.
 */
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

export function hostNameProblem(name: string): string | null {
  if (name.length > 253 || !HOST_NAME.test(name)) {
    return `"${name}" is not a DNS-style host name (lower-case letters, digits, '-' and '.', at most 253)`;
  }
  return null;
}

export function agentUrlProblem(url: string, insecure: boolean): string | null {
  if (!URL.canParse(url)) return `"${url}" is not a URL`;
  const u = new URL(url);
  if (u.username || u.password)
    return 'the agent URL must not carry credentials (the token goes in a header)';
  if (u.search || u.hash) return 'the agent URL must not have a query or fragment';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:') {
    return insecure ? null : 'the agent URL is plain http://: use https://, or mark the host insecure';
  }
  return `the agent URL must be https:// (not ${u.protocol}//)`;
}

export function assertHost(name: string, url: string, insecure: boolean): void {
  const problem = hostNameProblem(name) ?? agentUrlProblem(url, insecure);
  if (problem) throw new InfralogsError('BAD_REQUEST', problem);
}
