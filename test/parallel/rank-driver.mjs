// Runs many sharded engines in one MPI job, so the multi-rank tests start mpirun twice instead of once per engine:
//   mpirun -np N node rank-driver.mjs JOBS.json
// JOBS.json: [{ engine, prompt: [ids], maxNewTokens, logitsOut, resultOut, fault? }]. Rank 0 generates greedily
// (--ignore-eos) and writes the logits and { output_ids } like `llmc run --json --logits-out`; the other ranks
// follow. fault "hang" / "die" (rank 1 only, after loading): stops or kills that rank, to check that rank 0
// reports it and the job ends. Engines with one rank run on rank 0 alone.
import { writeFileSync } from 'node:fs';

const { Engine } = await import(new URL('../../dist/runtime/engine.js', import.meta.url).href);
const { mpiWorld } = await import(new URL('../../dist/runtime/ranks.js', import.meta.url).href);
const jobs = JSON.parse((await import('node:fs')).readFileSync(process.argv[2], 'utf8'));
const world = mpiWorld();
const rank = world?.rank ?? 0;

for (const job of jobs) {
  const single = JSON.parse((await import('node:fs')).readFileSync(`${job.engine}/config.json`, 'utf8')).mapping?.world_size === 1;
  if (single && rank !== 0) continue;
  const engine = await Engine.load(job.engine, { numThreads: 1 });
  if (rank !== 0) {
    if (job.fault === 'hang' && rank === 1) process.kill(process.pid, 'SIGSTOP');
    if (job.fault === 'die' && rank === 1) process.kill(process.pid, 'SIGKILL');
    await engine.follow();
    engine.close();
    continue;
  }
  const r = await engine.generate(job.prompt, { maxNewTokens: job.maxNewTokens, ignoreEos: true, sampling: { temperature: 0 }, logitsPath: job.logitsOut });
  writeFileSync(job.resultOut, JSON.stringify({ output_ids: r.outputIds }));
  engine.close();
}
