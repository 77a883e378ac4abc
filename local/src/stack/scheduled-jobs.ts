/**
 * The cluster's CronJobs that are not functions, run by the local stack on the same schedule, with
 * the same command and environment: read from their manifests, so the two cannot drift apart.
 * Today that is the store's daily maintenance (deploy/k8s/jobs/store-retention.yaml): the local
 * gateway ticks it (local/src/gateway/cron.ts) and runs the store CLI as the CronJob's container
 * would run the admin image, with a migrator lease written to a file as the agent injector does.
 */
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { repoRoot, startProcess } from '@infralogs/devkit';
import type { CronJobEntry } from '../gateway';

export const RETENTION_CRONJOB = join(repoRoot, 'deploy/k8s/jobs/store-retention.yaml');
const STORE_CLI = join(repoRoot, 'packages/core/src/store/cli.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The parts of a CronJob manifest the local stack uses; anything else of it is the cluster's. */
const cronJobSchema = z.object({
  kind: z.literal('CronJob'),
  metadata: z.object({ name: z.string().min(1) }),
  spec: z.object({
    schedule: z.string().min(1),
    timeZone: z.literal('Etc/UTC'),
    concurrencyPolicy: z.literal('Forbid'),
    jobTemplate: z.object({
      spec: z.object({
        template: z.object({
          spec: z.object({
            containers: z
              .array(
                z.object({
                  args: z.array(z.string()).min(1),
                  env: z.array(z.object({ name: z.string(), value: z.string() })).default([]),
                }),
              )
              .length(1),
          }),
        }),
      }),
    }),
  }),
});

export interface CronJobSpec {
  name: string;
  schedule: string;
  args: string[];
  env: Record<string, string>;
}

export function readCronJob(file: string): CronJobSpec {
  const doc = cronJobSchema.parse(parse(readFileSync(file, 'utf8')));
  const container = doc.spec.jobTemplate.spec.template.spec.containers[0]!;
  return {
    name: doc.metadata.name,
    schedule: doc.spec.schedule,
    args: container.args,
    env: Object.fromEntries(container.env.map((e) => [e.name, e.value])),
  };
}

export interface StoreJobContext {
  /** The local primary and database, instead of the manifest's cluster addresses. */
  db: { host: string; port: number; database: string };
  /** Short-lived credentials for one run (the migrator's lease locally, as the injector gives it). */
  lease: () => Promise<{ username: string; password: string; revoke?: () => Promise<void> }>;
  /** Where the lease file is written (0600) for the run, and removed after it. */
  dir: string;
  /** Each line the CLI writes (its JSON logs). */
  output?: (line: string) => void;
}

/** A CronJob of the admin image's store commands, as a scheduled job of the local gateway. */
export function storeJob(spec: CronJobSpec, context: StoreJobContext): CronJobEntry {
  return {
    job: spec.name,
    schedule: spec.schedule,
    run: async () => {
      const lease = await context.lease();
      const file = join(context.dir, `${spec.name}-db.json`);
      try {
        await writeFile(file, JSON.stringify({ username: lease.username, password: lease.password }), {
          mode: 0o600,
        });
        const proc = startProcess(process.execPath, ['--import', TSX_LOADER, STORE_CLI, ...spec.args], {
          cwd: repoRoot,
          env: {
            PATH: process.env.PATH ?? '',
            ...spec.env,
            DB_HOST: context.db.host,
            DB_PORT: String(context.db.port),
            DB_NAME: context.db.database,
            DB_CREDENTIALS_FILE: file,
          },
        });
        for (const stream of [proc.child.stdout, proc.child.stderr]) {
          stream?.on('data', (chunk: Buffer) => {
            for (const line of chunk.toString('utf8').split('\n')) if (line) context.output?.(line);
          });
        }
        const code = await proc.exited;
        if (code !== 0) throw new Error(`${spec.name} exited with ${code}: ${proc.output().slice(-1000)}`);
      } finally {
        await rm(file, { force: true });
        await lease.revoke?.();
      }
    },
  };
}
