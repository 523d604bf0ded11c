// PM2 process file: `pm2 start deploy/pm2/ecosystem.config.cjs` in a built checkout
// (`npm ci && npm run build`). See README.md, "Deployment" → "PM2".
//
// Configuration is the proxy's own environment variables (README, "Configuration"): export them
// in the shell that runs `pm2 start` (e.g. `set -a; . /etc/openai-proxy/openai-proxy.env; set +a`)
// and use `pm2 restart <app> --update-env` after changing them. Nothing is set here, so the
// variables stay in one place.
const path = require('node:path');

// Paths from this file, so `pm2 start` works from any directory.
const root = path.resolve(__dirname, '..', '..');
const logs = path.join(root, 'logs');

module.exports = {
  apps: [
    {
      // The gateway runs in PM2 cluster mode: `pm2 reload gateway` starts the new instance and
      // waits for it to listen before stopping the old one, so the port never goes away. One
      // instance keeps /metrics exact (each scrape would otherwise reach one instance at random);
      // for more cores raise `instances` or run `pm2 scale gateway N`. GATEWAY_PROCESSES stays 1:
      // PM2 is the cluster primary here.
      name: 'gateway',
      cwd: root,
      script: 'apps/gateway/dist/main.js',
      exec_mode: 'cluster',
      instances: 1,
      // SIGINT first; the gateway finishes in-flight requests within SHUTDOWN_GRACE_MS (30 s).
      kill_timeout: 35_000,
      listen_timeout: 15_000,
      out_file: path.join(logs, 'gateway.out.log'),
      error_file: path.join(logs, 'gateway.err.log'),
      // One file for all instances; each JSON line carries its pid.
      merge_logs: true,
    },
    {
      // The worker is its own node:cluster primary (WORKER_PROCESSES children, one metrics port),
      // so PM2 runs exactly one process for it, in fork mode.
      name: 'worker',
      cwd: root,
      script: 'apps/worker/dist/main.js',
      exec_mode: 'fork',
      instances: 1,
      // Signal only the primary; it stops its children after they finish their active jobs.
      treekill: false,
      kill_timeout: 40_000,
      out_file: path.join(logs, 'worker.out.log'),
      error_file: path.join(logs, 'worker.err.log'),
      merge_logs: true,
    },
  ],
};
