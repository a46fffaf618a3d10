// Prints one plain closing line, "dashboard: N passed, N failed, N skipped", after the list reporter.
export default class SummaryReporter {
  constructor() { this.passed = 0; this.failed = 0; this.skipped = 0; }
  onTestEnd(test, result) {
    if (result.retry < test.retries && result.status !== 'passed' && result.status !== 'skipped') return;
    if (result.status === 'passed') this.passed++;
    else if (result.status === 'skipped') this.skipped++;
    else this.failed++;
  }
  onEnd(result) {
    if (result.status !== 'passed' && this.failed === 0) this.failed = 1; // e.g. a crash in beforeAll
    console.log(`dashboard: ${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped`);
  }
  printsToStdio() { return true; }
}
