/**
 * deploy/prometheus: the alert rules pass `promtool check rules` and their unit tests, the scrape
 * config passes `promtool check config`, and everything they (and the READMEs) name agrees with
 * the metrics table in core and with stack.yml's annotations and metrics ports.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { METRICS } from '@infralogs/core';
import { PROMTOOL, promtoolCheckRules, promtoolTestRules, run } from '@infralogs/devkit';
import { parseStack } from '../../local/src/stack-file';
import { WRAPPER_PORT } from '../../templates/node22-ts/watchdog';

const deployDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(deployDir, '..');
const rulesFile = join(deployDir, 'prometheus/infralogs-rules.yml');
const scrapeFile = join(deployDir, 'prometheus/scrape-config.yml');
const stack = parseStack(await readFile(join(repoRoot, 'stack.yml'), 'utf8'), {});
const work = await mkdtemp(join(tmpdir(), 'infralogs-promtool-'));

afterAll(() => rm(work, { recursive: true, force: true }));

/** Metric names a text mentions (histogram series names map to their histogram). */
const namesIn = (text: string) =>
  [...new Set(text.match(/\binfralogs_[a-z_]+/g) ?? [])].map((n) =>
    n in METRICS ? n : n.replace(/_(bucket|sum|count)$/, ''),
  );

describe('deploy/prometheus', () => {
  it('the rules file passes promtool check rules and its unit tests', async () => {
    expect(await promtoolCheckRules(rulesFile)).toMatch(/SUCCESS: 9 rules found/);
    expect(await promtoolTestRules(join(deployDir, 'prometheus/infralogs-rules.test.yml'))).toMatch(
      /SUCCESS/,
    );
  });

  it('the scrape config passes promtool check config', async () => {
    const config = parse(await readFile(scrapeFile, 'utf8')) as { scrape_configs: Record<string, unknown>[] };
    // Debian's prometheus is built without Kubernetes discovery, so its promtool cannot parse
    // kubernetes_sd_configs: that job is checked by reading below, the others by promtool.
    const checkable = config.scrape_configs.filter((j) => !('kubernetes_sd_configs' in j));
    const file = join(work, 'prometheus.yml');
    await writeFile(file, stringify({ rule_files: [rulesFile], scrape_configs: checkable }));
    const { stdout } = await run(PROMTOOL, ['check', 'config', file]);
    expect(stdout).toMatch(/is valid prometheus config file syntax/);

    const pods = config.scrape_configs.find((j) => j.job_name === 'infralogs-functions')!;
    const relabels = JSON.stringify(pods.relabel_configs);
    for (const [name, fn] of Object.entries(stack.functions)) {
      const annotations = fn.annotations ?? {};
      expect(annotations['infralogs.io/scrape'], name).toBe('true');
      // The pod annotation names the port the wrapper's metrics listener is told to use.
      expect(annotations['infralogs.io/metrics-port'], name).toBe(fn.environment?.METRICS_PORT);
      expect(fn.environment?.METRICS_HOST, name).toBe('0.0.0.0');
      expect([8080, WRAPPER_PORT]).not.toContain(Number(fn.environment?.METRICS_PORT));
    }
    expect(relabels).toContain('__meta_kubernetes_pod_annotation_infralogs_io_scrape');
    expect(relabels).toContain('__meta_kubernetes_pod_annotation_infralogs_io_metrics_port');
  });

  it('names only metrics of the table in core (mysqld_exporter aside)', async () => {
    const texts = await Promise.all(
      [rulesFile, join(deployDir, 'README.md'), join(repoRoot, 'README.md')].map((f) => readFile(f, 'utf8')),
    );
    for (const name of texts.flatMap(namesIn)) expect(Object.keys(METRICS), name).toContain(name);
    const rules = texts[0]!;
    const external = [...new Set(rules.match(/\b[a-z]+_[a-z_]+(?=[{[)\s])/g) ?? [])].filter((n) =>
      n.startsWith('mysql_'),
    );
    expect(external).toEqual(['mysql_slave_status_seconds_behind_master']);
  });
});
