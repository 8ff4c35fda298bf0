// Ctrl-C during generation: the first SIGINT cancels the running request (the runtime stops after its current
// step and the partial output is still reported); a second one exits at once.
export async function cancelOnSigint<T>(target: { cancel(): void }, run: () => Promise<T>): Promise<T> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    target.cancel();
  };
  process.on('SIGINT', onSigint);
  try {
    return await run();
  } finally {
    process.off('SIGINT', onSigint);
  }
}
