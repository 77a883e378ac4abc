// Preloaded into a function process by `npm run bench:e2e -- --profile DIR` (NODE_OPTIONS=--import,
// as node 20 refuses --cpu-prof there): records a V8 CPU profile from start-up and writes it to
// DIR/<pid>.cpuprofile when the process exits (open it in Chrome DevTools or speedscope). The
// in-process inspector session answers synchronously, so this works inside the 'exit' handler.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
