import { request } from 'node:http';

/** GET on a fresh connection each time (no keep-alive), so a cluster may hand it to any process. */
export function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Waits until `url` answers 200, asking every `intervalMs`: a process started by a supervisor
 * (PM2, nginx) tells nothing else when it is ready. Gives up after `timeoutMs`.
 */
export async function waitUntilAnswers(url: string, timeoutMs = 20_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if ((await getJson(url)).status === 200) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${String(last)}`);
}

/** Waits until a file (a log PM2 writes, say) contains `text`, reading it every `intervalMs`. */
export async function waitForFileText(
  path: string,
  text: RegExp,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const deadline = Date.now() + timeoutMs;
  let content = '';
  while (Date.now() < deadline) {
    content = await readFile(path, 'utf8').catch(() => '');
    if (text.test(content)) return content;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${path} did not contain ${text} within ${timeoutMs} ms:\n${content}`);
}
