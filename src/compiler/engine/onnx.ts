// Exports an engine's plan as an ONNX model for viewing in Netron: one custom-domain `llmc` node per plan node
// (op type = llmc op, node name = the per-layer name, attrs typed from the op schema), activations as value_info
// with symbolic rows (`tokens`, `logit_rows`), weights as initializers whose data stays in rank0.engine (ONNX
// external data: location + offset + length), so the file holds no weights and stays small.
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { OPS, type OpName } from '../ir/ops.generated.js';
import { ENGINE_FILE } from './format.js';
import { readManifest, readPlan } from './reader.js';
import { llmcVersion } from './version.js';

const { onnx } = onnxProto;
const LLMC_DOMAIN = 'llmc';
// Codes are shown as the ONNX integer type of their storage (u4 and fp8 as bytes: this ONNX IR has no 4-bit or fp8 type).
const T = onnx.TensorProto.DataType;
const DTYPE = { f32: T.FLOAT, f16: T.FLOAT16, bf16: T.BFLOAT16, i8: T.INT8, u4: T.UINT8, f8e4m3: T.UINT8, i32: T.INT32 };

export function exportOnnx(engineDir: string, file: string): void {
  const manifest = readManifest(engineDir);
  const { header, plan } = readPlan(engineDir);
  const out = resolve(file);
  const location = relative(dirname(out), join(resolve(engineDir), ENGINE_FILE));
  const name = (id: number) => (id < 0 ? '' : plan.values[id].name);

  const initializer: onnxProto.onnx.ITensorProto[] = [];
  const valueInfo: onnxProto.onnx.IValueInfoProto[] = [];
  for (const v of plan.values) {
    if (v.kind === 'weight' && v.offset === undefined) {
      // A dummy weight (llmc build --dummy-weights) has no bytes anywhere: shape and type only.
      initializer.push({ name: v.name, dims: v.shape, dataType: DTYPE[v.dtype], docString: `dummy weight ${JSON.stringify(v.dummy)}` });
    } else if (v.kind === 'weight') {
      initializer.push({
        name: v.name, dims: v.shape, dataType: DTYPE[v.dtype], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(header.dataOffset + v.offset!) },
          { key: 'length', value: String(v.nbytes) },
        ],
      });
    } else {
      valueInfo.push(tensorInfo(v.name, v.rows, v.width));
    }
  }
  const node = plan.nodes.map((n): onnxProto.onnx.INodeProto => ({
    name: n.name, opType: n.op, domain: LLMC_DOMAIN, input: trimTrailingEmpty(n.inputs.map(name)), output: n.outputs.map(name),
    attribute: OPS[n.op as OpName].attrs.map((a) => attribute(a.name, a.type, n.attrs[a.name])),
  }));
  const logits = plan.values[plan.outputs.logits];
  if (logits.kind !== 'activation') throw new Error('the logits output is not an activation');
  const model = (manifest.model ?? {}) as Record<string, unknown>;
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'llmc',
    producerVersion: llmcVersion(),
    domain: 'ai.llmc',
    docString: `llmc engine ${resolve(engineDir)} (format ${plan.format_version}, op schema ${plan.schema_hash}); ` +
      'nodes are llmc ops (docs/ops.md), not runnable by ONNX runtimes',
    opsetImport: [{ domain: LLMC_DOMAIN, version: 1 }],
    metadataProps: [
      { key: 'llmc.architecture', value: String(model.architecture ?? '') },
      { key: 'llmc.schema_hash', value: plan.schema_hash },
      { key: 'llmc.arena_floats_per_token', value: String(plan.arena.floats_per_token) },
      { key: 'llmc.arena_logit_floats_per_row', value: String(plan.arena.logit_floats_per_row) },
      { key: 'llmc.max_logit_rows', value: String(plan.limits.max_logit_rows) },
    ],
    graph: {
      name: String(model.architecture ?? 'llmc'),
      node,
      initializer,
      valueInfo: valueInfo.filter((v) => v.name !== logits.name),
      output: [tensorInfo(logits.name, logits.rows, logits.width)],
    },
  });
  writeFileSync(out, onnx.ModelProto.encode(proto).finish());
}

/** Absent optional inputs are '' in ONNX; trailing ones are left out. */
function trimTrailingEmpty(names: string[]): string[] {
  let n = names.length;
  while (n > 0 && names[n - 1] === '') n--;
  return names.slice(0, n);
}

function tensorInfo(name: string, rows: string, width: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: rows }, { dimValue: width }] } } },
  };
}

function attribute(name: string, type: string, v: unknown): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (type) {
    case 'int': return { name, type: T.INT, i: v as number };
    case 'float': return { name, type: T.FLOAT, f: v as number };
    case 'int[]': return { name, type: T.INTS, ints: v as number[] };
    default: return { name, type: T.STRING, s: Buffer.from(String(v), 'utf8') };
  }
}
