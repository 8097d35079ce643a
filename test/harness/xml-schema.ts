/**
 * XML Schema validation without a system xmllint: libxml2 compiled to WebAssembly (xmllint-wasm, from
 * npm). `npm ci` is all it needs.
 *
 *   const r = await validateXmlSchema(readFileSync('report.xml', 'utf8'), 'test/fixtures/junit.xsd');
 *   expect(r.errors).toEqual([]);
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateXML } from 'xmllint-wasm';

/** The JUnit schemas in test/fixtures: sigcert's own, and the common Jenkins/Ant denominator. */
export const JUNIT_XSD = path.resolve(import.meta.dirname, '..', 'fixtures', 'junit.xsd');
export const JENKINS_JUNIT_XSD = path.resolve(import.meta.dirname, '..', 'fixtures', 'junit-jenkins.xsd');

/** Validate the XML text against the XSD file; `errors` are libxml2's messages (file and line included). */
export async function validateXmlSchema(xml: string, xsdFile: string): Promise<{ valid: boolean; errors: string[] }> {
  const r = await validateXML({
    xml: [{ fileName: 'document.xml', contents: xml }],
    schema: [{ fileName: path.basename(xsdFile), contents: readFileSync(xsdFile, 'utf8') }],
  });
  return { valid: r.valid, errors: r.errors.map((e) => e.rawMessage.trim()) };
}
