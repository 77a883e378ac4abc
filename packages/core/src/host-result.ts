import { z } from 'zod';

/**
 * What one host's pull did in a run: fetch-host answers it, collect lists it in its run summary
 * and records it in run_hosts (recordHostResult / getRun), and the local stack shows it. One
 * shape for all of them, checked where it crosses a process boundary (parseHostResult).
 */
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const hostErrorSchema = z.object({ code: z.string().min(1).max(64), message: z.string() });
export type HostError = z.infer<typeof hostErrorSchema>;

export const hostResultSchema = z.object({
  host: z.string().min(1).max(255),
  /** Entries read from the agent. */
  fetched: count,
  /** Rows written (new identities) and entries already stored. */
  inserted: count,
  duplicates: count,
  /** Batches committed by ingest. */
  batches: count,
  /** The host's checkpoint after its last committed batch (null before its first one). */
  checkpoint: z.string().nullable(),
  /** The pull stopped at its time budget with entries possibly left: the next run goes on. */
  more: z.literal(true).optional(),
  /** Why the pull stopped early or did not happen; null when it completed. */
  error: hostErrorSchema.nullable(),
});
export type HostResult = z.infer<typeof hostResultSchema>;

export const RUN_STATUSES = ['succeeded', 'partial', 'failed'] as const;
export type RunOutcome = (typeof RUN_STATUSES)[number];

/** collect's answer: the run and every host's result. */
export const runSummarySchema = z.object({
  runId: z.number().int().min(1),
  status: z.enum(RUN_STATUSES),
  hosts: z.array(hostResultSchema),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

/** A host that produced no result of its own (not reached, not started): nothing done, and why. */
export function emptyHostResult(host: string, error: HostError | null): HostResult {
  return { host, fetched: 0, inserted: 0, duplicates: 0, batches: 0, checkpoint: null, error };
}
