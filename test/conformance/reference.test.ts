/**
 * The certification of the bundled reference server, end to end: real processes, real signals,
 * every case. The reference must be compliant and fully compliant; the reports are written under
 * reports/ (CI uploads them).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import { latencyTables } from '../../harness/src/report/assemble.js';
import { buildReport, renderConsole, toJUnitXml, validateReport } from '../../harness/src/report/index.js';
import { runCases } from '../../harness/src/runner.js';
import { loadRegistry } from '../../harness/src/spec.js';
import { JENKINS_JUNIT_XSD, JUNIT_XSD, validateXmlSchema } from '../harness/xml-schema.js';

const root = path.resolve(import.meta.dirname, '../..');

afterAll(async () => {
  await teardownAll();
});

describe('reference server certification', () => {
  it.each([
    ['reference', 'single process'],
    ['reference-supervised', 'supervised: 2 workers, restarts'],
  ])('%s (%s) is compliant and fully compliant, with no harness error', async (name) => {
    const manifest = loadManifest(path.join(root, `subjects/${name}/manifest.json`));
    const outDir = path.join(root, '.sigcert', 'test-runs', `${name}-${Date.now()}`);
    const started = new Date();
    const catalog = await loadCases(manifest);
    const first = await runCases({ manifest, cases: catalog, outDir, concurrency: 2 });
    const { partial } = first;
    const reg = loadRegistry();
    // A latency budget missed on a loaded machine (CI shares two cores between the subject, the harness
    // and vitest) is measured once more, alone: the case must then meet the spec's budget. A reference
    // that misses it twice fails. Nothing else is re-run.
    const latencyOnly = first.results.filter(
      (r) =>
        r.outcome === 'fail' &&
        r.verdicts.some((v) => v.status === 'fail') &&
        r.verdicts.every((v) => v.status !== 'fail' || v.requirement.startsWith('LATENCY.')),
    );
    let results = first.results;
    if (latencyOnly.length > 0) {
      const ids = latencyOnly.map((r) => r.id);
      const missed = latencyOnly.flatMap((r) =>
        r.verdicts.filter((v) => v.status === 'fail').map((v) => `${r.id}: ${v.requirement}: ${v.actual}`),
      );
      console.log(`latency budget missed once, measured again alone: ${missed.join(' | ')}`);
      const again = await runCases({
        manifest,
        cases: catalog,
        grep: new RegExp(`^(${ids.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`),
        outDir: `${outDir}-again`,
        concurrency: 1,
      });
      results = first.results.map((r) => again.results.find((x) => x.id === r.id) ?? r);
    }
    const report = buildReport({
      toolVersion: 'test',
      specVersion: reg.specVersion,
      startedAt: started,
      durationMs: Date.now() - started.getTime(),
      subject: { name: manifest.name, manifestFile: manifest.file, manifest },
      options: { concurrency: 2 },
      cases: results,
      requirements: reg.requirements,
      latency: latencyTables(results),
      partial,
    });
    mkdirSync(path.join(root, 'reports'), { recursive: true });
    writeFileSync(path.join(root, 'reports', `${name}.json`), JSON.stringify(report, null, 1));
    writeFileSync(path.join(root, 'reports', `${name}.junit.xml`), toJUnitXml(report));
    console.log(renderConsole(report, { color: false }));

    expect(validateReport(JSON.parse(JSON.stringify(report))).errors).toEqual([]);
    // the JUnit file of a real run validates against the JUnit schema
    const junit = toJUnitXml(report);
    expect((await validateXmlSchema(junit, JUNIT_XSD)).errors).toEqual([]);
    expect((await validateXmlSchema(junit, JENKINS_JUNIT_XSD)).errors).toEqual([]);
    const bad = results.filter((r) => !['pass', 'not-applicable', 'informational'].includes(r.outcome));
    expect(bad.map((r) => `${r.id}: ${r.outcome} ${r.reason ?? ''}`)).toEqual([]);
    expect(report.verdict.compliant).toBe(true);
    expect(report.verdict.fullyCompliant).toBe(true);
  });
});
