import { gatewaySchema } from '@openai-proxy/gateway';
import {
  runToExit,
  type SpawnedProcess,
  type Stack,
  spawnProcess,
  startStack,
} from '@openai-proxy/test-support';
import { workerSchema } from '@openai-proxy/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, readRepoFile } from './support/deploy/repo.js';

// A newcomer's first commands: the README's quick start (its curl, the ports it names) and
// `npm run demo` (every API, each sample printed as a curl command that works when pasted).

const SHELL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
const READMES = { en: 'README.md', zh: 'README.zh-CN.md' } as const;

/** Runs a pasted command line in a shell, with curl's status code on a last line of its own. */
async function paste(command: string): Promise<{ code: number | null; body: string; status: string }> {
  const { code, output } = await runToExit('sh', ['-c', `${command} -w '\\n%{http_code}'`], {
    env: SHELL_ENV,
  });
  // Blank lines are not kept (an event stream's separators): the status is the last line.
  const lines = output.split('\n');
  return { code, body: lines.slice(0, -1).join('\n'), status: lines.at(-1) ?? '' };
}

/** The README's "Quick start" section, up to the next section. */
function quickStart(readme: string): string {
  const start = readme.indexOf('\n## ');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end);
}

describe('the README quick start (both languages)', () => {
  let stack: Stack<'provider', { gateway: { run: 'in-process' } }>;
  beforeAll(async () => {
    stack = await startStack({ upstreams: ['provider'], gateways: { gateway: { run: 'in-process' } } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it.each(Object.entries(READMES))('%s: its curl, pasted, gets a folded answer', async (_language, file) => {
    const section = quickStart(readRepoFile(file));
    const curl = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
      .map((block) => (block[1] as string).trim())
      .find((block) => block.startsWith('curl '));
    expect(curl, 'a curl command in the quick start').toBeDefined();
    const provider = stack.upstreams.provider;
    const before = provider.stats.byPath['/v1/chat/completions'] ?? 0;
    const command = (curl as string).replace('http://127.0.0.1:3000', stack.gateways.gateway.url);
    const answer = await paste(command);
    expect(answer.code).toBe(0);
    expect(answer.status).toBe('200');
    expect(JSON.parse(answer.body)).toMatchObject({
      object: 'chat.completion',
      choices: [{ message: { role: 'assistant', content: 'echo: Say hello' } }],
    });
    expect(provider.stats.byPath['/v1/chat/completions']).toBe(before + 1);
  });

  it.each(Object.entries(READMES))(
    '%s: names the ports npm start opens, as the apps default them',
    (_language, file) => {
      const section = quickStart(readRepoFile(file));
      const gateway = gatewaySchema.parse({
        UPSTREAM_API_URL: 'http://upstream.example/v1/chat/completions',
      });
      const worker = workerSchema.parse({ UPSTREAM_API_URL: 'http://upstream.example/v1/chat/completions' });
      expect(section).toContain(`\`${gateway.HOST}:${gateway.PORT}\``);
      expect(section).toContain(`\`${worker.WORKER_METRICS_HOST}:${worker.WORKER_METRICS_PORT}\``);
      expect(section).toContain('npm run demo');
    },
  );
});

describe('npm run demo', () => {
  let demo: SpawnedProcess;
  beforeAll(async () => {
    demo = spawnProcess('demo', process.execPath, ['scripts/demo.mjs'], { cwd: REPO_ROOT, env: SHELL_ENV });
    await demo.waitForOutput('The demo keeps running', 60_000);
  }, 90_000);
  afterAll(async () => {
    await demo?.stop('SIGKILL');
  });

  const commands = () => demo.output.filter((line) => line.startsWith('$ ')).map((line) => line.slice(2));

  it('shows a sample of each API, every one answered 200 with the echo', () => {
    const paths = commands().map((command) => /http:\/\/127\.0\.0\.1:\d+(\/\S*)/.exec(command)?.[1]);
    expect(paths).toEqual([
      '/v1/chat/completions',
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/responses',
      '/v1/messages',
      '/health',
    ]);
    expect(demo.output.filter((line) => line === 'HTTP 200')).toHaveLength(5);
    expect(demo.output.filter((line) => line.startsWith('HTTP ') && line !== 'HTTP 200')).toEqual([]);
    const echoes = demo.output.filter((line) => line.includes("echo: Hello from the demo, it's me"));
    // Four folded answers; the streamed one carries the text a word per event.
    expect(echoes).toHaveLength(4);
    expect(demo.output.join('\n')).toContain('queue mode');
  });

  it('prints commands that work when pasted into a shell, while it keeps running', async () => {
    const answers = await Promise.all(commands().map(paste));
    for (const [index, answer] of answers.entries()) {
      expect(answer.code, commands()[index]).toBe(0);
      expect(answer.status, commands()[index]).toBe('200');
    }
    const folded = answers.filter((answer) => answer.body.includes("echo: Hello from the demo, it's me"));
    expect(folded).toHaveLength(4);
    // The streamed sample, pasted: the events, word by word, to the end.
    expect(answers[1]?.body).toContain('"content":" me"');
    expect(answers[1]?.body.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('stops everything it started on Ctrl-C (SIGINT), and exits 0', async () => {
    const gatewayPid = Number(/"pid":(\d+)/.exec(demo.output.join('\n'))?.[1]);
    const addresses = demo.output.flatMap(
      (line) => /^ {2}\S.*?(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? [],
    );
    expect(addresses.length).toBeGreaterThanOrEqual(2);
    expect(await demo.stop('SIGINT')).toBe(0);
    expect(() => process.kill(gatewayPid, 0)).toThrow();
    for (const address of addresses) {
      await expect(fetch(address), address).rejects.toThrow();
    }
  });
});
