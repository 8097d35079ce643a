import { defineCase, signalFor } from '../case.js';
import { notes, verdict, verifyNoOrphansLeft } from '../grade/index.js';
import { stopBudget, waitExit } from '../workload.js';

/**
 * Spec: "no descendant outlives the subject's exit" (E27, E30) and "exited children are reaped"
 * (E28). Descendants are found by the run marker in their environment, so even a process that
 * called setsid is seen (Linux /proc, macOS ps).
 */
export default defineCase({
  id: 'proc.no-orphans',
  title: 'No process of the subject outlives a graceful stop; no zombie children while running',
  description:
    "While running, count the subject's descendants and zombies; stop it; after its exit, no process carrying its run marker may remain.",
  requirements: ['PROC.NO_ORPHANS', 'PROC.REAP'],
  edgeCases: ['E27', 'E28', 'E30'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const during = await s.descendants();
    // Zombies are children of the subject (or of its processes) that exited and were never waited for.
    // descendants() lists live processes only, so this counted nothing before (found by the zoo's
    // zombie-helper). The spec allows a zombie child up to 1 s (a supervisor may reap on a timer): only
    // a zombie still there 1.1 s later (the same pid) counts.
    const first = await s.zombies();
    let zombies = first;
    if (first.length > 0) {
      await new Promise((res) => setTimeout(res, 1100)); // the spec's 1 s, and a margin
      const again = await s.zombies();
      zombies = again.filter((z) => first.some((f) => f.pid === z.pid));
    }
    ctx.note('during', {
      count: during.length,
      zombies: zombies.length,
      zombieParents: [...new Set(zombies.map((z) => z.ppid))],
    });
    s.signal(signalFor(ctx.manifest, 'stop')!);
    await waitExit(ctx, s, stopBudget(ctx));
    const left = s.exited ? await s.descendants() : [];
    ctx.note('after', { left: left.map((p) => ({ pid: p.pid, cmdline: p.cmdline })) });
  },
  grade({ events }) {
    const after = (notes(events, 'after')[0]?.left ?? []) as { pid: number; cmdline: string }[];
    const during = notes(events, 'during')[0];
    return [
      verifyNoOrphansLeft(events, after),
      verdict(
        'PROC.REAP',
        Number(during?.zombies ?? 0) === 0,
        'no zombie child while running',
        `${String(during?.count)} descendant(s), ${String(during?.zombies)} zombie(s)`,
      ),
    ];
  },
});
