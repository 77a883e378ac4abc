/**
 * Writes a per-field step out once for every field of a table, as one function V8 compiles like
 * hand-unrolled code: each field's step is its own call site with its own callee (monomorphic), and
 * an object literal gets one shape. A loop over the table does the same work through one
 * megamorphic call site and keyed stores, about five times slower an entry (ingest's row building
 * and LOAD DATA text were ~2 µs an entry each that way). The table is ours, never input: names are
 * checked to be plain identifiers before they become source.
 *
 * `source` is a function expression; `bound` names the values it may use.
 */
export function unrolled<T>(source: string, bound: Record<string, unknown>): T {
  const names = Object.keys(bound);
  for (const n of names) if (!IDENTIFIER.test(n)) throw new Error(`unrolled: bad name ${n}`);
  return new Function(...names, `'use strict';\nreturn (${source});`)(...Object.values(bound)) as T;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property name of the table as source text (`.name` for identifiers, `["…"]` otherwise). */
export function property(name: string): string {
  return IDENTIFIER.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}
