/*
 * A minimal C supervisor: the floor against which the harness's own measurement is compared.
 * Starts the subject with fd 3 as a pipe, waits for `ready`, then N times: stamp CLOCK_MONOTONIC,
 * kill(SIGHUP), read the probe line, stamp again. Prints one JSON line per trial:
 * {"killToHandler": ns, "roundTrip": ns}. Usage: supervisor N subject-path
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static char line[512];
static size_t have = 0;
static char buf[4096];

/* read one line from fd into `line` */
static int read_line(int fd) {
  for (;;) {
    char *nl = memchr(buf, '\n', have);
    if (nl) {
      size_t n = (size_t)(nl - buf);
      if (n >= sizeof line) n = sizeof line - 1;
      memcpy(line, buf, n);
      line[n] = 0;
      memmove(buf, nl + 1, have - (size_t)(nl - buf) - 1);
      have -= (size_t)(nl - buf) + 1;
      return 0;
    }
    ssize_t r = read(fd, buf + have, sizeof buf - have);
    if (r <= 0) return -1;
    have += (size_t)r;
  }
}

static unsigned long long field_t(void) {
  char *p = strstr(line, "\"t\":\"");
  return p ? strtoull(p + 5, NULL, 10) : 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: supervisor N subject\n");
    return 2;
  }
  int n = atoi(argv[1]);
  int p[2];
  if (pipe(p) != 0) return 3;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]); /* first: the read end may itself be fd 3 */
    if (p[1] != 3) {
      dup2(p[1], 3);
      close(p[1]);
    }
    setenv("SIGCERT_PROBE_FD", "3", 1);
    execl(argv[2], argv[2], (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  do {
    if (read_line(p[0]) != 0) return 4;
  } while (!strstr(line, "\"ready\""));
  for (int i = 0; i < n; i++) {
    unsigned long long t0 = now();
    kill(pid, SIGHUP);
    do {
      if (read_line(p[0]) != 0) return 5;
    } while (!strstr(line, "\"signal\""));
    unsigned long long t1 = now();
    printf("{\"killToHandler\":%llu,\"roundTrip\":%llu}\n", field_t() - t0, t1 - t0);
    usleep(1000 + (unsigned)(rand() % 2000)); /* random gap between trials, as the harness does */
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return 0;
}
