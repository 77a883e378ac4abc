import {
  env,
  loadConfig,
  REQUEST_LIMITS,
  requestLimitsEnv,
  requestLimitsFrom,
  type RequestLimits,
} from '@infralogs/core';
import { z } from 'zod';
import type { TlsFilesConfig } from './tls';

/**
 * The agent's configuration. `main.ts` reads it once from the environment (validated here, a bad
 * variable stops start-up naming it); tests and the local stack pass it to startAgent directly.
 */
export interface AgentConfig {
  /** Address to listen on (the Dockerfile sets 0.0.0.0). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** File of bearer tokens, one per line; re-read when it changes. */
  tokensFile: string;
  /** Journal directory for `journalctl -D`; null reads the system journal. */
  journalDir: string | null;
  /** Entries per response when the client gives no `limit`, and the most it may ask for. */
  limitDefault: number;
  limitMax: number;
  /** Streams (journalctl children) served at once; more are answered 429 with Retry-After. */
  maxStreams: number;
  /** The Retry-After (seconds) of that 429: when a refused client should ask again. */
  busyRetryAfterS: number;
  /** The journalctl binary. */
  journalctl: string;
  /**
   * stdout buffer size for journalctl (via coreutils `stdbuf -o`), or null to run it bare: with
   * its default 4 KiB buffer journalctl spends much of its time in write(2) to the pipe.
   */
  journalctlBuffer: string | null;
  /**
   * The metrics listener (`GET /metrics`, no token): its own address and port, so the token-guarded
   * port never serves it and it can stay on loopback or a management interface. null = none.
   */
  metricsHost: string;
  metricsPort: number | null;
  /**
   * HTTPS: certificate and key files (re-read when they change), and optionally a CA bundle that
   * client certificates must chain to (mTLS). Null serves plain HTTP (tests, a loopback-only agent).
   */
  tls: TlsFilesConfig | null;
  /** How long a client may take to send its request (core's http-guard; HTTP_*_TIMEOUT_MS). */
  requestLimits: RequestLimits;
}

export const AGENT_DEFAULTS: Omit<AgentConfig, 'tokensFile'> = {
  host: '127.0.0.1',
  port: 8687,
  journalDir: null,
  limitDefault: 10_000,
  limitMax: 100_000,
  maxStreams: 4,
  busyRetryAfterS: 5,
  journalctl: 'journalctl',
  journalctlBuffer: '64K',
  metricsHost: '127.0.0.1',
  metricsPort: null,
  tls: null,
  requestLimits: REQUEST_LIMITS,
};

const optional = (schema: z.ZodString) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const agentEnvSchema = z
  .object({
    AGENT_HOST: env.str(AGENT_DEFAULTS.host),
    AGENT_PORT: env.port(AGENT_DEFAULTS.port),
    AGENT_TOKENS_FILE: z.string().min(1, 'is required (a file of bearer tokens, one per line)'),
    JOURNAL_DIR: optional(z.string().min(1)),
    AGENT_LIMIT_DEFAULT: env.int(AGENT_DEFAULTS.limitDefault, 1),
    AGENT_LIMIT_MAX: env.int(AGENT_DEFAULTS.limitMax, 1),
    AGENT_MAX_STREAMS: env.int(AGENT_DEFAULTS.maxStreams, 1, 1000),
    AGENT_BUSY_RETRY_AFTER_S: env.int(AGENT_DEFAULTS.busyRetryAfterS, 1, 3600),
    JOURNALCTL: env.str(AGENT_DEFAULTS.journalctl),
    JOURNALCTL_STDOUT_BUFFER: z
      .string()
      .regex(/^(\d+[KM]?|off)$/, 'must be a size such as 64K, or off')
      .default(AGENT_DEFAULTS.journalctlBuffer!),
    AGENT_METRICS_HOST: env.str(AGENT_DEFAULTS.metricsHost),
    AGENT_METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), env.port(0).optional()),
    /** Read by the logger; checked here so a bad one stops start-up instead of logging at info. */
    LOG_LEVEL: env.logLevel(),
    AGENT_TLS_CERT_FILE: optional(z.string().min(1)),
    AGENT_TLS_KEY_FILE: optional(z.string().min(1)),
    AGENT_TLS_CLIENT_CA_FILE: optional(z.string().min(1)),
    ...requestLimitsEnv,
  })
  .refine((c) => Boolean(c.AGENT_TLS_CERT_FILE) === Boolean(c.AGENT_TLS_KEY_FILE), {
    path: ['AGENT_TLS_KEY_FILE'],
    message: 'AGENT_TLS_CERT_FILE and AGENT_TLS_KEY_FILE go together (both for HTTPS, neither for HTTP)',
  })
  .refine((c) => !c.AGENT_TLS_CLIENT_CA_FILE || c.AGENT_TLS_CERT_FILE, {
    path: ['AGENT_TLS_CLIENT_CA_FILE'],
    message: 'client certificates need HTTPS: set AGENT_TLS_CERT_FILE and AGENT_TLS_KEY_FILE too',
  })
  .refine((c) => c.AGENT_LIMIT_DEFAULT <= c.AGENT_LIMIT_MAX, {
    path: ['AGENT_LIMIT_DEFAULT'],
    message: 'must not exceed AGENT_LIMIT_MAX',
  })
  .transform((c): AgentConfig => ({
    host: c.AGENT_HOST,
    port: c.AGENT_PORT,
    tokensFile: c.AGENT_TOKENS_FILE,
    journalDir: c.JOURNAL_DIR ?? null,
    limitDefault: c.AGENT_LIMIT_DEFAULT,
    limitMax: c.AGENT_LIMIT_MAX,
    maxStreams: c.AGENT_MAX_STREAMS,
    busyRetryAfterS: c.AGENT_BUSY_RETRY_AFTER_S,
    journalctl: c.JOURNALCTL,
    journalctlBuffer: c.JOURNALCTL_STDOUT_BUFFER === 'off' ? null : c.JOURNALCTL_STDOUT_BUFFER,
    metricsHost: c.AGENT_METRICS_HOST,
    metricsPort: c.AGENT_METRICS_PORT ?? null,
    tls:
      c.AGENT_TLS_CERT_FILE && c.AGENT_TLS_KEY_FILE
        ? {
            certFile: c.AGENT_TLS_CERT_FILE,
            keyFile: c.AGENT_TLS_KEY_FILE,
            clientCaFile: c.AGENT_TLS_CLIENT_CA_FILE ?? null,
          }
        : null,
    requestLimits: requestLimitsFrom(c),
  }));

/** Reads and validates the agent's environment; throws CONFIG_INVALID naming the variable. */
export function agentConfigFromEnv(source: Record<string, string | undefined> = process.env): AgentConfig {
  return loadConfig(agentEnvSchema, source);
}
