#!/usr/bin/env node
// The test command of the mutation run (Stryker's command runner runs it in its sandbox, once for the
// initial run and once per mutant): one certification of the built reference.
//
//   node scripts/mutation-test.mjs [--subject MANIFEST]
//
// Exit 0 when the certification is fully compliant (the mutant survived), 1 when it is not (killed), 2
// when this script cannot do its job. The last line of output says why a mutant was killed: Stryker keeps
// it as the mutant's status reason.
//
// The active mutant is __STRYKER_ACTIVE_MUTANT__ (set by Stryker, unset in the initial run). The harness
// passes its own environment to the subject (only SIGCERT_* is not inherited), so the mutated reference
// reads it without help.
//
// Environment (set by scripts/mutation.mjs; none reaches the subject, being SIGCERT_*):
//   SIGCERT_HEAVY_LOCK=FILE        hold `flock FILE` for the certification (a shared machine's queue of
//                                  heavy runs); without flock(1) the run is not locked (said once on stderr)
//   SIGCERT_MUTATION_GREP=RE       certify only the cases matching RE (a selection, not a certification)
//   SIGCERT_MUTATION_DEADLINE=MS   epoch ms after which mutants are not certified (exit 0, logged as
//                                  skipped; scripts/mutation.mjs reports them as not run, never survived)
//   SIGCERT_MUTATION_LOG=FILE      append one JSON line per run (mutant, result, failing cases, timings)
//   SIGCERT_MUTATION_CONFIRM=N     a failure in at most N cases is confirmed by running those cases again
//                                  (default 3; 0: never), so that a busy machine's hiccup kills no mutant
//   SIGCERT_MUTATION_BAIL=0        certify every mutant in full; by default a mutant's certification stops
//                                  at the first case that does not pass (`run --bail`), starting with the
//                                  cases that killed this file's earlier mutants (`run --first`), and the
//                                  log names only the cases that failed before it stopped
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OK_OUTCOMES = new Set(['pass', 'not-applicable', 'informational', 'unsupported', 'skipped']);

function fail(message) {
  process.stdout.write(`mutation-test: ${message}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let subject = 'subjects/reference/manifest.json';
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--subject' && argv[i + 1] !== undefined) subject = argv[++i];
  else fail(`unknown argument: ${argv[i]} (usage: mutation-test.mjs [--subject MANIFEST])`);
}
if (!existsSync(subject)) fail(`subject manifest not found: ${subject}`);
if (!existsSync('dist/reference/src/main.js')) fail('dist/reference/src/main.js is missing: run the build first');

const env = process.env;
const mutant = env.__STRYKER_ACTIVE_MUTANT__;
const grep = env.SIGCERT_MUTATION_GREP || undefined;
const confirmUpTo = Number(env.SIGCERT_MUTATION_CONFIRM ?? 3);

function log(entry) {
  if (env.SIGCERT_MUTATION_LOG) {
    appendFileSync(
      env.SIGCERT_MUTATION_LOG,
      `${JSON.stringify({ mutant: mutant ?? null, at: new Date().toISOString(), ...entry })}\n`,
    );
  }
}

if (mutant !== undefined && env.SIGCERT_MUTATION_DEADLINE && Date.now() > Number(env.SIGCERT_MUTATION_DEADLINE)) {
  log({ result: 'skipped', why: 'time limit reached' });
  process.stdout.write('not run: the time limit was reached\n');
  process.exit(0);
}

let lockPrefix = [];
if (env.SIGCERT_HEAVY_LOCK) {
  const help = spawnSync('flock', ['--help'], { encoding: 'utf8' });
  if (help.error === undefined) {
    // --no-fork: the harness takes flock's pid, so a signal sent to this script's child reaches it
    lockPrefix = ['flock', ...(/--no-fork/.test(help.stdout) ? ['--no-fork'] : []), env.SIGCERT_HEAVY_LOCK];
  } else if (mutant === undefined) {
    process.stderr.write('mutation-test: flock(1) not found: certifications run without the heavy-run lock\n');
  }
}

/** One `sigcert run`; resolves to its exit code, the report (or null) and its wall time. */
function certify(extra) {
  const dir = mkdtempSync(join(tmpdir(), 'sigcert-mutant-'));
  const json = join(dir, 'report.json');
  const args = ['bin/sigcert.js', 'run', '--subject', subject, '--out', join(dir, 'run'), '--json', json, ...extra];
  const command = [...lockPrefix, process.execPath, ...args];
  const t0 = Date.now();
  return new Promise((resolve) => {
    // the harness's console goes nowhere: Stryker keeps a failing run's output as its status reason
    const child = spawn(command[0], command.slice(1), { stdio: 'ignore', env: { ...env, NO_COLOR: '1' } });
    const forward = (sig) => child.kill(sig);
    process.on('SIGTERM', forward).on('SIGINT', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward).off('SIGINT', forward);
      let report = null;
      try {
        report = JSON.parse(readFileSync(json, 'utf8'));
      } catch {
        // no report: the run could not start (usage error) or was killed
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? (signal ? 128 : 1), signal, report, ms: Date.now() - t0 });
    });
  });
}

const failingCases = (report) => report.cases.filter((c) => !OK_OUTCOMES.has(c.outcome));
/**
 * What the failing cases failed, with the evidence (first 5 verdicts, 400 characters each): kept in the
 * run log, because the report itself is deleted with the run and a failure that a confirming run does not
 * repeat would otherwise leave nothing to diagnose.
 */
const failedVerdicts = (report) =>
  failingCases(report)
    .flatMap((c) =>
      (c.verdicts ?? [])
        .filter((x) => x.status === 'fail')
        .map((x) => `${c.id}: ${x.requirement}: ${String(x.actual ?? '').slice(0, 400)}`),
    )
    .slice(0, 5);
const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Certify, confirm and decide. With `bail` the run stops at the first case that does not pass (`sigcert
 * run --bail`): a mutant that survives has run every case anyway, and one whose failure is confirmed is
 * killed without the rest of the catalog; one whose failure is not confirmed (a hiccup that stopped the
 * run) is certified again in full, so the cases the bail skipped still judge it.
 */
/**
 * The cases that killed this file's earlier mutants, most often first (from the run log): a bailing
 * certification starts them first, so that a mutant like the ones before it is killed in seconds. The
 * order only: every case still runs for a mutant that survives.
 */
function likelyKillers(limit = 8) {
  if (!env.SIGCERT_MUTATION_LOG || !existsSync(env.SIGCERT_MUTATION_LOG)) return [];
  const count = new Map();
  for (const line of readFileSync(env.SIGCERT_MUTATION_LOG, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line cut short by a killed run
    }
    if (entry.result !== 'killed') continue;
    for (const c of entry.cases ?? []) {
      const [id, outcome] = String(c).split('=');
      // a non-strict case failed SHOULD or MAY requirements: a killer only when a SHOULD failed
      if (outcome === 'non-strict' && (entry.shouldFailures ?? []).length === 0) continue;
      count.set(id, (count.get(id) ?? 0) + 1);
    }
  }
  return [...count]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([id]) => id);
}

/**
 * Whether the failures of a bailed run already keep the certification from being fully compliant: a
 * MUST or SHOULD failed, or a case ended in a blocking outcome (the rules of grade/rules.ts).
 */
function decisive(report, failing) {
  const v = report.verdict;
  const must = new Set(report.requirements.filter((r) => r.level === 'MUST').map((r) => r.id));
  const cited = (c) => [...c.requirements, ...(c.verdicts ?? []).map((x) => x.requirement)];
  return (
    v.mustFailures.length > 0 ||
    v.shouldFailures.length > 0 ||
    failing.some(
      (c) => ['timeout', 'crash', 'harness-error', 'flaky'].includes(c.outcome) && cited(c).some((id) => must.has(id)),
    )
  );
}

async function judge(bail) {
  const killers = bail ? likelyKillers() : [];
  const first = await certify([
    ...(grep ? ['--grep', grep] : []),
    ...(bail ? ['--bail'] : []),
    ...(killers.length > 0 ? ['--first', `^(${killers.map(reEscape).join('|')})$`] : []),
  ]);
  if (first.report === null) {
    log({ result: 'error', code: first.code, signal: first.signal, ms: first.ms });
    process.stdout.write(
      `sigcert run ended (exit ${first.code}${first.signal ? `, ${first.signal}` : ''}) without a report\n`,
    );
    process.exit(first.code === 2 ? 2 : 1);
  }

  const v = first.report.verdict;
  const failing = failingCases(first.report);
  const bailedAfter = first.report.options?.bailedAfter;
  // a selection (--grep) has no verdict of its own: every selected case must pass
  const survived = grep ? failing.length === 0 && first.code === 0 : v.fullyCompliant === true;
  const detail = {
    verdict: grep ? 'selection' : v.label,
    mustFailures: v.mustFailures,
    shouldFailures: v.shouldFailures,
    // a bailed run leaves most requirements untested: that is the bail, not the mutant
    untestedMust: bailedAfter ? [] : v.untestedMust,
    cases: failing.map((c) => `${c.id}=${c.outcome}`),
    ...(failing.length ? { failed: failedVerdicts(first.report) } : {}),
    ...(bailedAfter ? { bailedAfter } : {}),
    code: first.code,
    ms: first.ms,
    certMs: first.report.durationMs,
  };
  // A bail stops at any case that does not pass, a non-strict one included; but a case that fails only
  // a MAY requirement (non-strict) leaves a full certification fully compliant. Such a stop decides
  // nothing: certify in full, and let the verdict's own rule say killed or survived.
  if (!survived && !grep && bailedAfter && !decisive(first.report, failing)) {
    log({ result: 'bail-not-decisive', ...detail });
    return judge(false);
  }
  if (survived) {
    log({ result: mutant === undefined ? 'baseline' : 'survived', ...detail });
    process.stdout.write(
      failing.length > 0
        ? `${detail.verdict}, with only MAY requirements failed (${detail.cases.join(', ')}): a survivor\n`
        : `${detail.verdict}: the certification did not notice\n`,
    );
    process.exit(0);
  }

  // A few failing cases may be the machine's fault rather than the mutant's: run them again. (In the
  // initial run too: the unmutated reference must be fully compliant, and a hiccup must not abort the run.)
  let confirmed = null;
  if (failing.length > 0 && failing.length <= confirmUpTo) {
    const again = await certify(['--grep', `^(${failing.map((c) => reEscape(c.id)).join('|')})$`]);
    // no report from the second run: nothing was confirmed either way, the first verdict stands
    const still = again.report === null ? null : failingCases(again.report).map((c) => c.id);
    confirmed = { cases: still, code: again.code, ms: again.ms };
    if (still !== null && still.length === 0) {
      if (bailedAfter) {
        // the bail skipped cases on the strength of a failure that did not repeat: certify in full
        log({ result: 'unconfirmed-bail', ...detail, confirm: confirmed });
        return judge(false);
      }
      log({ result: 'survived', unconfirmed: true, ...detail, confirm: confirmed });
      process.stdout.write(`not confirmed: ${detail.cases.join(', ')} failed once, then passed\n`);
      process.exit(0);
    }
  }

  log({ result: 'killed', ...detail, ...(confirmed ? { confirm: confirmed } : {}) });
  const why = [
    detail.mustFailures.length > 0 ? `MUST failed: ${detail.mustFailures.join(', ')}` : '',
    detail.shouldFailures.length > 0 ? `SHOULD failed: ${detail.shouldFailures.join(', ')}` : '',
    detail.untestedMust.length > 0 ? `MUST not demonstrated: ${detail.untestedMust.join(', ')}` : '',
    detail.cases.length > 0 ? `cases: ${detail.cases.join(', ')}` : '',
    bailedAfter ? `stopped after ${bailedAfter} (--bail)` : '',
  ].filter((s) => s !== '');
  process.stdout.write(`${detail.verdict}${confirmed ? ' (confirmed)' : ''}; ${why.join('; ')}\n`);
  process.exit(1);
}

// the initial run (no mutant) certifies in full: its figures are the baseline of Stryker's timeout
await judge(mutant !== undefined && env.SIGCERT_MUTATION_BAIL !== '0');
