import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  ADMIN_IMAGE_PLACEHOLDER,
  dockerfiles,
  hadolint,
  kubernetesValidate,
  renderKustomization,
  repoRoot,
} from './validators';

/**
 * The real validators on what deploy/ ships (see validators.ts): a manifest or Dockerfile they
 * reject fails `npm test`, shown here by feeding each a broken copy.
 */
const run = promisify(execFile);
const k8s = join(repoRoot, 'deploy/k8s');
/** Every manifest file of deploy/k8s and deploy/k8s/jobs (the kustomizations are rendered instead). */
const manifestFiles = [k8s, join(k8s, 'jobs')].flatMap((d) =>
  readdirSync(d)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .map((f) => join(d, f)),
);
let dir: string;
const REGISTRY = '10.0.0.5:5000/infralogs';
const TAG = '0123456789ab';

/** The overlay deploy/jobs.sh writes for one release (it applies it with kubectl -k). */
async function releaseOverlay(): Promise<string> {
  const overlay = join(dir, 'overlay');
  await run('bash', [join(repoRoot, 'deploy/jobs.sh'), 'migrate'], {
    env: { ...process.env, REGISTRY, TAG, JOBS_OVERLAY_DIR: overlay },
  });
  return overlay;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infralogs-validators-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const writeDocs = async (name: string, docs: unknown[]) => {
  const file = join(dir, name);
  await writeFile(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
};

describe('kubernetes-validate --strict', () => {
  it('passes every manifest, the kustomizations and the jobs as deploy/jobs.sh applies them', async () => {
    const rendered = [
      await writeDocs('k8s.yaml', renderKustomization(k8s)),
      await writeDocs('jobs.yaml', renderKustomization(join(k8s, 'jobs'))),
      await writeDocs('release-jobs.yaml', renderKustomization(await releaseOverlay())),
    ];
    expect(manifestFiles.length).toBeGreaterThanOrEqual(9);
    const result = await kubernetesValidate([...manifestFiles, ...rendered]);
    expect(result.ok, result.output).toBe(true);
  });

  it('gives every admin workload the image of the release deploy/jobs.sh is told (REGISTRY, TAG)', async () => {
    const imagesOf = (docs: unknown[]) =>
      docs.flatMap((d) => [...JSON.stringify(d).matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]!));
    const base = imagesOf(renderKustomization(join(k8s, 'jobs')));
    expect(base.filter((i) => i === ADMIN_IMAGE_PLACEHOLDER)).toHaveLength(3);
    const release = imagesOf(renderKustomization(await releaseOverlay()));
    expect(release.sort()).toEqual([
      `${REGISTRY}/vault-bootstrap:${TAG}`,
      `${REGISTRY}/vault-bootstrap:${TAG}`,
      `${REGISTRY}/vault-bootstrap:${TAG}`,
      'mysql:8.4.5',
    ]);
  });

  it('fails a manifest with a misspelt field, naming it', async () => {
    const text = await readFile(join(k8s, 'jobs/store-retention.yaml'), 'utf8');
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, text.replace('concurrencyPolicy:', 'concurencyPolicy:'));
    const result = await kubernetesValidate([broken]);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("'concurencyPolicy' was unexpected");
  });

  it('fails a kind it has no schema for instead of skipping it', async () => {
    const file = await writeDocs('unknown.yaml', [
      { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'x' } },
    ]);
    expect((await kubernetesValidate([file])).ok).toBe(false);
  });
});

describe('hadolint', () => {
  const files = dockerfiles();

  it('finds the Dockerfiles of the agent, the admin image and the function template', () => {
    expect(files.map((f) => relative(repoRoot, f)).sort()).toEqual([
      'agent/Dockerfile',
      'templates/node22-ts/Dockerfile',
      'vault/Dockerfile',
    ]);
  });

  it('passes every Dockerfile with the documented ignore list (deploy/hadolint.yaml)', async () => {
    const result = await hadolint(files);
    expect(result.ok, result.output).toBe(true);
  });

  it('fails a broken Dockerfile, naming the rule', async () => {
    const text = await readFile(join(repoRoot, 'vault/Dockerfile'), 'utf8');
    const broken = join(dir, `${basename(dir)}.Dockerfile`);
    // An unpinned base image and a `cd` in RUN.
    await writeFile(broken, text.replace('FROM node:20-bookworm-slim\n', 'FROM node\nRUN cd /tmp && ls\n'));
    const result = await hadolint([broken]);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/DL3006/);
    expect(result.output).toMatch(/DL3003/);
  });
});
