/**
 * The latency suite's trial loop. Each trial: stamp, kill, wait for the subject's `signal` probe
 * event; latency = handler stamp - send stamp (same monotonic clock, latency.md method).
 *
 * Trials use the declared reload signal, which takes the same intake path as a stop but leaves the
 * subject running, so 100 trials need one subject; the final trial is the stop signal itself and
 * is counted like the others. Without a reload signal every trial is a stop on a fresh subject.
 * A random 1–3 ms gap separates trials so signals land at random phases of the workload.
 */
import { type CaseContext, signalFor } from './case.js';
import type { Subject } from './launch/index.js';

export interface Scenario {
  /** prepare the workload on a fresh subject; returns a hook called before each trial (may re-arm the workload) */
  setup(ctx: CaseContext, s: Subject): Promise<Scenario.Hooks>;
}
export declare namespace Scenario {
  interface Hooks {
    beforeTrial?(): Promise<void>;
    /** called when a trial's acknowledgement did not come within `slowMs`: unblock the workload */
    onSlow?(): Promise<void>;
    teardown?(): Promise<void>;
  }
}

export interface TrialOptions {
  trials: number;
  /** after this many ms without an ack, call onSlow() */
  slowMs: number;
  /** give up on an ack after this long */
  maxMs: number;
  /** stop early after this many trials over `slowMs` (the grade is decided) */
  maxSlow: number;
}

function gap(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1 + Math.random() * 2)); // randomised phase, not synchronisation
}

async function oneTrial(
  ctx: CaseContext,
  s: Subject,
  sig: NodeJS.Signals,
  hooks: Scenario.Hooks,
  o: TrialOptions,
): Promise<number | null> {
  const t = s.signal(sig);
  const match = (e: { ev: string; sig?: unknown; t: string }) => e.ev === 'signal' && e.sig === sig && BigInt(e.t) >= t;
  let ack = await s.waitProbe(match, ctx.ms(o.slowMs), `ack of ${sig}`).catch(() => null);
  if (!ack) {
    ctx.note('slow-trial', { sig });
    await hooks.onSlow?.();
    ack = await s.waitProbe(match, ctx.ms(o.maxMs), `late ack of ${sig}`).catch(() => null);
  }
  if (!ack) return null;
  const lat = Number(BigInt(ack.t) - t) / 1e6;
  ctx.note('sample', { ms: lat, sig });
  return lat;
}

export async function runLatencyTrials(ctx: CaseContext, scenario: Scenario, o: TrialOptions): Promise<void> {
  const reload = signalFor(ctx.manifest, 'reload');
  const stop = signalFor(ctx.manifest, 'stop')!;
  let slow = 0;
  if (reload) {
    const s = await ctx.launch();
    const hooks = await scenario.setup(ctx, s);
    for (let i = 0; i < o.trials - 1 && slow < o.maxSlow && !s.exited; i++) {
      await hooks.beforeTrial?.();
      const lat = await oneTrial(ctx, s, reload, hooks, o);
      if (lat === null || lat > o.slowMs) slow++;
      if (lat === null) ctx.note('lost', { sig: reload });
      await gap();
    }
    await hooks.beforeTrial?.();
    await oneTrial(ctx, s, stop, hooks, o);
    await hooks.teardown?.();
    await s.waitExit(ctx.ms(ctx.manifest.gracePeriodMs + 5000)).catch(() => undefined);
  } else {
    const n = Math.min(o.trials, 20);
    for (let i = 0; i < n && slow < o.maxSlow; i++) {
      const s = await ctx.launch();
      const hooks = await scenario.setup(ctx, s);
      await hooks.beforeTrial?.();
      const lat = await oneTrial(ctx, s, stop, hooks, o);
      if (lat === null || lat > o.slowMs) slow++;
      await hooks.teardown?.();
      await s.waitExit(ctx.ms(ctx.manifest.gracePeriodMs + 5000)).catch(() => undefined);
    }
  }
}
