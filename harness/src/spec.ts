/** The requirement registry (spec/requirements.json), loaded once. The harness reads the spec as data. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './launch/paths.js';
import type { Capability, Level, Platform } from './types.js';

export interface Requirement {
  id: string;
  level: Level;
  title: string;
  statement: string;
  anchor: string;
  since: string;
  applies: { platforms: Platform[]; capabilities: Capability[] };
  edgeCases: string[];
}

export interface Registry {
  specVersion: string;
  requirements: Requirement[];
}

let cached: Registry | null = null;

export function loadRegistry(): Registry {
  if (!cached) {
    cached = JSON.parse(readFileSync(path.join(repoRoot(), 'spec', 'requirements.json'), 'utf8')) as Registry;
  }
  return cached;
}

export function requirementLevels(): Map<string, Level> {
  return new Map(loadRegistry().requirements.map((r) => [r.id, r.level]));
}
