/*
 * Zoo server, in C: installs its signal handlers only after announcing readiness (edge case E01).
 *
 * A black-box subject (TCP readiness, no probe): it binds and listens (so it is "ready" to anyone who
 * connects), then finishes its initialisation (ZOO_INIT_MS, default 1500 ms, standing for loading
 * plugins or warming caches), and only then installs its handlers. Any mapped signal that arrives in that
 * window meets the default disposition and ends the process with no cleanup.
 *
 * Apart from that one bug it is correct for its declared map: SIGTERM and SIGINT stop it (listener closed,
 * exit 0), SIGHUP re-reads the configuration file, SIGPIPE is ignored. Every request gets 200 "ok" and
 * Connection: close. Built by the manifest's setup command with the system C compiler.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t reload_requested = 0;
static int wake_pipe[2] = {-1, -1};

/* The handler only records the request and wakes the loop (self-pipe). */
static void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGHUP)
    reload_requested = 1;
  else
    stop_requested = 1;
  char c = 1;
  ssize_t n = write(wake_pipe[1], &c, 1);
  (void)n;
  errno = saved;
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return dflt;
  char *end;
  long n = strtol(v, &end, 10);
  return (*end == '\0' && n >= 0) ? n : dflt;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static void reload_config(void) {
  const char *path = getenv("SIGCERT_CONFIG");
  if (path == NULL) return;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "reload: cannot open %s: %s\n", path, strerror(errno));
    return;
  }
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  fprintf(stderr, "reload: %zu bytes of configuration read\n", n);
}

/* Read the request head (bounded wait), answer it, close. */
static void serve(int c) {
  char buf[8192];
  size_t got = 0;
  struct pollfd p = {c, POLLIN, 0};
  while (got < sizeof buf - 1 && poll(&p, 1, 2000) > 0) {
    ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = '\0';
    if (strstr(buf, "\r\n\r\n") != NULL) break;
  }
  static const char resp[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  ssize_t w = write(c, resp, sizeof resp - 1);
  (void)w;
  shutdown(c, SHUT_WR);
  close(c);
}

int main(void) {
  const char *host = getenv("SIGCERT_HOST") ? getenv("SIGCERT_HOST") : "127.0.0.1";
  long port = env_long("SIGCERT_PORT_HTTP", -1);
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "SIGCERT_PORT_HTTP missing or invalid\n");
    return 1;
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(ls, 128) != 0) {
    fprintf(stderr, "cannot listen on %s:%ld: %s\n", host, port, strerror(errno));
    return 1;
  }

  /* THE BUG: the listener is up (the subject is ready for anyone who connects), but the handlers are
   * installed only after the rest of the initialisation. */
  long init_ms = env_long("ZOO_INIT_MS", 1500);
  /* ZOO_INIT_MS=0 (c-handlers-after-listen): no sleep at all, not even nanosleep(0), which would give the
   * CPU away inside the window: the handlers follow listen() within a few instructions */
  if (init_ms > 0) sleep_ms(init_ms);

  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  fprintf(stderr, "handlers installed\n");

  for (;;) {
    struct pollfd fds[2] = {{ls, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (n < 0 && errno != EINTR) return 1;
    if (fds[1].revents & POLLIN) {
      char drain[64];
      while (read(wake_pipe[0], drain, sizeof drain) > 0) {
      }
    }
    if (stop_requested) {
      close(ls); /* refuse new connections; nothing is in flight in this single-threaded server */
      fprintf(stderr, "stopped\n");
      return 0;
    }
    if (reload_requested) {
      reload_requested = 0;
      reload_config();
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) serve(c);
    }
  }
}
