/*
 * hold: what an audit clone's target container runs instead of the workload's entrypoint.
 *
 * It keeps the container (and so its root file system, environment and security context) alive
 * for the scanner, and does nothing else: no network, no files, no child processes. It exits 0 on
 * SIGTERM, SIGINT or SIGHUP (the pod is deleted), or when the deadline given as its only argument
 * (seconds, default 3600) has passed, so a clone whose audit died still ends by itself.
 *
 * Built static (`musl-gcc -static` or `gcc -static`) by scripts/build-images and shipped in the
 * scanner image at /usr/local/lib/sidescan/hold; `sidescan-agent install-hold DEST` copies it into
 * the clone's shared volume, so the target image needs no shell, no `cp` and no libc of its own.
 * The signals are blocked and taken with sigtimedwait, which also works when hold is PID 1 (the
 * kernel drops unhandled signals sent to PID 1 of a namespace, but never blocked ones).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_seconds(const char *text, long *out) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value <= 0 || value > 31L * 24 * 3600) {
        return -1;
    }
    *out = value;
    return 0;
}

int main(int argc, char **argv) {
    long deadline = 3600;
    if (argc > 2 || (argc == 2 && parse_seconds(argv[1], &deadline) != 0)) {
        fprintf(stderr, "usage: hold [SECONDS]  (1 to 2678400; default 3600)\n");
        return 2;
    }
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
        perror("hold: sigprocmask");
        return 3;
    }
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += deadline;
    printf("hold: pid %ld holds the container for a scan; exits on SIGTERM or after %ld s\n",
           (long)getpid(), deadline);
    fflush(stdout);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long remaining = (long)(end.tv_sec - now.tv_sec);
        if (remaining <= 0) {
            printf("hold: deadline of %ld s reached\n", deadline);
            return 0;
        }
        struct timespec wait = {.tv_sec = remaining, .tv_nsec = 0};
        int sig = sigtimedwait(&wanted, NULL, &wait);
        if (sig > 0) {
            printf("hold: %s, exiting\n", strsignal(sig));
            return 0;
        }
        if (errno != EAGAIN && errno != EINTR) {
            perror("hold: sigtimedwait");
            return 3;
        }
    }
}
