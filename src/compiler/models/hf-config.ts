// Typed access to a HF config.json for family files. Missing or ill-typed required fields are BAD_CHECKPOINT;
// values llmc does not implement are UNSUPPORTED naming the field and the value ("unsupported hidden_act=gelu ...").
// `null` counts as absent, as in HF (from_pretrained keeps the class default for a missing key, and most
// families treat an explicit null like the default).
import { fail } from '../../errors.js';
import type { TorchDType } from './config.js';

export class HfConfig {
  constructor(readonly raw: Record<string, unknown>, readonly architecture: string) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /**
   * The first of `keys` that config.json sets, else the first: HF configs accept several spellings of one field
   * (attribute_map: gpt2's n_embd = hidden_size, falcon's n_head = num_attention_heads, ...).
   */
  key(...keys: string[]): string {
    return keys.find((k) => this.has(k)) ?? keys[0];
  }

  private get(key: string): unknown {
    const v = this.raw[key];
    if (v === undefined || v === null) fail('BAD_CHECKPOINT', `config.json has no ${key} (needed for ${this.architecture})`);
    return v;
  }

  /** Positive integer; `dflt` when absent. */
  int(key: string, dflt?: number): number {
    if (!this.has(key) && dflt !== undefined) return dflt;
    const v = this.get(key);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail('BAD_CHECKPOINT', `config.json: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  }

  /** Finite number (> 0 unless allowZero); `dflt` when absent. */
  num(key: string, dflt?: number, allowZero = false): number {
    if (!this.has(key) && dflt !== undefined) return dflt;
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
      fail('BAD_CHECKPOINT', `config.json: ${key} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    if (!this.has(key)) return dflt;
    const v = this.raw[key];
    if (typeof v !== 'boolean') fail('BAD_CHECKPOINT', `config.json: ${key} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, dflt?: string): string {
    if (!this.has(key) && dflt !== undefined) return dflt;
    const v = this.get(key);
    if (typeof v !== 'string') fail('BAD_CHECKPOINT', `config.json: ${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A string field that must be one of `supported`. */
  oneOf<T extends string>(key: string, supported: readonly T[], dflt: T): T {
    const v = this.str(key, dflt);
    if (!supported.includes(v as T)) {
      fail('UNSUPPORTED', `unsupported ${key}=${v} for ${this.architecture}`, `llmc supports ${key} ${supported.join(', ')}`);
    }
    return v as T;
  }

  object(key: string): Record<string, unknown> | null {
    if (!this.has(key)) return null;
    const v = this.raw[key];
    if (typeof v !== 'object' || Array.isArray(v)) fail('BAD_CHECKPOINT', `config.json: ${key} must be an object, got ${JSON.stringify(v)}`);
    return v as Record<string, unknown>;
  }

  torchDtype(): TorchDType {
    const v = this.raw.torch_dtype ?? 'float32';
    if (v === 'float32' || v === 'float16' || v === 'bfloat16') return v;
    return fail('UNSUPPORTED', `unsupported torch_dtype=${String(v)}`, 'llmc reads float32, float16 and bfloat16 checkpoints');
  }
}
