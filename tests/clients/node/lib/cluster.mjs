// A 3-node localcos cluster (PostgreSQL + one shared blob dir + an nginx balancer) for
// node:test files.  The cluster is brought up by the Python harness
// (tests/clients/python/cluster.py, run with the repository's .venv, which
// scripts/test.sh creates) so that both languages test the same set-up; it prints one JSON
// line describing the cluster and then takes commands on stdin (`kill9 I`, `start I`,
// `pg-stop`, `pg-start`), answering `ok` or `error: ...`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { REPO, SECRET_ID, SECRET_KEY, cleanEnv, localcosBin } from './localcos.mjs';

export async function startCluster({ nodes = 3, gcGraceSeconds } = {}) {
  const python = process.env.LOCALCOS_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) {
    throw new Error(`${python} not found: run ./scripts/test.sh once (it creates .venv) or set LOCALCOS_PYTHON`);
  }
  const args = [path.join(REPO, 'tests', 'clients', 'python', 'cluster.py'),
    '--secret-id', SECRET_ID, '--secret-key', SECRET_KEY, '--nodes', String(nodes)];
  if (gcGraceSeconds !== undefined) args.push('--gc-grace-seconds', String(gcGraceSeconds));
  const child = spawn(python, args, {
    env: cleanEnv({ LOCALCOS_BIN: localcosBin() }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const rl = readline.createInterface({ input: child.stdout });
  const lines = [];
  const waiters = [];
  rl.on('line', (line) => {
    if (waiters.length) waiters.shift()(line); else lines.push(line);
  });
  const exited = once(child, 'exit');
  const nextLine = (ms) => Promise.race([
    new Promise((resolve) => { if (lines.length) resolve(lines.shift()); else waiters.push(resolve); }),
    exited.then(([code]) => { throw new Error(`cluster harness exited (${code}): ${stderr}`); }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`cluster harness silent for ${ms} ms: ${stderr}`)), ms).unref()),
  ]);
  const info = JSON.parse(await nextLine(120000));
  const asServer = (endpoint) => ({ endpoint, port: Number(endpoint.split(':')[1]), url: `http://${endpoint}` });
  return {
    balancer: asServer(info.balancer),
    nodes: info.nodes.map(asServer),
    blobDir: info.blob_dir,
    /** Sends one harness command (`kill9 1`, `start 1`, `pg-stop`, `pg-start`). */
    async command(cmd) {
      child.stdin.write(`${cmd}\n`);
      const answer = await nextLine(60000);
      if (answer !== 'ok') throw new Error(`${cmd}: ${answer}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
