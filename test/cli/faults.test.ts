// Faults that must lose nothing (docs/hardening.md, "Faults"): a build SIGKILLed at every point of its write path,
// a full disk (injected, and a real tiny tmpfs where the test may mount one), two builds into one directory,
// SIGINT during `llmc run`, the engine removed while it runs or truncated in place, and an mmap that fails for want
// of address space.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULT_POINTS } from '../../src/compiler/engine/fault-hooks.js';
import { expectCleanError, goldenDir, llmc, repoRoot, tempDir } from '../helpers/cli.js';

const work = tempDir('llmc-faults-');
const llama = join(goldenDir, 'llama', 'model');
const gpt2 = join(goldenDir, 'gpt2', 'model');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const run = (dir: string) => llmc(['run', dir, '--token-ids', '1,2,3', '--max-new-tokens', '2', '--temperature', '0']);

describe('a build killed (SIGKILL) at each point of its write path', () => {
  const parent = join(work, 'killed');
  const dir = join(parent, 'engine');
  let before: string;
  beforeAll(() => {
    expect(llmc(['build', llama, '-o', dir]).code).toBe(0);
    before = sha(join(dir, 'rank0.engine'));
  });

  test.each(FAULT_POINTS.filter((p) => p !== 'committed'))('killed at %s: the previous engine is intact and loads', (point) => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'build', gpt2, '-o', dir],
      { encoding: 'utf8', env: { ...process.env, LLMC_TEST_FAULT: `kill-at:${point}` } });
    expect(r.signal).toBe('SIGKILL');
    if (point === 'commit') {
      // Killed between moving the old engine aside and moving the new one in: `llmc run` says where the old one is,
      // and the next build puts it back before anything else (here killed right after, so nothing new is committed).
      expectCleanError(run(dir), /a build killed while replacing it left the previous engine in .*\.engine\.llmc-tmp-\d+-[0-9a-f]+-old/);
      const again = spawnSync(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'build', gpt2, '-o', dir],
        { encoding: 'utf8', env: { ...process.env, LLMC_TEST_FAULT: 'kill-at:engine-header' } });
      expect(again.signal).toBe('SIGKILL');
      expect(again.stdout).toMatch(/restored the previous engine in .*engine/);
    }
    expect(sha(join(dir, 'rank0.engine'))).toBe(before);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model.architecture).toBe('LlamaForCausalLM');
    expect(run(dir).code).toBe(0);
    // What the killed build left: temp directories (never engines: config.json is written last, or they are the
    // finished new engine) and a stale lock; nothing that `llmc run` would take for the engine.
    for (const name of readdirSync(parent).filter((n) => n.includes('.llmc-tmp-'))) {
      const complete = existsSync(join(parent, name, 'config.json'));
      if (complete) expect(existsSync(join(parent, name, 'rank0.engine'))).toBe(true);
    }
  });

  test('killed right after the commit: the new engine is complete; the next build cleans every leftover', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'build', gpt2, '-o', dir],
      { encoding: 'utf8', env: { ...process.env, LLMC_TEST_FAULT: 'kill-at:committed' } });
    expect(r.signal).toBe('SIGKILL');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model.architecture).toBe('GPT2LMHeadModel');
    expect(run(dir).code).toBe(0);
    const b = llmc(['build', llama, '-o', dir]);
    expect(b.code).toBe(0);
    expect(readdirSync(parent)).toEqual(['engine']);   // no temp directory, no lock file
    expect(sha(join(dir, 'rank0.engine'))).toBe(before);
  });
});

describe('a full disk during the build', () => {
  test('injected ENOSPC: one line, nothing left behind, the previous engine untouched', () => {
    const parent = join(work, 'enospc');
    const fresh = llmc(['build', llama, '-o', join(parent, 'new')], { env: { LLMC_TEST_FAULT: 'enospc-after:100000' } });
    expectCleanError(fresh, /^error: cannot write the engine .*new: no space left on device \(ENOSPC\); nothing was changed there; free some space and build again$/);
    expect(readdirSync(parent)).toEqual([]);
    const dir = join(parent, 'old');
    expect(llmc(['build', gpt2, '-o', dir]).code).toBe(0);
    const before = sha(join(dir, 'rank0.engine'));
    expectCleanError(llmc(['build', llama, '-o', dir], { env: { LLMC_TEST_FAULT: 'enospc-after:5000' } }), /no space left on device/);
    expect(readdirSync(parent)).toEqual(['old']);
    expect(sha(join(dir, 'rank0.engine'))).toBe(before);
  });

  // A real full filesystem needs mount(2): root with CAP_SYS_ADMIN (CI containers often have it; else skipped).
  const mnt = join(work, 'tmpfs');
  mkdirSync(mnt, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status === 0;
  afterAll(() => { if (mounted) spawnSync('umount', [mnt]); });
  (mounted ? test : test.skip)('a real 256 KiB tmpfs: ENOSPC is one line and the filesystem is left empty', () => {
    const r = llmc(['build', llama, '-o', join(mnt, 'engine')]);
    expectCleanError(r, /cannot write the engine .*: no space left on device \(ENOSPC\)/);
    expect(readdirSync(mnt)).toEqual([]);
  });
});

describe('two builds into one directory', () => {
  test('the second fails at once naming the first, which finishes', async () => {
    const parent = join(work, 'concurrent');
    const dir = join(parent, 'engine');
    const first = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'build', llama, '-o', dir],
      { env: { ...process.env, LLMC_TEST_FAULT: 'sleep-at:locked:8000' }, stdio: 'ignore' });
    const firstDone = new Promise<number>((resolve) => first.on('exit', (code) => resolve(code ?? -1)));
    const lock = join(parent, '.engine.llmc-lock');
    for (let i = 0; i < 200 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(lock)).toBe(true);
    const second = llmc(['build', gpt2, '-o', dir]);
    expectCleanError(second, new RegExp(`another llmc build \\(pid ${first.pid}\\) is writing .*engine; wait for it to finish`));
    expect(await firstDone).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model.architecture).toBe('LlamaForCausalLM');
    expect(readdirSync(parent)).toEqual(['engine']);
  }, 60_000);

  test('a lock left by a build that is gone is taken over', () => {
    const parent = join(work, 'stale');
    mkdirSync(parent, { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(parent, '.engine.llmc-lock'), JSON.stringify({ pid: Number(gone.stdout) }));
    expect(llmc(['build', llama, '-o', join(parent, 'engine')]).code).toBe(0);
    expect(readdirSync(parent)).toEqual(['engine']);
  });
});

describe('a running engine', () => {
  // A dummy-weight model big enough that 2000 tokens take many seconds: the signal lands mid-generation.
  const dir = join(work, 'slow');
  beforeAll(() => {
    const cfg = join(work, 'slow-config.json');
    writeFileSync(cfg, JSON.stringify({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
      num_attention_heads: 4, num_key_value_heads: 4, vocab_size: 32000, max_position_embeddings: 4096, rms_norm_eps: 1e-5,
      hidden_act: 'silu', torch_dtype: 'float32', bos_token_id: 1, eos_token_id: 2,
    }));
    expect(llmc(['build', '--dummy-weights', '--config', cfg, '-o', dir, '--max-seq-len', '4096', '--max-batch-size', '1']).code).toBe(0);
  });

  /** Starts a streaming run, calls `act` once `tokens` ids are out, resolves with what the process printed. */
  function streamUntil(engine: string, tokens: number, act: (pid: number) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'run', engine, '--token-ids', '1,2,3', '--max-new-tokens', '2000',
        '--stream', '--ignore-eos', '--temperature', '0'], { env: { ...process.env, LLMC_DEBUG: '' } });
      let stdout = '';
      let stderr = '';
      let acted = false;
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!acted && stdout.split(',').length > tokens) {
          acted = true;
          act(p.pid!);
        }
      });
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('SIGINT stops generation cleanly: exit 130, the tokens so far printed, a stats line, no error', async () => {
    const r = await streamUntil(dir, 3, (pid) => process.kill(pid, 'SIGINT'));
    expect(r.code).toBe(130);
    const ids = r.stdout.trim().split(',');
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(ids.length).toBeLessThan(2000);
    expect(ids.every((x) => /^\d+$/.test(x))).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`generated ${ids.length} \\(stop: cancelled\\)`));
    expect(r.stderr).not.toMatch(/error|at .*:\d+:\d+/);
  }, 120_000);

  test('the engine directory removed while it runs: generation completes (the mapping keeps the file)', async () => {
    const copy = join(work, 'removed');
    expect(llmc(['build', llama, '-o', copy, '--max-seq-len', '128']).code).toBe(0);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(repoRoot, 'bin', 'llmc.js'), 'run', copy, '--token-ids', '1,2,3', '--max-new-tokens', '100',
        '--stream', '--ignore-eos', '--temperature', '0']);
      let stdout = '';
      let removed = false;
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!removed) { removed = true; rmSync(copy, { recursive: true, force: true }); }
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(existsSync(copy)).toBe(false);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(',').length).toBe(100);
  }, 120_000);

  test('the engine file truncated in place while it runs: a one-line error naming the file, exit 1 (not a SIGBUS)', async () => {
    const copy = join(work, 'truncated');
    expect(llmc(['build', '--dummy-weights', '--config', join(work, 'slow-config.json'), '-o', copy, '--max-seq-len', '4096', '--max-batch-size', '1']).code).toBe(0);
    const file = join(copy, 'rank0.engine');
    const r = await streamUntil(copy, 3, () => truncateSync(file, 8192));
    expect(r.code).toBe(1);
    const stderr = r.stderr.replace(/^warning: this engine has dummy weights.*\n/, '');   // printed at load
    expectCleanError({ code: r.code ?? -1, stdout: r.stdout, stderr },
      /^error: .*truncated\/rank0\.engine shrank while this process had it mapped \(truncated or rewritten in place by something else\); restart with an intact engine/);
    expect(r.stdout.trim().split(',').length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  test('an mmap that fails (no address space for a 64 GiB engine under ulimit -v) is a one-line error', () => {
    const big = join(work, 'big');
    expect(llmc(['build', llama, '-o', big]).code).toBe(0);
    const file = join(big, 'rank0.engine');
    const b = readFileSync(file);
    const d = Number(b.readBigUInt64LE(24));
    b.writeBigUInt64LE(64n * 2n ** 30n, 32);             // a valid layout whose data section is 64 GiB (sparse)
    writeFileSync(file, b.subarray(0, d));
    truncateSync(file, d + 64 * 2 ** 30);
    const limitKb = 24 * 1024 * 1024;                     // 24 GiB of address space: plenty for node, not for the map
    const r = spawnSync('sh', ['-c', `ulimit -v ${limitKb} && exec "$0" "$@"`, process.execPath, join(repoRoot, 'bin', 'llmc.js'),
      'run', big, '--token-ids', '1,2,3', '--max-new-tokens', '2'], { encoding: 'utf8', env: { ...process.env, LLMC_DEBUG: '' } });
    expectCleanError({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr },
      /cannot mmap .*rank0\.engine \(68719\d+ bytes\): Cannot allocate memory; the process has no address space left for it/);
  });
});
