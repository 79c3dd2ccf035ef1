/* bench/micro.ts: a stand-in for sandbox-run --serve that answers every run request at once
 * ("exit 0", no output) and runs nothing, so that a harness run against it measures Node's
 * side of the per-case path alone. Any other use (--remove-cgroups) reads to end of file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char requests[1 << 22];
static size_t requests_len;

int main(void) {
  char answers[1 << 16];
  for (;;) {
    ssize_t n = read(0, requests + requests_len, sizeof requests - requests_len);
    if (n <= 0) return 0;
    requests_len += n;
    size_t at = 0, answers_len = 0;
    for (;;) {
      char *nl = memchr(requests + at, '\n', requests_len - at), id[64], verb[16];
      size_t args_len, stdin_len;
      if (!nl) break;
      *nl = 0;
      int ok = sscanf(requests + at, "%63s %15s %zu %zu", id, verb, &args_len, &stdin_len) == 4;
      *nl = '\n';
      if (!ok) return 1;
      size_t used = (size_t)(nl + 1 - (requests + at)) + args_len + stdin_len;
      if (at + used > requests_len) break;
      if (!strcmp(verb, "run")) answers_len += snprintf(answers + answers_len, sizeof answers - answers_len, "%s status 7\nexit 0\n%s done 5\n0 0 0", id, id);
      at += used;
      if (answers_len > sizeof answers - 256) {
        if (write(1, answers, answers_len) < 0) return 0;
        answers_len = 0;
      }
    }
    if (answers_len && write(1, answers, answers_len) < 0) return 0;
    memmove(requests, requests + at, requests_len - at);
    requests_len -= at;
  }
}
