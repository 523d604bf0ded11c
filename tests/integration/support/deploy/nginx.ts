import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A private nginx serving one site file, with every path of its own in a temporary folder. */
export interface TestNginx {
  readonly url: string;
  /** What `nginx -t` printed for this configuration. */
  readonly testOutput: string;
  stop(): Promise<void>;
}

function mainConfig(dir: string, siteFile: string, httpSettings: string): string {
  return `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    ${httpSettings}
    include ${siteFile};
}
`;
}

/**
 * Runs `nginx -t` on a main configuration that includes `site`, then starts that nginx in the
 * foreground. `site` is the deploy example with its ports replaced by the caller; `httpSettings`
 * stand for what a server's own nginx.conf already has in its `http` block.
 */
export async function startTestNginx(
  nginx: string,
  site: string,
  port: number,
  httpSettings = '',
): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'openai-proxy-nginx-'));
  // Running as root, nginx's workers drop to an unprivileged user that must reach these files.
  chmodSync(dir, 0o755);
  const siteFile = join(dir, 'openai-proxy.conf');
  const mainFile = join(dir, 'nginx.conf');
  writeFileSync(siteFile, site);
  writeFileSync(mainFile, mainConfig(dir, siteFile, httpSettings));
  const args = ['-p', dir, '-c', mainFile, '-e', join(dir, 'error.log')];
  const tested = await run(nginx, ['-t', ...args]);
  const child: ChildProcess = spawn(nginx, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForListening(child, port, () => output);
  return {
    url,
    testOutput: tested.stdout + tested.stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nginx prints nothing when it is up: ask its port until it accepts a connection. */
async function waitForListening(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${output()}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not listen on ${port}: ${output()}`);
}
