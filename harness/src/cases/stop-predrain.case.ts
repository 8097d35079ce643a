import { defineCase } from '../case.js';
import { notes, probe, verdict } from '../grade/index.js';
import { http, recordResult, sendAction, stopBudget, waitExit } from '../workload.js';

const DELAY_MS = 600;

/**
 * Spec: "readiness fails as soon as a stop is requested; liveness holds until exit" (E06) and "a
 * configured pre-drain delay keeps accepting and serving before the drain" (E05, the endpoint race).
 */
export default defineCase({
  id: 'stop.predrain-delay',
  title: 'A pre-drain delay keeps serving new connections while readiness fails',
  description: `Launch with SIGCERT_PREDRAIN_MS=${DELAY_MS}, stop, then at once ask /ready (must be 503) and /live (must be 200) on new connections; after the delay, new connections are refused.`,
  requirements: ['STOP.PREDRAIN_DELAY', 'STOP.READINESS_FIRST', 'STOP.CONNECTION_CLOSE'],
  edgeCases: ['E05', 'E06'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['stop'],
    capabilities: ['preDrainDelay'],
    needs: ['ready', 'live'],
  },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch({ env: { SIGCERT_PREDRAIN_MS: String(DELAY_MS) } });
    const before = await http(ctx, s, { path: '/ready', label: 'ready-before' });
    recordResult(ctx, before, { phase: 'before' });
    const sig = sendAction(ctx, s, 'stop');
    if (ctx.manifest.capabilities.probe) {
      await s.waitProbe((e) => e.ev === 'signal' && e.sig === sig, ctx.ms(2000), 'stop acknowledgement');
    }
    recordResult(ctx, await http(ctx, s, { path: '/ready', label: 'ready-during' }), { phase: 'during' });
    recordResult(ctx, await http(ctx, s, { path: '/live', label: 'live-during' }), { phase: 'during' });
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'stop-accepting', ctx.ms(DELAY_MS + 3000), 'stop-accepting')
        .catch(() => ctx.note('no-stop-accepting'));
      const after = await http(ctx, s, { path: '/live', label: 'live-after' });
      recordResult(ctx, after, { phase: 'after' });
    }
    await waitExit(ctx, s, stopBudget(ctx) + DELAY_MS);
  },
  grade({ events, manifest }) {
    const rs = notes(events, 'result');
    const get = (label: string) => rs.find((r) => r.label === label);
    const before = get('ready-before');
    const readyDuring = get('ready-during');
    const liveDuring = get('live-during');
    const after = get('live-after');
    const sig = probe(events, 'signal')[0];
    const closedAt = probe(events, 'stop-accepting')[0];
    const delay = sig && closedAt ? Number(BigInt(closedAt.ns) - BigInt(sig.ns)) / 1e6 : Number.NaN;
    const out = [
      verdict(
        'STOP.READINESS_FIRST',
        before?.status === 200 && readyDuring?.status === 503 && liveDuring?.status === 200,
        '/ready is 200 before the stop and 503 right after it, while /live stays 200',
        `/ready before: ${before?.status ?? before?.error}; /ready after stop: ${readyDuring?.status ?? readyDuring?.error}; /live after stop: ${liveDuring?.status ?? liveDuring?.error}`,
      ),
    ];
    const delayOk =
      liveDuring?.ok === true &&
      (!manifest.capabilities.probe || (delay >= DELAY_MS * 0.9 && after?.error === 'refused'));
    out.push(
      verdict(
        'STOP.PREDRAIN_DELAY',
        delayOk,
        `new connections are served for the ${DELAY_MS} ms pre-drain delay, then refused`,
        `served during the delay: ${liveDuring?.ok ? 'yes' : 'no'}; listener closed ${Number.isFinite(delay) ? `${delay.toFixed(1)} ms` : '?'} after the signal; after: ${after ? (after.ok ? `served ${after.status}` : after.error) : 'not checked'}`,
        Number.isFinite(delay) ? { preDrainMs: delay } : undefined,
      ),
    );
    out.push(
      verdict(
        'STOP.CONNECTION_CLOSE',
        readyDuring?.ok === true &&
          liveDuring?.ok === true &&
          [readyDuring, liveDuring].every((r) => String(r?.connection ?? '').toLowerCase() === 'close'),
        'responses written during the pre-drain delay (after the stop request) carry Connection: close',
        `/ready: ${readyDuring?.connection ?? '(none)'}, /live: ${liveDuring?.connection ?? '(none)'}`,
      ),
    );
    return out;
  },
});
