// Writes an engine directory (docs/engine-format.md): rank0.engine (header, plan JSON, weights streamed one at a
// time from the checkpoint, converted to their dtype), config.json (the manifest), and the tokenizer and
// generation files copied from the checkpoint.
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SCHEMA_HASH } from '../ir/ops.generated.js';
import type { Graph } from '../ir/graph.js';
import type { Checkpoint } from '../hf/checkpoint.js';
import { TensorReader, type TensorInfo } from '../hf/safetensors.js';
import type { GenerationIds } from '../hf/generation.js';
import type { ModelConfig } from '../models/config.js';
import type { BuildDType } from '../api.js';
import type { KvCacheDType } from './kv-dtype.js';
import {
  alignUp, COPIED_FILES, DATA_ALIGN, ENGINE_FILE, FORMAT_VERSION, HEADER_BYTES, HEADER_OFFSETS as AT, MAGIC, MANIFEST_FILE, rankFile, type Plan,
} from './format.js';
import { memoryPlan, type MemoryPlan } from './memory-plan.js';
import { buildPlan, layoutWeights, planJson, type Limits, type WeightLayout } from './plan.js';
import { WeightData } from './weight-data.js';
import { commitTempDir, makeTempDir } from './out-dir.js';
import { acquireBuildLock, cleanLeftovers } from './build-lock.js';
import { faultPoint, injectedWriteFailure } from './fault-hooks.js';
import { LlmcError } from '../../errors.js';
import { llmcVersion } from './version.js';
import type { QuantizationSummary } from '../quant/options.js';
import { digestFile, engineFiles, manifestDigest, type FileDigest, type Integrity } from './integrity.js';
import { InlineDigest, SegmentedDigest, WorkerDigest } from './digest-worker.js';
import { cutAt, digestSpans, rootDigest, SpanStore, type Segment, type Span } from './segment-digest.js';
import { workerHashBytes } from '../cache/hash-worker.js';
import { cpuSince, threadCpu, type ThreadCpu } from './thread-cpu.js';

export interface EngineInput {
  outDir: string;              // absolute; already checked by checkOutDir
  graph: Graph;                // after the pipeline (memory planned); rank 0's of a sharded engine
  /** A sharded engine: every rank's graph in rank order (ranks[0] is `graph`); each becomes rank<r>.engine. */
  ranks?: Graph[];
  cfg: ModelConfig;
  limits: Limits;
  dtype: BuildDType;
  kvCacheDType?: KvCacheDType;  // default float32
  passes: string[];
  /** The checkpoint the weights are read from; null for a dummy-weight build (then `dummy` is set). */
  checkpoint: Checkpoint | null;
  dummy?: DummySource;
  /** The manifest's `target` (default { backend: 'cpu' }) and the files it needs (a cuda engine's fatbin). */
  target?: Record<string, unknown>;
  files?: { path: string; bytes: Buffer }[];
  /** How the linears are quantized (manifest "quantization"); absent for a float engine. */
  quantization?: QuantizationSummary;
  /** Progress lines (what was cleaned up or restored from an interrupted build). */
  log?: (line: string) => void;
  /** node name -> the pass that made it (src/passes/provenance.ts), for llmc verify. */
  provenance?: Record<string, string[]>;
  /** Built as llmc verify's reference (float32, no fusion). */
  reference?: boolean;
  /** The content key (src/compiler/cache/build-key.ts) and the inputs' date (reproducible `created`). */
  buildKey?: () => unknown;       // called when the manifest is written (the inputs hash on a worker meanwhile)
  created?: string | null;
  /** sha256 of checkpoint spans (segment-digest.ts): the writer uses those known and records the tensors it hashes. */
  spans?: SpanStore;
  /** Called before any weight is written with the keys of the checkpoint spans whose sha256 the writer will put
   * in `spans` (the tensors it copies whole): the input hashing need not read them (cache/hash-worker.ts). */
  beforeStreaming?: (supplied: Set<string>) => void;
}

/** Where a dummy-weight engine came from (llmc build --dummy-weights --config ...). */
export interface DummySource {
  config: string;              // preset name or config path, as the manifest records it
  seed: number;
  dir: string | null;          // checkpoint directory to copy tokenizer files from
  generation: GenerationIds;
}

export interface EngineOutput {
  manifest: Record<string, unknown>;
  memory: MemoryPlan;             // rank 0's
  rankMemory: MemoryPlan[];       // every rank's, in rank order
  /** The weight streaming of every rank file together: checkpoint bytes read, engine bytes written, seconds. */
  stream: StreamStats;
}

export interface StreamStats {
  bytesRead: number; bytesWritten: number; seconds: number;
  /** The main thread's CPU seconds while streaming (null where /proc/thread-self is not there). */
  mainCpu: ThreadCpu | null;
  /** The engine file's sha256 on a worker thread: its CPU seconds, and the seconds the main thread waited for it
   * after the last write (included in `seconds`); null when it was hashed on the main thread. */
  hashWorker: { cpu: ThreadCpu | null; waited: number } | null;
}

export function writeEngine(input: EngineInput): EngineOutput {
  const graphs = input.ranks ?? [input.graph];
  const ranks = graphs.map((g) => {
    const layout = layoutWeights(g);
    return {
      g, layout, plan: buildPlan(g, input.cfg, input.limits, layout, input.kvCacheDType),
      memory: memoryPlan(g, input.cfg, input.limits, layout, input.kvCacheDType),
    };
  });
  const memory = ranks[0].memory;
  const copyDir = input.checkpoint?.dir ?? input.dummy?.dir ?? null;
  const tokenizerPresent = copyDir !== null && existsSync(join(copyDir, 'tokenizer.json'));
  const manifest = buildManifest(input, memory, tokenizerPresent);
  if (graphs.length > 1) manifest.mapping = rankMapping(ranks.map((r) => ({ g: r.g, weightsBytes: r.memory.weights_bytes })));

  // One build per directory; leftovers of killed builds are cleaned (build-lock.ts). config.json is written last,
  // so a temp directory is never an engine until it is complete, and the rename makes it one atomically.
  const release = acquireBuildLock(input.outDir);
  let tmp: string | null = null;
  const stream: StreamStats = { bytesRead: 0, bytesWritten: 0, seconds: 0, mainCpu: null, hashWorker: null };
  const rankDigests = new Map<string, FileDigest>();   // written files' digests, hashed as they were written
  try {
    faultPoint('locked');
    cleanLeftovers(input.outDir, input.log ?? (() => {}));
    tmp = makeTempDir(input.outDir);
    // One file at a time, each streamed weight by weight from the checkpoint: the model is never held whole.
    const t0 = performance.now();
    const cpu0 = threadCpu();
    const tensors = input.checkpoint?.tensors ?? new Map<string, TensorInfo>();
    const store = input.spans ?? new SpanStore();
    const seen = new Set<string>();
    const files = ranks.map((r) => planEngineFile(r.plan, r.layout, tensors, store, seen));
    input.beforeStreaming?.(new Set(files.flatMap((f) => f.keys.filter((k, i): k is string => k !== null && f.skip[i] === false))));
    files.forEach((f, i) => {
      const file = graphs.length > 1 ? rankFile(i) : ENGINE_FILE;
      const { digest, bytesRead, hashWorker } = writeEngineFile(join(tmp!, file), f, ranks[i].layout, tensors, store);
      rankDigests.set(file, digest);
      stream.bytesRead += bytesRead;
      stream.bytesWritten += digest.bytes;
      if (hashWorker) stream.hashWorker = addWorker(stream.hashWorker, hashWorker);
    });
    // A tensor copied twice (tied embeddings, or on two ranks) is hashed once: the later copies take its sha256.
    files.forEach((f, i) => {
      const file = graphs.length > 1 ? rankFile(i) : ENGINE_FILE;
      const d = rankDigests.get(file)!;
      if (d.sha256 === '' || d.segments?.some((x) => x[2] === '')) rankDigests.set(file, fileDigest(digestSpans(join(tmp!, file), f.segments), f.size));
    });
    stream.seconds = (performance.now() - t0) / 1000;
    stream.mainCpu = cpuSince(cpu0);
    for (const f of input.files ?? []) {
      mkdirSync(dirname(join(tmp, f.path)), { recursive: true });
      writeFileSync(join(tmp, f.path), f.bytes);
    }
    for (const f of copyDir === null ? [] : COPIED_FILES) {
      const src = join(copyDir!, f);
      if (existsSync(src)) copyFileSync(src, join(tmp, f));
    }
    // Checksums of every file (llmc verify --integrity), the manifest last: it holds them.
    if (input.buildKey) manifest.build_key = input.buildKey();
    const digests: Record<string, FileDigest> = {};
    for (const f of engineFiles(tmp)) digests[f] = rankDigests.get(f) ?? digestFile(join(tmp, f));
    manifest.integrity = { algorithm: 'sha256-segments', manifest_sha256: manifestDigest(manifest), files: digests } satisfies Integrity;
    faultPoint('manifest');
    writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    commitTempDir(tmp, input.outDir);
    faultPoint('committed');
  } catch (e) {
    throw writeFailure(e, input.outDir);
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
    release();
  }
  return { manifest, memory, stream, rankMemory: ranks.map((r) => r.memory) };
}

/** The manifest's mapping of a sharded engine: world size, tp, pp and one entry per rank (docs/parallel.md). */
function rankMapping(ranks: { g: Graph; weightsBytes: number }[]): Record<string, unknown> {
  const m0 = ranks[0].g.mapping!;
  return {
    world_size: m0.world_size, tp: m0.tp, pp: m0.pp,
    ranks: ranks.map(({ g, weightsBytes }, r) => {
      const m = g.mapping!;
      if (m.rank !== r) throw new Error(`writeEngine: ranks[${r}] is the graph of rank ${m.rank}`);
      return {
        rank: r, file: rankFile(r), tp_rank: m.tp_rank, pp_rank: m.pp_rank, first_layer: m.first_layer, num_layers: m.num_layers,
        num_heads: m.num_heads, num_kv_heads: m.num_kv_heads, vocab_start: m.vocab_start, vocab_size: m.vocab_size, weights_bytes: weightsBytes,
        ...shardedValues(g),
      };
    }),
  };
}

/**
 * A tensor-parallel rank's values that are not the whole model's (llmc verify maps them back, src/verify/value-map.ts):
 * `columns`: value -> the [start, count] column ranges of the whole value it holds; `partial_sums`: values that
 * are this rank's share of a sum (compared once reduced). Empty on a pipeline-only rank (every value whole).
 */
function shardedValues(g: Graph): { columns?: Record<string, [number, number][]>; partial_sums?: string[] } {
  const columns: Record<string, [number, number][]> = {};
  const partial: string[] = [];
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      const a = g.acts.get(o)!;
      if (a.shard && 'cols' in a.shard) columns[a.name] = a.shard.cols.map(([s, c]): [number, number] => [s, c]);
      else if (a.shard) partial.push(a.name);
    }
  }
  return { ...(Object.keys(columns).length ? { columns } : {}), ...(partial.length ? { partial_sums: partial } : {}) };
}

const FS_FAILURES: Record<string, string> = {
  ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system',
  EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'input/output error', EFBIG: 'file too large',
};

/** A filesystem failure while writing becomes one IO line saying that the previous contents are untouched. */
function writeFailure(e: unknown, outDir: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (e instanceof LlmcError || code === undefined || !(code in FS_FAILURES)) return e;
  return new LlmcError('IO', `cannot write the engine ${outDir}: ${FS_FAILURES[code]} (${code}); nothing was changed there`,
    code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space and build again' : 'check the directory and build again');
}

function buildManifest(input: EngineInput, memory: MemoryPlan, tokenizerPresent: boolean): Record<string, unknown> {
  const { cfg, limits, checkpoint, dummy } = input;
  if (!checkpoint && !dummy) throw new Error('writeEngine needs a checkpoint or a dummy source');
  const source = checkpoint
    ? {
      dir: checkpoint.dir,
      checkpoint_sha256: checkpoint.sha256,
      checkpoint_sha256_covers: 'config.json + safetensors headers',
      files: checkpoint.files,
    }
    : { dummy_weights: true, config: dummy!.config, seed: dummy!.seed };
  return {
    format_version: FORMAT_VERSION,
    schema_hash: SCHEMA_HASH,
    llmc_version: llmcVersion(),
    // Not the wall clock: the inputs' date (SOURCE_DATE_EPOCH, else the newest input file), so that two builds of
    // the same inputs are byte-identical.
    ...(input.created ? { created: input.created } : {}),
    model: cfg,
    build: { dtype: input.dtype, kv_cache_dtype: input.kvCacheDType ?? 'float32', ...limits, passes: input.passes, ...(input.reference ? { reference: true } : {}) },
    ...(input.quantization ? { quantization: input.quantization } : {}),
    target: input.target ?? { backend: 'cpu' },
    ...(dummy ? { dummy_weights: true } : {}),
    mapping: { world_size: 1, tp: 1, pp: 1 },
    memory_plan: memory,
    source,
    generation: checkpoint?.generation ?? dummy!.generation,
    tokenizer: { present: tokenizerPresent },
    provenance: { nodes: input.provenance ?? {} },
  };
}

type HashWorker = NonNullable<StreamStats['hashWorker']>;

function addWorker(a: HashWorker | null, b: HashWorker): HashWorker {
  if (!a) return b;
  const cpu = a.cpu && b.cpu ? { user: a.cpu.user + b.cpu.user, sys: a.cpu.sys + b.cpu.sys } : null;
  return { cpu, waited: a.waited + b.waited };
}

/** An engine file planned before it is written: its header and the segments its digest is taken over. */
interface PlannedFile {
  header: Buffer;             // header + plan JSON, padded to dataOffset
  size: number;               // dataOffset + the weights' data size
  segments: Span[];           // tiling [0, size): one per tensor copied whole, one per stretch between them
  keys: (string | null)[];    // per segment: the checkpoint span it is a copy of (SpanStore.key), or null
  skip: boolean[];            // per segment: not hashed here (its sha256 is known, or another segment hashes it)
  known: (string | undefined)[];  // per segment: the sha256 already known (the input hashing read the span)
}

/**
 * rank0.engine's layout: HEADER_BYTES of header, plan JSON padded with spaces to the DATA_ALIGN-aligned data
 * offset, then the weights; and its digest's segments. `seen`: the spans an earlier segment of this build hashes.
 */
function planEngineFile(plan: Plan, layout: WeightLayout, tensors: ReadonlyMap<string, TensorInfo>, store: SpanStore, seen: Set<string>): PlannedFile {
  const planBytes = Buffer.from(planJson(plan), 'utf8');
  const dataOffset = alignUp(HEADER_BYTES + planBytes.length, DATA_ALIGN);
  const header = Buffer.alloc(dataOffset, 0x20);
  MAGIC.copy(header, AT.magic);
  header.writeUInt32LE(FORMAT_VERSION, AT.version);
  header.writeUInt32LE(0, AT.flags);
  header.writeBigUInt64LE(BigInt(planBytes.length), AT.plan_length);
  header.writeBigUInt64LE(BigInt(dataOffset), AT.data_offset);
  header.writeBigUInt64LE(BigInt(layout.dataSize), AT.data_size);
  planBytes.copy(header, HEADER_BYTES);
  const size = dataOffset + layout.dataSize;

  // The tensors copied whole, where they land in the file (a weight may be several: fused q/k/v, gate/up).
  const data = new WeightData(tensors, new TensorReader());
  const stats = new Map<string, { size: number; mtimeMs: number }>();
  const copies: (Span & { key: string })[] = [];
  for (const p of layout.weights) {
    if (p.offset === null) continue;
    let at = dataOffset + p.offset;
    for (const t of data.wholeTensors(p.weight) ?? []) {
      if (t.nbytes === 0) continue;
      let st = stats.get(t.file);
      if (!st) stats.set(t.file, (st = statSync(t.file)));
      copies.push({ offset: at, bytes: t.nbytes, key: SpanStore.key(t.file, t.offset, t.nbytes, st) });
      at += t.nbytes;
    }
  }
  copies.sort((a, b) => a.offset - b.offset);
  const ranges = copies.filter((c, i) => i === 0 || c.offset >= copies[i - 1].offset + copies[i - 1].bytes);
  const cut = cutAt(ranges, size);
  const keys = cut.map((c) => (c.range >= 0 ? ranges[c.range].key : null));
  const known = keys.map((k) => (k === null ? undefined : store.get(k)));
  const skip = keys.map((k, i) => {
    if (k === null) return false;
    if (known[i] !== undefined || seen.has(k)) return true;
    seen.add(k);
    return false;
  });
  return { header, size, segments: cut.map(({ offset, bytes }) => ({ offset, bytes })), keys, skip, known };
}

function fileDigest(segments: Segment[], size: number): FileDigest {
  return segments.length === 1 ? { bytes: size, sha256: segments[0][2] } : { bytes: size, sha256: rootDigest(segments), segments };
}

/**
 * Writes a planned engine file, weight by weight from the checkpoint. Its segment digests are computed as it is
 * written: on a worker thread for a large file (digest-worker.ts; the weights are read straight into the
 * worker's slots), else here; a segment left '' is a copy of a span another segment hashes (filled in by the
 * caller). The tensors it hashes are recorded in `store`, for the input hashing.
 */
function writeEngineFile(path: string, f: PlannedFile, layout: WeightLayout, tensors: ReadonlyMap<string, TensorInfo>, store: SpanStore):
  { digest: FileDigest; bytesRead: number; hashWorker: HashWorker | null } {
  const fd = openSync(path, 'w');
  const reader = new TensorReader();
  const worker = f.size >= workerHashBytes('engine') ? WorkerDigest.start(f.segments.length) : null;
  const digest = new SegmentedDigest(f.segments, f.skip, worker ?? new InlineDigest());
  let pos = 0;
  if (worker) reader.bufferFor = (n) => (digest.hashes(pos) ? worker.lend(n) : null);
  let inOrder = true;               // weights are laid out at increasing offsets; if not, hash the file afterwards
  let shas: (string | undefined)[] | null = null;
  let waited = 0;
  try {
    writeAll(fd, f.header, 0);
    digest.update(f.header, 0);
    faultPoint('engine-header');
    const data = new WeightData(tensors, reader);
    const dataOffset = f.header.length;
    for (const p of layout.weights) {
      if (p.offset === null) continue;                           // a dummy weight: generated at load
      pos = dataOffset + p.offset;
      data.stream(p.weight, (bytes) => {
        writeAll(fd, bytes, pos);
        if (inOrder && !(inOrder = digest.update(bytes, pos))) reader.bufferFor = null;
        pos += bytes.length;
      });
      if (pos !== dataOffset + p.offset + p.nbytes) throw new Error(`weight ${p.weight.name}: wrote ${pos - dataOffset - p.offset} bytes, expected ${p.nbytes}`);
      faultPoint('weights');
    }
    ftruncateSync(fd, f.size);                                   // padding between weights reads as zeros
    const t0 = performance.now();
    if (inOrder) shas = digest.finish(f.size);                   // null: the worker failed
    waited = (performance.now() - t0) / 1000;
  } finally {
    worker?.abort();
    reader.close();
    closeSync(fd);
  }
  let segments: Segment[];
  if (shas) {
    f.keys.forEach((k, i) => {
      if (k !== null && !f.skip[i] && shas![i]) store.set(k, shas![i]!);
    });
    segments = f.segments.map((s, i): Segment => [s.offset, s.bytes, (f.skip[i] ? f.known[i] ?? store.get(f.keys[i]!) : shas![i]) ?? '']);
  } else {
    segments = digestSpans(path, f.segments);
  }
  return {
    digest: fileDigest(segments, f.size), bytesRead: reader.bytesRead,
    hashWorker: worker && shas ? { cpu: worker.cpu, waited } : null,
  };
}

let written = 0;  // bytes of rank0.engine written by this process (for LLMC_TEST_FAULT=enospc-after:N)

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const injected = injectedWriteFailure(written, buf.length - done);
    if (injected) throw injected;
    const n = writeSync(fd, buf, done, buf.length - done, position + done);
    done += n;
    written += n;
  }
}
