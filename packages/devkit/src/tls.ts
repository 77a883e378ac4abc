import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './process';

/**
 * Real X.509 material for tests, made with the openssl CLI: a CA, and leaf certificates it signs
 * for chosen names and addresses, including expired ones (which no PKI engine will issue). The
 * local stack and the end-to-end tests use OpenBao's PKI engine instead; this is for the cases a
 * well-behaved CA never produces.
 */
export interface TestCa {
  dir: string;
  /** PEM of the CA certificate (the bundle a client trusts). */
  certPem: string;
  certFile: string;
  /** Signs a leaf; files `<name>.pem` and `<name>.key` in the CA's directory. */
  issue(name: string, options?: LeafOptions): Promise<{ certFile: string; keyFile: string; certPem: string }>;
}

export interface LeafOptions {
  /** Subject alternative names, e.g. ['IP:127.0.0.2', 'DNS:web-1']. Default IP:127.0.0.1. */
  altNames?: string[];
  /** Valid from/to (openssl's YYYYMMDDHHMMSSZ); default now .. 30 days. */
  startDate?: string;
  endDate?: string;
  /** Usage: a server (default) or a client (mTLS) certificate. */
  usage?: 'server' | 'client';
}

const CA_CONFIG = (dir: string) => `[ca]
default_ca = local
[local]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
default_md = sha256
default_days = 30
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
`;

export async function createTestCa(dir: string, commonName = 'Infralogs test CA'): Promise<TestCa> {
  await mkdir(join(dir, 'issued'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  const config = join(dir, 'ca.cnf');
  await writeFile(config, CA_CONFIG(dir));
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  const certPem = await readFile(certFile, 'utf8');
  return {
    dir,
    certPem,
    certFile,
    async issue(name, options = {}) {
      const leafKey = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const leafCert = join(dir, `${name}.pem`);
      const altNames = (options.altNames ?? ['IP:127.0.0.1']).join(',');
      const usage = options.usage === 'client' ? 'clientAuth' : 'serverAuth';
      await run('openssl', [
        'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', leafKey, '-out', csr, '-subj', `/CN=${name}`,
        '-addext', `subjectAltName=${altNames}`, '-addext', `extendedKeyUsage=${usage}`,
      ]); // prettier-ignore
      const dates =
        options.startDate && options.endDate
          ? ['-startdate', options.startDate, '-enddate', options.endDate]
          : [];
      await run('openssl', [
        'ca', '-batch', '-notext', '-config', config, '-cert', certFile, '-keyfile', keyFile,
        '-in', csr, '-out', leafCert, ...dates,
      ]); // prettier-ignore
      return { certFile: leafCert, keyFile: leafKey, certPem: await readFile(leafCert, 'utf8') };
    },
  };
}
