import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@infralogs/devkit';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Production runs MySQL 8, CI runs MariaDB: SQL that only MariaDB accepts passes every server test
 * here and fails in production. This reads the string literals (not the comments) of the sources
 * that send SQL to the production servers and refuses MariaDB-only syntax. packages/devkit is left
 * out on purpose: it drives the MariaDB test servers themselves (SHOW SLAVE, MASTER_GTID_WAIT).
 */
const SOURCES = [
  ...readdirSync(join(repoRoot, 'packages/core/src/store'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `packages/core/src/store/${f}`),
  'vault/src/bootstrap.ts',
  'dashboard-fn/src/queries.ts',
];

/** What MySQL 8 refuses or treats differently, with the reason shown on failure. */
const MARIADB_ONLY: [RegExp, string][] = [
  [/\bRETURNING\b/i, 'INSERT/DELETE … RETURNING: MariaDB only'],
  [/\bCREATE\s+OR\s+REPLACE\b/i, 'CREATE OR REPLACE: MariaDB only (MySQL has it for views only)'],
  [
    /\b(ADD|DROP|MODIFY|CHANGE)\s+(COLUMN|INDEX|KEY|PARTITION|CONSTRAINT|FOREIGN\s+KEY)\s+IF\s+(NOT\s+)?EXISTS\b/i,
    'ALTER TABLE … ADD/DROP … IF [NOT] EXISTS: MariaDB only',
  ],
  [/\bCREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\b/i, 'CREATE INDEX IF NOT EXISTS: MariaDB only'],
  [/\bDROP\s+INDEX\s+IF\s+EXISTS\b/i, 'DROP INDEX IF EXISTS: MariaDB only'],
  [/\bSHOW\s+(ALL\s+)?SLAVES?\b/i, 'SHOW SLAVE STATUS: removed in MySQL 8.4 (SHOW REPLICA STATUS)'],
  [/\bMASTER_GTID_WAIT\b/i, 'MASTER_GTID_WAIT: MariaDB only (MySQL: WAIT_FOR_EXECUTED_GTID_SET)'],
  [/\bgtid_(binlog|slave|current)_pos\b/i, 'gtid_*_pos: MariaDB GTIDs (MySQL: gtid_executed)'],
  [/\bmax_statement_time\b/i, 'max_statement_time: MariaDB only (MySQL: max_execution_time)'],
  [/\bCREATE\s+SEQUENCE\b/i, 'CREATE SEQUENCE: MariaDB only'],
  [/\b(NEXTVAL|LASTVAL|SETVAL)\s*\(|\bNEXT\s+VALUE\s+FOR\b/i, 'sequence functions: MariaDB only'],
];

/** The text of every string and template literal in a source, substitutions shown as `?`. */
function literals(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) {
      out.push([node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ? '));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function offences(texts: string[]): string[] {
  return texts.flatMap((text) =>
    MARIADB_ONLY.filter(([re]) => re.test(text)).map(([, why]) => `${why}: ${text.trim().slice(0, 120)}`),
  );
}

describe('SQL sent to production stays within MySQL 8', () => {
  it('finds the SQL-bearing sources and their statements', () => {
    // Guards against a moved file or a broken reader making the check below pass vacuously.
    expect(SOURCES).toEqual(expect.arrayContaining(['packages/core/src/store/ingest.ts']));
    const all = SOURCES.flatMap((f) => literals(join(repoRoot, f)));
    expect(all.some((t) => /\bINSERT INTO log_counts_hourly\b/.test(t))).toBe(true);
    expect(all.some((t) => /\bCREATE TABLE IF NOT EXISTS logs\b/.test(t))).toBe(true);
  });

  it('uses no MariaDB-only syntax', () => {
    const found = SOURCES.flatMap((f) =>
      offences(literals(join(repoRoot, f))).map((o) => `${relative(repoRoot, join(repoRoot, f))}: ${o}`),
    );
    expect(found).toEqual([]);
  });

  it('recognises the MariaDB-only forms, and not what MySQL 8 accepts', () => {
    const refused = [
      'INSERT INTO runs (started_at) VALUES (NOW()) RETURNING id',
      'CREATE OR REPLACE TABLE t (id INT)',
      'ALTER TABLE logs ADD COLUMN IF NOT EXISTS extra INT',
      'ALTER TABLE logs ADD INDEX IF NOT EXISTS by_ts (ts)',
      'DROP INDEX IF EXISTS by_ts ON logs',
      'SHOW SLAVE STATUS',
      'SELECT MASTER_GTID_WAIT(?, 1)',
      'SET SESSION max_statement_time = 5',
      'CREATE SEQUENCE s',
      'SELECT NEXTVAL(s)',
      `SELECT @@gtid_binlog_pos`,
    ];
    for (const sql of refused) expect(offences([sql]), sql).not.toEqual([]);
    const accepted = [
      'CREATE TABLE IF NOT EXISTS hosts (id INT)',
      "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?",
      "DROP USER IF EXISTS '{{name}}'@'%'",
      'INSERT INTO hosts SET name = ?',
      'INSERT INTO t (a) VALUES ? ON DUPLICATE KEY UPDATE n = n + VALUES(n)',
      'SELECT returning_user FROM t',
    ];
    expect(offences(accepted)).toEqual([]);
  });
});
