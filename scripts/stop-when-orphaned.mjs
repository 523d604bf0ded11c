// Preloaded (`node --import`) into every process `npm start` and `npm run dev` run: when the
// wrapper that started it is gone without stopping it (killed with SIGKILL, say), the process
// sends itself SIGTERM, so an app ends gracefully instead of serving on with nobody to stop it.
// A node:cluster child inherits the preload and watches its primary the same way.
const CHECK_MS = 500;
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  process.kill(process.pid, 'SIGTERM');
}, CHECK_MS);
// Never the reason a process stays alive.
timer.unref();
