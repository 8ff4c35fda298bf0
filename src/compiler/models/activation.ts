// HF activation names (transformers ACT2FN keys, as written in config.json hidden_act / activation_function /
// activation / hidden_activation) -> the runtime's activation kinds. A name that is not here is UNSUPPORTED,
// naming the field, rather than approximated by a neighbour.
import { fail } from '../../errors.js';
import type { ActivationKind } from '../ir/ops.generated.js';
import type { HfConfig } from './hf-config.js';

const HF_ACTIVATIONS: Record<string, ActivationKind> = {
  silu: 'silu',
  swish: 'silu',
  gelu: 'gelu_erf',                 // exact erf gelu (nn.GELU())
  gelu_new: 'gelu_tanh',            // 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
  gelu_pytorch_tanh: 'gelu_tanh',   // nn.GELU(approximate="tanh"): the same formula
  relu: 'relu',
  linear: 'identity',
};

/** The activation config.json names under `key` (default `dflt`, the HF class default). */
export function hfActivation(hf: HfConfig, key: string, dflt: string): ActivationKind {
  const name = hf.str(key, dflt);
  const kind = Object.hasOwn(HF_ACTIVATIONS, name) ? HF_ACTIVATIONS[name] : undefined;   // not '__proto__', 'constructor'
  if (!kind) {
    fail('UNSUPPORTED', `unsupported ${key}=${name} for ${hf.architecture}`, `llmc supports ${key} ${Object.keys(HF_ACTIVATIONS).join(', ')}`);
  }
  return kind;
}
