// One build per engine directory at a time, and nothing left over from a build that was killed.
//   - A lock file beside the directory (.NAME.llmc-lock, created with O_EXCL, holding the builder's pid): a second
//     build into the same directory fails at once, naming the first; a lock whose process is gone is taken over.
//   - Temp directories (.NAME.llmc-tmp-PID-HEX, see out-dir.ts) of builds that are no longer running are removed;
//     if a build was killed between moving the previous engine aside (…-old) and moving the new one in, the
//     previous engine is moved back.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail } from '../../errors.js';

export function lockPath(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.llmc-lock`);
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockOwner(path: string): number | null {
  try {
    const pid = Number(JSON.parse(readFileSync(path, 'utf8')).pid);
    return Number.isSafeInteger(pid) ? pid : null;
  } catch {
    return null;  // half-written by a build killed while taking it: stale
  }
}

/** Takes the build lock of `dir` (absolute) or fails with EXISTS naming the build that holds it. Returns the release. */
export function acquireBuildLock(dir: string): () => void {
  const path = lockPath(dir);
  mkdirSync(dirname(dir), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = lockOwner(path);
      if (owner !== null && owner !== process.pid && processAlive(owner)) {
        fail('EXISTS', `another llmc build (pid ${owner}) is writing ${dir}`, `wait for it to finish, or build into another -o directory (remove ${path} if that process is not llmc)`);
      }
      rmSync(path, { force: true });  // its build is gone: take the lock over
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }) + '\n');
    } finally {
      closeSync(fd);
    }
    return () => {
      if (lockOwner(path) === process.pid) rmSync(path, { force: true });
    };
  }
  return fail('EXISTS', `cannot take the build lock ${path}`, 'remove it if no llmc build is running');
}

const TEMP_NAME = /^\.(.+)\.llmc-tmp-(\d+)-[0-9a-f]+(-old)?$/;

/** Leftovers of killed builds of `dir`: temp directories, and the previous engine moved aside (`-old`). */
export function buildLeftovers(dir: string): { path: string; pid: number; old: boolean }[] {
  const parent = dirname(dir);
  if (!existsSync(parent)) return [];
  const out: { path: string; pid: number; old: boolean }[] = [];
  for (const name of readdirSync(parent)) {
    const m = TEMP_NAME.exec(name);
    if (m && m[1] === basename(dir)) out.push({ path: join(parent, name), pid: Number(m[2]), old: m[3] !== undefined });
  }
  return out.filter((x) => x.pid !== process.pid && !processAlive(x.pid));
}

/** With the lock held: puts back a previous engine an interrupted commit left aside, removes the rest. */
export function cleanLeftovers(dir: string, log: (line: string) => void): void {
  for (const x of buildLeftovers(dir)) {
    if (x.old && !existsSync(dir)) {
      renameSync(x.path, dir);
      log(`restored the previous engine in ${dir} (a build killed while replacing it had moved it to ${basename(x.path)})`);
    } else {
      rmSync(x.path, { recursive: true, force: true });
      log(`removed ${x.path}, left by a build that did not finish`);
    }
  }
}
