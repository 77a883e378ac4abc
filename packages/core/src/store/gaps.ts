import type { Entry } from '../entry';

/** Where a host's journal was last read up to: the checkpoint's position. */
export interface Position {
  seqnumId: string;
  seqnum: number;
  realtimeUs: number | null;
}

/** A source gap: entries after_seqnum+1 … before_seqnum-1 of one seqnum_id never reached us. */
export interface Gap {
  seqnumId: string;
  bootId: string;
  afterSeqnum: number;
  beforeSeqnum: number;
  missing: number;
  afterRealtimeUs: number | null;
  beforeRealtimeUs: number;
}

/**
 * Finds seqnum jumps within one seqnum_id, across the batch and from the previous checkpoint to the
 * batch. journalctl emits the entries of one seqnum_id in seqnum order, so a jump means entries
 * were lost at the source (vacuumed, rate-limited, corrupted). A seqnum_id seen for the first time
 * (new journal file set, new machine) or a new boot is not a gap by itself, and an entry at or below
 * the highest seqnum already seen (a replay or an overlap) is not one either.
 */
export function detectGaps(
  previous: Position | null,
  entries: Pick<Entry, 'seqnumId' | 'seqnum' | 'bootId' | 'realtimeUs'>[],
): Gap[] {
  const highest = new Map<string, { seqnum: number; realtimeUs: number | null }>();
  if (previous) highest.set(previous.seqnumId, previous);
  const gaps: Gap[] = [];
  for (const e of entries) {
    const h = highest.get(e.seqnumId);
    if (h && e.seqnum > h.seqnum + 1) {
      gaps.push({
        seqnumId: e.seqnumId,
        bootId: e.bootId,
        afterSeqnum: h.seqnum,
        beforeSeqnum: e.seqnum,
        missing: e.seqnum - h.seqnum - 1,
        afterRealtimeUs: h.realtimeUs,
        beforeRealtimeUs: e.realtimeUs,
      });
    }
    if (!h || e.seqnum > h.seqnum) highest.set(e.seqnumId, e);
  }
  return gaps;
}
