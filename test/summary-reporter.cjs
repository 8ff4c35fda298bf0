// Prints `Tests: N passed, N failed, N skipped` as the very last line of the run (after jest's own summary),
// which is the plain closing line CI reads.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
    process.on('exit', () => process.stdout.write(line + '\n'));
  }
}
module.exports = SummaryReporter;
