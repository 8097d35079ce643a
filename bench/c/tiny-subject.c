/*
 * The smallest cooperative sigcert subject: it speaks only the probe channel (fd 3, or
 * SIGCERT_PROBE_FD). At handler entry it stamps CLOCK_MONOTONIC and writes a probe `signal` event
 * (async-signal-safe: clock_gettime, write, and hand-rolled number formatting). SIGHUP is
 * acknowledged and survived; SIGTERM is acknowledged and ends the process with status 0.
 * Used by bench/harness-overhead.ts to measure what the harness itself costs.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int probe_fd = 3;
static pid_t self;

static size_t put_u64(char *p, unsigned long long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
  return n;
}

static void emit(const char *ev, const char *sig) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
  char buf[160];
  size_t n = 0;
  const char *a = "{\"ev\":\"";
  memcpy(buf + n, a, strlen(a)); n += strlen(a);
  memcpy(buf + n, ev, strlen(ev)); n += strlen(ev);
  if (sig) {
    const char *b = "\",\"sig\":\"";
    memcpy(buf + n, b, strlen(b)); n += strlen(b);
    memcpy(buf + n, sig, strlen(sig)); n += strlen(sig);
  }
  const char *c = "\",\"t\":\"";
  memcpy(buf + n, c, strlen(c)); n += strlen(c);
  n += put_u64(buf + n, ns);
  const char *d = "\",\"pid\":";
  memcpy(buf + n, d, strlen(d)); n += strlen(d);
  n += put_u64(buf + n, (unsigned long long)self);
  buf[n++] = '}';
  buf[n++] = '\n';
  ssize_t w = write(probe_fd, buf, n);
  (void)w;
}

static void on_hup(int s) { (void)s; emit("signal", "SIGHUP"); }
static void on_term(int s) {
  (void)s;
  emit("signal", "SIGTERM");
  emit("exiting", NULL);
  _exit(0);
}

int main(void) {
  const char *fd = getenv("SIGCERT_PROBE_FD");
  if (fd) probe_fd = atoi(fd);
  self = getpid();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  emit("handlers", NULL);
  emit("ready", NULL);
  for (;;) pause();
}
