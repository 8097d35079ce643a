/**
 * The requirement registry (spec/requirements.json) and the prose (spec/clean-signal-handling.md) are
 * one contract written twice: these tests read both files, and the edge-case list, and fail when they
 * drift apart. Nothing here is hard-coded except the rules of the spec itself (ID shape, levels, the
 * families every version has, which requirements need POSIX signals).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

type Level = 'MUST' | 'SHOULD' | 'MAY';

interface Requirement {
  id: string;
  level: Level;
  title: string;
  statement: string;
  anchor: string;
  since: string;
  applies: { platforms: string[]; capabilities: string[] };
  edgeCases: string[];
}

interface Registry {
  specVersion: string;
  requirements: Requirement[];
}

interface EdgeCaseList {
  description: string;
  edgeCases: { id: string; title: string }[];
}

const SPEC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'spec');
const PROSE_FILE = 'clean-signal-handling.md';

function readText(name: string): string {
  return readFileSync(join(SPEC_DIR, name), 'utf8');
}

function readJson(name: string): unknown {
  return JSON.parse(readText(name));
}

const registryJson = readJson('requirements.json');
const registry = registryJson as Registry;
const requirements = registry.requirements;
const schema = readJson('schema/requirements.schema.json') as Record<string, unknown>;
const manifestSchema = readJson('schema/manifest.schema.json') as {
  properties: { capabilities: { properties: Record<string, unknown> } };
};
const edgeCaseList = readJson('edge-cases.json') as EdgeCaseList;
const prose = readText(PROSE_FILE);

const ID_PATTERN = /^[A-Z0-9]+(\.[A-Z0-9_]+)+$/;
const LEVELS: readonly Level[] = ['MUST', 'SHOULD', 'MAY'];
const FAMILIES = [
  'BUS',
  'SIG',
  'START',
  'STOP',
  'REPEAT',
  'RELOAD',
  'RESTART',
  'DURABLE',
  'LATENCY',
  'IO',
  'PROC',
  'PIDFILE',
  'CONTROL',
] as const;

/** RFC 2119 / BCP 14 keywords, strongest first, with the level each one expresses. */
const KEYWORD_RANK: Record<string, number> = {
  MUST: 3,
  SHALL: 3,
  REQUIRED: 3,
  SHOULD: 2,
  RECOMMENDED: 2,
  MAY: 1,
  OPTIONAL: 1,
};
const LEVEL_RANK: Record<Level, number> = { MUST: 3, SHOULD: 2, MAY: 1 };
const KEYWORD_RE = /\b(MUST|SHALL|REQUIRED|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b/g;

/** `STOP.DRAIN.IN_FLIGHT` -> `stop-drain-in-flight` */
function slug(id: string): string {
  return id.toLowerCase().replace(/[._]/g, '-');
}

function keywords(text: string): string[] {
  return [...text.matchAll(KEYWORD_RE)].map((m) => m[1] as string);
}

/** Drops inline code spans and double-quoted words, where keywords are named rather than used. */
function withoutQuotedWords(text: string): string {
  return text.replace(/`[^`\n]*`/g, '').replace(/"[^"\n]*"/g, '');
}

function compareSemver(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

interface Block {
  anchor: string;
  start: number;
  end: number;
  text: string;
}

/**
 * A requirement block runs from `<a id="...">` to the next anchor or the next heading. Every anchor
 * in the prose is a requirement anchor (headings get their fragments from the renderer).
 */
function proseBlocks(markdown: string): Block[] {
  const anchors = [...markdown.matchAll(/<a id="([^"]+)"><\/a>/g)];
  return anchors.map((m, i) => {
    const start = m.index ?? 0;
    const bodyStart = start + m[0].length;
    const nextAnchor = anchors[i + 1]?.index ?? markdown.length;
    const headingOffset = markdown.slice(bodyStart).search(/^#{1,6} /m);
    const nextHeading = headingOffset === -1 ? markdown.length : bodyStart + headingOffset;
    const end = Math.min(nextAnchor, nextHeading);
    return { anchor: m[1] as string, start, end, text: markdown.slice(bodyStart, end) };
  });
}

const blocks = proseBlocks(prose);
const blockByAnchor = new Map(blocks.map((b) => [b.anchor, b]));

const HEADER_RE = /^\*\*([A-Z0-9._]+)\*\* \((MUST|SHOULD|MAY)\) — (.+)$/m;
const META_RE = /^[_*]Platforms:[_*] (.+?) · [_*]Capabilities:[_*] (.+?) · [_*]Edge cases:[_*] (.+)$/m;

function listOrNone(text: string): string[] {
  const t = text.trim();
  return t === 'none' ? [] : t.split(/,\s*/);
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

describe('requirements.json against its schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(schema);

  it('is valid', () => {
    const ok = validate(registryJson);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects broken entries (the schema is not vacuous)', () => {
    const first = requirements[0];
    expect(first).toBeDefined();
    const broken: unknown[] = [
      { ...registry, specVersion: '1.0' },
      { ...registry, requirements: [{ ...first, level: 'MUST NOT' }] },
      { ...registry, requirements: [{ ...first, statement: '' }] },
      { ...registry, requirements: [{ ...first, id: 'stop.drain' }] },
      { ...registry, requirements: [{ ...first, family: 'BUS' }] },
      { ...registry, requirements: [{ ...first, edgeCases: ['E1'] }] },
      { ...registry, requirements: [{ ...first, applies: { platforms: ['windows'], capabilities: [] } }] },
      { ...registry, requirements: [{ ...first, applies: { platforms: ['linux'], capabilities: ['magic'] } }] },
    ];
    for (const candidate of broken) expect(validate(candidate), JSON.stringify(candidate).slice(0, 200)).toBe(false);
  });

  it("lists exactly the manifest's capabilities", () => {
    const defs = schema.definitions as {
      requirement: { properties: { applies: { properties: { capabilities: { items: { enum: string[] } } } } } };
    };
    const allowed = defs.requirement.properties.applies.properties.capabilities.items.enum;
    expect(sorted(allowed)).toEqual(sorted(Object.keys(manifestSchema.properties.capabilities.properties)));
  });
});

describe('requirement IDs and levels', () => {
  it('has at least 45 requirements', () => {
    expect(requirements.length).toBeGreaterThanOrEqual(45);
  });

  it('has unique IDs', () => {
    const ids = requirements.map((r) => r.id);
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(dupes).toEqual([]);
  });

  it('has well-formed IDs and valid levels', () => {
    for (const r of requirements) {
      expect(r.id, r.id).toMatch(ID_PATTERN);
      expect(LEVELS, r.id).toContain(r.level);
    }
  });

  it('covers every family of the spec', () => {
    const families = new Set(requirements.map((r) => r.id.split('.')[0]));
    for (const family of FAMILIES) expect([...families], family).toContain(family);
  });

  it('derives each anchor from its ID, and anchors are unique', () => {
    for (const r of requirements) expect(r.anchor, r.id).toBe(`${PROSE_FILE}#${slug(r.id)}`);
    expect(new Set(requirements.map((r) => r.anchor)).size).toBe(requirements.length);
  });

  it('introduces no requirement after the current spec version', () => {
    for (const r of requirements) expect(compareSemver(r.since, registry.specVersion), r.id).toBeLessThanOrEqual(0);
  });

  it('keeps requirements that need POSIX signals off Windows', () => {
    const posixFamilies = new Set(['SIG', 'START', 'REPEAT', 'LATENCY']);
    const posixIds = new Set([
      'IO.EINTR',
      'PROC.GROUP_DELIVERY',
      'PROC.PARENT_DEATH',
      'PROC.REAP',
      'PROC.NO_CRASH_SIGNAL',
      'PROC.PID1',
    ]);
    for (const r of requirements) {
      if (posixFamilies.has(r.id.split('.')[0] ?? '') || posixIds.has(r.id)) {
        expect(r.applies.platforms, r.id).not.toContain('win32');
      }
    }
  });
});

describe('statements', () => {
  it('are non-empty and use the keyword of their level, and no stronger one', () => {
    for (const r of requirements) {
      expect(r.statement.trim().length, r.id).toBeGreaterThan(0);
      const used = keywords(r.statement);
      expect(used, r.id).toContain(r.level);
      for (const k of used) {
        expect(KEYWORD_RANK[k], `${r.id} uses ${k}`).toBeLessThanOrEqual(LEVEL_RANK[r.level]);
        expect(LEVELS as readonly string[], `${r.id} uses ${k}; use MUST, SHOULD or MAY`).toContain(k);
      }
    }
  });

  it('are one or two sentences ending with a full stop', () => {
    for (const r of requirements) {
      expect(r.statement, r.id).toMatch(/\.$/);
      const sentenceEnds = r.statement.match(/[.!?](?=\s+[A-Z]|$)/g) ?? [];
      expect(sentenceEnds.length, r.id).toBeLessThanOrEqual(2);
    }
  });
});

describe('the prose', () => {
  it('states the same version as the registry and logs it', () => {
    const version = /^Version: \*\*(\d+\.\d+\.\d+)\*\*/m.exec(prose)?.[1];
    expect(version).toBe(registry.specVersion);
    const logged = new RegExp(`^\\| ${registry.specVersion.replace(/\./g, '\\.')} +\\|`, 'm').test(prose);
    expect(logged, `no change-log row for ${registry.specVersion}`).toBe(true);
  });

  it('has exactly one anchor per requirement and no other anchors', () => {
    const anchors = blocks.map((b) => b.anchor);
    expect(sorted(anchors)).toEqual(sorted(requirements.map((r) => slug(r.id))));
  });

  it.each(requirements.map((r) => [r.id, r] as const))('%s: block matches the registry', (_id, r) => {
    const block = blockByAnchor.get(r.anchor.split('#')[1] ?? '');
    expect(block, `no <a id="${slug(r.id)}"></a> in ${PROSE_FILE}`).toBeDefined();
    if (!block) return;

    const header = HEADER_RE.exec(block.text);
    expect(header, `block of ${r.id} has no "**ID** (LEVEL) — title" line`).not.toBeNull();
    expect(header?.[1]).toBe(r.id);
    expect(header?.[2]).toBe(r.level);
    expect(header?.[3]).toBe(r.title);

    const body = block.text.replace(HEADER_RE, '');
    expect(keywords(withoutQuotedWords(body)), 'the normative text uses the level keyword').toContain(r.level);

    const meta = META_RE.exec(block.text);
    expect(meta, `block of ${r.id} has no "Platforms · Capabilities · Edge cases" line`).not.toBeNull();
    expect(sorted(listOrNone(meta?.[1] ?? ''))).toEqual(sorted(r.applies.platforms));
    expect(sorted(listOrNone(meta?.[2] ?? ''))).toEqual(sorted(r.applies.capabilities));
    expect(sorted(listOrNone(meta?.[3] ?? ''))).toEqual(sorted(r.edgeCases));
  });

  it('uses RFC 2119 keywords only inside requirement blocks, and only MUST, SHOULD and MAY', () => {
    let outside = '';
    let cursor = 0;
    for (const b of blocks) {
      outside += prose.slice(cursor, b.start);
      cursor = b.end;
    }
    outside += prose.slice(cursor);
    const stray = outside
      .split('\n')
      .filter((line) => keywords(withoutQuotedWords(line)).length > 0)
      .map((line) => line.trim().slice(0, 100));
    expect(stray, 'normative keywords outside a requirement block').toEqual([]);

    const inside = blocks.map((b) => withoutQuotedWords(b.text)).join('\n');
    const unusual = keywords(inside).filter((k) => !(LEVELS as readonly string[]).includes(k));
    expect(unusual).toEqual([]);
  });

  it('never writes a requirement header for an unknown ID or with another level', () => {
    const levelById = new Map(requirements.map((r) => [r.id, r.level]));
    for (const m of prose.matchAll(/\*\*([A-Z0-9]+(?:\.[A-Z0-9_]+)+)\*\* \((MUST|SHOULD|MAY)\)/g)) {
      expect(levelById.get(m[1] as string), m[0]).toBe(m[2]);
    }
  });

  it('mentions only requirement IDs that exist', () => {
    const ids = new Set(requirements.map((r) => r.id));
    const prefixes = FAMILIES.join('|') + '|LOGS|PLATFORM';
    const mentioned = prose.match(new RegExp(`\\b(?:${prefixes})(?:\\.[A-Z0-9_]+)+\\b`, 'g')) ?? [];
    const unknown = [...new Set(mentioned)].filter((id) => !ids.has(id));
    expect(unknown).toEqual([]);
  });
});

describe('edge cases', () => {
  const known = new Map(edgeCaseList.edgeCases.map((e) => [e.id, e.title]));

  it('are a well-formed list with unique IDs and titles', () => {
    expect(edgeCaseList.edgeCases.length).toBeGreaterThan(0);
    expect(known.size).toBe(edgeCaseList.edgeCases.length);
    for (const e of edgeCaseList.edgeCases) {
      expect(e.id).toMatch(/^E\d{2}$/);
      expect(e.title.trim().length, e.id).toBeGreaterThan(0);
    }
  });

  it('cited by a requirement exist', () => {
    for (const r of requirements) for (const e of r.edgeCases) expect(known.has(e), `${r.id} cites ${e}`).toBe(true);
  });

  it('cited in the prose exist', () => {
    const cited = new Set(prose.match(/\bE\d{2}\b/g) ?? []);
    expect([...cited].filter((e) => !known.has(e))).toEqual([]);
  });
});
