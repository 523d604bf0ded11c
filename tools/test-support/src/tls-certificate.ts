import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToExit } from './spawned-process.js';

/** A self-signed certificate for 127.0.0.1: the server's certificate and the clients' CA at once. */
export interface TlsCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Made by the `openssl` command, valid for a day; a TLS client trusts it as its CA. */
export async function makeTlsCertificate(): Promise<TlsCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const { code, output } = await runToExit(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { env: { PATH: process.env.PATH ?? '' } },
  );
  if (code !== 0) throw new Error(`openssl could not make a certificate:\n${output}`);
  return { certFile, keyFile };
}
