/**
 * sigcert reference server: a long-running HTTP server with clean signal handling, written to be
 * read and copied. It implements the subject protocol (`spec/subject-protocol.md`).
 *
 * Start it (after `npm run build`):
 *
 *     node dist/reference/src/main.js            # or: node --import tsx reference/src/main.ts
 *     node dist/reference/src/main.js --workers 2   # supervised mode (supervised/supervisor.ts)
 *     node dist/reference/src/main.js --help
 *
 * Settings are SIGCERT_* environment variables (the harness sets them); `--help` lists them.
 * Signals: TERM/INT graceful stop (a second INT: fast stop), QUIT fast stop, HUP reload,
 * USR1 reopen logs, USR2 restart (supervised mode: a new generation of workers from the code on
 * disk; one process: logged and ignored), PIPE ignored.
 * Exit status: 0 graceful, 1 startup failed, 3 stop deadline expired, 4 fast stop, 5 persist failed.
 *
 * Import order matters. ES modules evaluate their static imports first, in order, so this file
 * imports only the tiny modules it needs to install the signal handlers; everything else is
 * loaded afterwards with a dynamic import(). Until a listener exists a SIGTERM or SIGHUP would
 * kill the process outright (edge case E01). The dynamic imports compile our code up front
 * (`eager.ts`), so the stop sequence does not pay for compiling itself when it runs.
 */
import { loadCompiled } from './eager.js';
import { withSdNotify } from './notify.js';
import { probeFromEnv } from './probe.js';
import { installSignalHandlers } from './signals.js';

const USAGE = `Usage: node dist/reference/src/main.js [--workers N] [--help]

The sigcert reference server (spec/subject-protocol.md). Settings, all optional:

  --workers N               supervised mode: this process supervises N worker processes per
                            generation (or SIGCERT_WORKERS=N); SIGUSR2 restarts them with new code

  SIGCERT_HOST              loopback address to bind (127.0.0.1)
  SIGCERT_PORT_HTTP         HTTP port (8080)
  SIGCERT_PORT_TLS          HTTPS port, served when the configuration names a certificate
  SIGCERT_PORT_ADMIN        control channel port (needs a token)
  SIGCERT_CONTROL_TOKEN     control channel bearer token (or SIGCERT_CONTROL_TOKEN_FILE)
  SIGCERT_STATE_DIR         store, index and pidfile (./state)
  SIGCERT_CONFIG            JSON configuration file { "generation": n, ... }
  SIGCERT_GRACE_MS          stop deadline (5000)
  SIGCERT_PREDRAIN_MS       keep serving this long after a stop request (0)
  SIGCERT_STARTUP_DELAY_MS  artificial slow start, after the handlers, before binding (0)
  SIGCERT_BIND_HOLD_MS      artificial slow initialisation after each service bind, before the
                            stop check and the announcement; not cut short by a stop (0)
  SIGCERT_CONFORMANCE=1     the conformance endpoints (/hold, /cpu, /fifo, /kv, ...)
  SIGCERT_FIFO              FIFO that /fifo reads a line from
  SIGCERT_PROBE_FD          file descriptor for the NDJSON probe events
  SIGCERT_LOG_FILE          log here instead of stderr; SIGUSR1 reopens it
  SIGCERT_CODE_VERSION      what /version reports
  SIGCERT_FAULT             test-only: stop-subscriber-throws | stop-subscriber-hangs | slow-store
  SIGCERT_CPU_NICE=0        keep the CPU worker thread at normal priority (default: nice 19, Linux)
  SIGCERT_TRACE=1           probe "trace" events around every lifecycle step (bench/stop-breakdown.ts)

Signals: TERM/INT graceful stop (a second INT: fast stop), QUIT fast stop, HUP reload,
USR1 reopen logs, USR2 restart (with --workers: a new generation from the code on disk;
otherwise logged and ignored), PIPE ignored.
Exit status: 0 graceful, 1 startup failed, 3 stop deadline expired, 4 fast stop, 5 persist failed.
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE);
} else {
  const fdProbe = probeFromEnv();
  fdProbe.emit('hello', { protocol: '1' });
  const signals = installSignalHandlers({ probe: fdProbe });
  // the server's events also go to NOTIFY_SOCKET when a supervisor hands one over (after the handlers:
  // loading the datagram module must not widen the window in which a signal would kill us)
  const probe = await withSdNotify(fdProbe);
  try {
    const { readSettings } = await import('./settings.js');
    const settings = readSettings();
    // Our modules are compiled as they load (eager.ts): the stop sequence must not compile itself.
    if (settings.workers === undefined) {
      const { runServer } = await loadCompiled(async () => {
        await import('./store/index.js'); // loaded by the store step; compiled now
        return import('./server.js');
      });
      await runServer({ probe, signals, settings });
    } else {
      const { runSupervisor } = await loadCompiled(() => import('./supervised/supervisor.js'));
      await runSupervisor({ probe, signals, settings: { ...settings, workers: settings.workers } });
    }
  } catch (err) {
    // Only failures before the bus exists land here (invalid settings); the bus owns every
    // other exit. The signal listeners are unref'd, so the process now ends with status 1.
    process.stderr.write(`sigcert reference server: ${(err as Error).message}\n`);
    probe.emit('exiting', { code: 1 });
    process.exitCode = 1;
  }
}
