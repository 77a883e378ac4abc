/**
 * deploy/ cannot run here (no K3s, no Docker), so its files are checked by reading: every YAML
 * parses, manifests are well-formed, images are pinned, nothing secret is written down, and the
 * pieces agree with each other and with stack.yml (timeouts, service names, labels, functions).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseDuration } from '../../local/src/gateway/duration';
import { parseStack } from '../../local/src/stack-file';
import { DRAIN_DEADLINE_MS, POD_GRACE_MS, WATCHDOG_DEFAULTS } from '../../templates/node22-ts/watchdog';
import { ADMIN_IMAGE_PLACEHOLDER } from './validators';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const deployDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(deployDir, '..');
const read = (path: string) => readFileSync(join(deployDir, path), 'utf8');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const files = yamlFiles(deployDir).map((path) => relative(deployDir, path));
const docsOf = (file: string): Doc[] =>
  parseAllDocuments(read(file))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
const manifestFiles = files.filter((f) => f.startsWith('k8s/') && basename(f) !== 'kustomization.yaml');
const manifests = manifestFiles.flatMap((file) => docsOf(file).map((doc) => ({ file, doc })));
const kustomizations = files
  .filter((f) => basename(f) === 'kustomization.yaml')
  .map((f) => ({ file: f, doc: parse(read(f)) as Doc }));
const values = (name: string) => parse(read(`helm/${name}.yaml`)) as Doc;
const stack = parseStack(readFileSync(join(repoRoot, 'stack.yml'), 'utf8'), {});
const ms = (text: string) => {
  const value = parseDuration(text);
  if (value === undefined) throw new Error(`not a duration: ${text}`);
  return value;
};

/** Every value under a key named `key`, anywhere in `node`. */
function collect(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) node.forEach((n) => collect(n, key, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      collect(v, key, out);
    }
  }
  return out;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass']);
const SECRET_NAME = /pass(word)?|secret|token|private|_key$/i;

describe('deploy/: every YAML file', () => {
  it('finds the manifests, values and registry config', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'helm/openfaas.yaml',
        'helm/cron-connector.yaml',
        'helm/vault.yaml',
        'helm/openbao.yaml',
        'k3s/registries.yaml',
        'k8s/11-mysql-primary.yaml',
        'k8s/12-mysql-replica.yaml',
        'k8s/jobs/vault-bootstrap.yaml',
      ]),
    );
  });

  it.each(files)('%s parses as YAML', (file) => {
    const errors = parseAllDocuments(read(file)).flatMap((d) => d.errors.map((e) => e.message));
    expect(errors).toEqual([]);
  });

  it.each(manifestFiles)('%s holds Kubernetes objects with apiVersion, kind, name and namespace', (file) => {
    const docs = docsOf(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc.apiVersion, `${file}: apiVersion`).toMatch(/^([a-z0-9.]+\/)?v\d/);
      expect(typeof doc.kind, `${file}: kind`).toBe('string');
      expect(doc.metadata?.name, `${file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (!CLUSTER_SCOPED.has(doc.kind)) expect(doc.metadata?.namespace, `${file} ${doc.kind}`).toBeTruthy();
    }
  });

  it('lists every manifest in a kustomization', () => {
    for (const file of manifestFiles) {
      const k = kustomizations.find((c) => dirname(c.file) === dirname(file));
      expect(k?.doc.resources, file).toContain(basename(file));
    }
  });
});

describe('deploy/: images are pinned', () => {
  const kustomized = new Map<string, string>(
    kustomizations.flatMap(({ doc }) =>
      (doc.images ?? []).map((i: Doc) => [i.name, String(i.newTag)] as [string, string]),
    ),
  );
  const tagOf = (image: string) => {
    const last = image.split('/').pop() ?? '';
    return last.includes('@sha256:') ? 'digest' : last.includes(':') ? last.split(':').pop() : undefined;
  };

  it('pins every container image in the manifests to a version (directly or in its kustomization)', () => {
    const images = manifests.flatMap(({ doc }) => collect(doc.spec, 'image')) as string[];
    expect(images.length).toBeGreaterThan(3);
    // Our admin image gets the release's tag from deploy/jobs.sh (validators.test.ts checks it).
    for (const image of images.filter((i) => i !== ADMIN_IMAGE_PLACEHOLDER)) {
      const tag = tagOf(image) ?? kustomized.get(image);
      expect(tag, image).toMatch(/^(digest|\d[\w.-]*)$/);
    }
  });

  it('pins the images the Helm values choose', () => {
    const cron = values('cron-connector');
    expect(tagOf(cron.image)).toMatch(/^\d+\.\d+\.\d+$/);
    for (const name of ['vault', 'openbao']) {
      const v = values(name);
      for (const image of [v.injector.image, v.injector.agentImage, v.server.image]) {
        expect(String(image.tag), `${name}: ${image.repository}`).toMatch(/^\d+\.\d+\.\d+$/);
      }
    }
    // OpenBao's values run OpenBao, not Vault, in the server and the injected agents.
    const bao = values('openbao');
    expect([bao.server.image.repository, bao.injector.agentImage.repository]).toEqual([
      'openbao/openbao',
      'openbao/openbao',
    ]);
  });
});

describe('deploy/: no secret is written down', () => {
  it('has no Secret objects: they are created at install time', () => {
    expect(manifests.filter(({ doc }) => doc.kind === 'Secret')).toEqual([]);
  });

  it('passes secrets to containers as files or references, never as literal values', () => {
    const env = manifests.flatMap(({ doc }) => collect(doc.spec, 'env').flat()) as Doc[];
    expect(env.length).toBeGreaterThan(5);
    for (const e of env) {
      if (SECRET_NAME.test(e.name) && !e.name.endsWith('_FILE')) expect(e.value, e.name).toBeUndefined();
      if (e.name.endsWith('_FILE')) expect(e.value, e.name).toMatch(/^\//);
    }
  });

  it('has no password, token or secret values in the Helm values', () => {
    for (const name of ['openfaas', 'cron-connector', 'vault', 'openbao']) {
      const walk = (node: unknown, path: string) => {
        if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            if (SECRET_NAME.test(k) && typeof v === 'string')
              throw new Error(`${name}: ${path}${k} is a literal`);
            walk(v, `${path}${k}.`);
          }
        }
      };
      expect(() => walk(values(name), '')).not.toThrow();
    }
  });

  it('keeps Jenkins credentials out of Groovy strings and logs', () => {
    const jenkinsfile = read('Jenkinsfile');
    const groovy = jenkinsfile.replace(/'''[\s\S]*?'''/g, "''");
    for (const variable of ['REGISTRY_PASSWORD', 'OPENFAAS_PASSWORD']) {
      expect(jenkinsfile).toContain(`passwordVariable: '${variable}'`);
      // Outside shell blocks the name appears only where withCredentials declares it.
      expect(groovy.split(variable).length - 1, variable).toBe(1);
      const uses = jenkinsfile.split('\n').filter((l) => l.includes(`$${variable}`));
      expect(uses.length).toBeGreaterThan(0);
      for (const line of uses) expect(line).toMatch(/printf '%s' "\$\w+" \| .*--password-stdin/);
    }
    expect(jenkinsfile).not.toMatch(/set -x|echo .*PASSWORD/);
  });
});

describe('deploy/ agrees with stack.yml', () => {
  const fns = Object.values(stack.functions);
  const longestExec = Math.max(...fns.map((f) => ms(f.environment?.exec_timeout ?? '10s')));

  it("gives the gateway, provider and queue-worker more time than the longest function's exec_timeout", () => {
    const of = values('openfaas');
    expect(ms(of.gateway.upstreamTimeout)).toBeGreaterThan(longestExec);
    expect(ms(of.gateway.readTimeout)).toBeGreaterThan(ms(of.gateway.upstreamTimeout));
    expect(ms(of.gateway.writeTimeout)).toBeGreaterThan(ms(of.gateway.upstreamTimeout));
    expect(ms(of.faasnetes.readTimeout)).toBeGreaterThanOrEqual(ms(of.gateway.upstreamTimeout));
    expect(ms(of.faasnetes.writeTimeout)).toBeGreaterThanOrEqual(ms(of.gateway.upstreamTimeout));
    expect(ms(of.queueWorker.ackWait)).toBeGreaterThan(longestExec);
    for (const f of fns)
      expect(ms(f.environment?.write_timeout ?? '15s')).toBeLessThan(ms(of.gateway.upstreamTimeout));
  });

  it('points the cron-connector at the gateway the functions use', () => {
    expect(values('cron-connector').gatewayURL).toBe(stack.functions.collect?.environment?.GATEWAY_URL);
    expect(values('cron-connector').asyncInvocation).toBe(false);
  });

  it('has a Service for every database host in stack.yml', () => {
    const services = manifests
      .filter(({ doc }) => doc.kind === 'Service')
      .map(({ doc }) => `${doc.metadata.name}.${doc.metadata.namespace}`);
    for (const f of fns) expect(services).toContain(f.environment?.DB_HOST);
  });

  it('lets each function reach exactly the MySQL side its db-access label names', () => {
    const policies = manifests.filter(({ doc }) => doc.kind === 'NetworkPolicy').map(({ doc }) => doc);
    const allowed = (component: string) => {
      const policy = policies.find(
        (p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === component,
      );
      return (collect(policy?.spec.ingress, 'matchLabels') as Doc[]).map((l) => l['infralogs.io/db-access']);
    };
    for (const f of fns) {
      const access = f.labels?.['infralogs.io/db-access'];
      const side = f.environment?.DB_HOST?.split('-')[1]?.split('.')[0];
      expect(access, f.image).toBe(side);
      expect(allowed(access as string)).toContain(access);
      expect(allowed(access === 'primary' ? 'replica' : 'primary')).not.toContain(access);
    }
  });

  it('installs Vault or OpenBao where VAULT_ADDR points, with the injector and TokenReview rights', () => {
    for (const name of ['vault', 'openbao']) {
      const v = values(name);
      expect(v.injector.enabled, name).toBe(true);
      expect(v.server.authDelegator.enabled, name).toBe(true);
    }
    // Release `vault` of either chart: Service vault.vault, pod vault-0 (openbao needs the override,
    // its chart would say vault-openbao).
    expect(values('openbao').fullnameOverride).toBe('vault');
    for (const f of fns) expect(f.environment?.VAULT_ADDR).toBe('http://vault.vault:8200');
    const jobEnv = manifests.flatMap(({ doc }) => collect(doc.spec, 'env').flat()) as Doc[];
    for (const e of jobEnv.filter((e) => e.name === 'VAULT_ADDR'))
      expect(e.value).toBe('http://vault.vault:8200');
    const readme = read('README.md');
    expect(readme).toContain('helm upgrade vault hashicorp/vault --install --version 0.30.0 -n vault');
    expect(readme).toContain('helm upgrade vault openbao/openbao --install --version 0.29.2 -n vault');
    expect(readme).toContain('exec vault-0 --');
  });

  it('runs the schema Job through the injector as the migrator service account', () => {
    const job = manifests.find(
      ({ doc }) => doc.kind === 'Job' && doc.metadata.name === 'schema-migrate',
    )?.doc;
    const annotations = job?.spec.template.metadata.annotations;
    expect(annotations).toMatchObject({
      'vault.hashicorp.com/agent-inject': 'true',
      'vault.hashicorp.com/agent-pre-populate-only': 'true',
      'vault.hashicorp.com/role': 'infralogs-migrator',
    });
    const sa = job?.spec.template.spec.serviceAccountName;
    expect(manifests.some(({ doc }) => doc.kind === 'ServiceAccount' && doc.metadata.name === sa)).toBe(true);
  });

  it('drains within the pod grace: watchdog accept window and collect drain end before the wrapper deadline', () => {
    const accept = ms(WATCHDOG_DEFAULTS.healthcheck_interval);
    expect(accept).toBeLessThan(DRAIN_DEADLINE_MS);
    expect(DRAIN_DEADLINE_MS).toBeLessThan(POD_GRACE_MS);
    for (const f of fns) {
      // The Dockerfile's accept window holds for every function; CE reads no grace annotation.
      expect(f.environment?.healthcheck_interval, f.image).toBeUndefined();
      expect(Object.keys(f.annotations ?? {}).join(), f.image).not.toMatch(/grace/i);
    }
    const drain = Number(stack.functions.collect?.environment?.COLLECT_DRAIN_MS);
    expect(accept + drain).toBeLessThan(DRAIN_DEADLINE_MS);
  });

  it('pushes and deploys in plain Pipeline jobs too, failing when the branch is unknown', () => {
    const jenkinsfile = read('Jenkinsfile');
    const code = jenkinsfile.replace(/^\s*\/\/.*$/gm, '');
    expect(code).not.toMatch(/branch\s+'/);
    expect(jenkinsfile).toContain('env.BRANCH_NAME ?: (scmVars?.GIT_BRANCH');
    expect(jenkinsfile).toMatch(/if \(!branch\) \{\s*error\(/);
    expect(jenkinsfile).toContain("expression { env.PUSH_IMAGES == 'true' }");
    expect(jenkinsfile).toContain("expression { env.DEPLOY_RELEASE == 'true' }");
    // One tag for every image, and the Jobs get theirs through deploy/jobs.sh.
    expect(jenkinsfile).toContain('docker push "$REGISTRY/vault-bootstrap:$TAG"');
    expect(jenkinsfile).toMatch(/deploy\/jobs\.sh migrate\s+deploy\/jobs\.sh retention/);
  });

  it('waits in the Jenkinsfile for exactly the functions of stack.yml', () => {
    const loop = /for fn in ([\w\s-]+); do/.exec(read('Jenkinsfile'));
    expect(loop?.[1]?.trim().split(/\s+/).sort()).toEqual(Object.keys(stack.functions).sort());
  });

  it('creates in the README the secrets the manifests and stack.yml need', () => {
    const readme = read('README.md');
    for (const key of ['root-password', 'replication-password'])
      expect(readme).toContain(`--from-file="$S/${key}"`);
    expect(readme).toContain('create secret generic vault-bootstrap-token');
    const secrets = new Set(fns.flatMap((f) => f.secrets ?? []));
    for (const name of secrets) expect(readme).toMatch(new RegExp(`for name in [^;]*\\b${name}\\b`));
  });
});
