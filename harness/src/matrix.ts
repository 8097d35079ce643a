/**
 * The conformance matrix: every subject in `subjects/` certified with the same catalog, side by side.
 *
 *   runMatrix({ subjectsDir, outDir, concurrency, timeoutScale, only, out })
 *
 * writes, in `outDir`:
 *   - `<subject>/report.json`: the canonical report of each subject (the same document `sigcert run`
 *     writes), with its run directories next to it;
 *   - `matrix.json`: requirement x subject statuses, latency figures, declared maps and findings;
 *   - `matrix.md`: the same as Markdown.
 *
 * Each subject folder may hold a `matrix.json` of its own (data, not code):
 *
 *   {
 *     "installed": [["/usr/bin/python3", "-c", "import uvicorn"]],   // every command must exit 0
 *     "version": ["/usr/bin/python3", "-c", "import uvicorn; print(uvicorn.__version__)"],
 *     "notes": {                                                        // keyed by requirement ID
 *       "STOP.DEADLINE": [{ "kind": "server", "text": "why, against the server's documentation" }],
 *       "STOP.LISTENER_CLOSED": [{ "kind": "harness", "when": "^0 probes", "text": "harness bug ..." }]
 *     }
 *   }
 *
 * A subject whose `installed` commands fail (or, without that file, whose `command` cannot be found)
 * is reported as `not installed`, never as an error. A note applies to a failed requirement when its
 * `when` (a regular expression) matches the `actual` text of one of the failing verdicts of the cases
 * that failed it, or always when it has none. `kind: "harness"` marks a failure that is the harness's mistake, not the server's:
 * such a cell is shown as a harness misjudgment, and the finding says so. A failure with no matching
 * note is listed as unexplained.
 *
 * The matrix only renders what the reports say; every judgement comes from the harness's own grading.
 *
 * In matrix/: run.ts (each subject certified like `sigcert run`, then matrix.json and matrix.md),
 * discovery.ts (subjects, installation checks, versions), notes.ts (the requirement x subject table
 * and its findings), metrics.ts (the figures compared across subjects), markdown.ts, model.ts (the
 * types) and session-sweep.ts (the safety net that kills what a teardown left running).
 */
export type { MatrixOptions, MatrixResult } from './matrix/model.js';
export { runMatrix } from './matrix/run.js';
