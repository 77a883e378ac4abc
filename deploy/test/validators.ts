/**
 * The real validators for deploy/, from PyPI into the project's .venv (scripts/setup.sh):
 * `kubernetes-validate --strict` on every manifest and on what the kustomizations render, and
 * `hadolint` on every Dockerfile with deploy/hadolint.yaml (its ignore list says why each rule is
 * off). deploy/test/validators.test.ts runs them in `npm test`; from a shell:
 *   .venv/bin/kubernetes-validate --strict -k 1.33.0 deploy/k8s/*.yaml deploy/k8s/jobs/*.yaml
 *   .venv/bin/hadolint --config deploy/hadolint.yaml agent/Dockerfile vault/Dockerfile templates/node22-ts/Dockerfile
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(repoRoot, '.venv/bin', name);
const run = promisify(execFile);

/** The K3s channel deploy/README.md installs. */
export const KUBERNETES_VERSION = '1.33.0';
export const HADOLINT_CONFIG = join(repoRoot, 'deploy/hadolint.yaml');
/** The admin image as the manifests name it: never pullable; deploy/jobs.sh sets the release's. */
export const ADMIN_IMAGE_PLACEHOLDER = 'release.invalid/infralogs/vault-bootstrap:unset';

type Doc = Record<string, unknown>;

export interface ToolResult {
  ok: boolean;
  output: string;
}

async function tool(file: string, args: string[]): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error(`${file} is missing: run scripts/setup.sh`);
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

/**
 * kubernetes-validate --strict (unknown fields are errors). A kind it has no schema for is only a
 * warning there; here it fails too, so nothing we ship goes unchecked.
 */
export async function kubernetesValidate(files: string[]): Promise<ToolResult> {
  const result = await tool(bin('kubernetes-validate'), [
    '--strict',
    '--quiet',
    '-k',
    KUBERNETES_VERSION,
    ...files,
  ]);
  const unchecked = result.output.split('\n').filter((l) => l.startsWith('WARN'));
  return { ok: result.ok && unchecked.length === 0, output: result.output };
}

export function hadolint(files: string[]): Promise<ToolResult> {
  return tool(bin('hadolint'), ['--no-color', '--config', HADOLINT_CONFIG, ...files]);
}

/** Every Dockerfile of the repository (Dockerfile, Dockerfile.*, *.Dockerfile; not .dockerignore). */
export function dockerfiles(dir = repoRoot): string[] {
  const skip = new Set(['node_modules', '.git', '.venv', '.work', 'build', 'template', 'dist']);
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return skip.has(d.name) ? [] : dockerfiles(path);
    const isDockerfile =
      (d.name === 'Dockerfile' || d.name.startsWith('Dockerfile.') || d.name.endsWith('.Dockerfile')) &&
      !d.name.endsWith('.dockerignore');
    return isDockerfile ? [path] : [];
  });
}

/** The kustomization fields deploy/ uses; anything else is refused, since the renderer ignores it. */
const kustomizationSchema = z
  .object({
    apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
    kind: z.literal('Kustomization'),
    resources: z.array(z.string().min(1)).min(1),
    images: z
      .array(
        z
          .object({ name: z.string(), newName: z.string().optional(), newTag: z.string().optional() })
          .strict(),
      )
      .optional(),
  })
  .strict();

/** The image fields of every container of a workload (Pod templates, Job and CronJob templates). */
function containers(doc: Doc): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (node: unknown, key: string) => {
    if (Array.isArray(node)) {
      if (key === 'containers' || key === 'initContainers') out.push(...(node as Record<string, unknown>[]));
      else node.forEach((n) => walk(n, ''));
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, k);
    }
  };
  walk(doc.spec, 'spec');
  return out;
}

/**
 * What `kustomize build <dir>` gives for deploy/'s kustomizations and deploy/jobs.sh's overlay: the
 * resources (files, or folders with their own kustomization), with `images:` applied
 * (name → newName:newTag). Only those features are used; the schema refuses others. Checked
 * against kustomize 5.6 when written; CI does not build kustomize.
 */
export function renderKustomization(dir: string): Doc[] {
  const k = kustomizationSchema.parse(parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')));
  const docs = k.resources.flatMap((resource) => {
    const path = resolve(dir, resource);
    if (statSync(path).isDirectory()) return renderKustomization(path);
    return parseAllDocuments(readFileSync(path, 'utf8'))
      .map((d) => d.toJS() as Doc | null)
      .filter((d): d is Doc => d !== null);
  });
  for (const doc of docs) {
    for (const container of containers(doc)) {
      const image = String(container.image ?? '');
      const name = image.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
      const rule = k.images?.find((i) => i.name === name);
      if (!rule) continue;
      const tag = rule.newTag ?? (image.slice(name.length).replace(/^:/, '') || undefined);
      container.image = `${rule.newName ?? name}${tag ? `:${tag}` : ''}`;
    }
  }
  return docs;
}
