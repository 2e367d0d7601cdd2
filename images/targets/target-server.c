/* The test targets' main process: waits for a signal, then exits cleanly. It stands in for an
 * application (it opens nothing, serves nothing) so a target container stays running while it is
 * scanned, and stops at once when the pod is deleted (as PID 1 of its container it must handle
 * SIGTERM itself, or the kubelet would wait out the grace period). */
#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

int main(void) {
    struct sigaction sa = {0};
    sigset_t blocked, waiting;
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    /* Block the signals outside sigsuspend, so one arriving between the check and the wait is
     * not lost. */
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);
    while (!stop) sigsuspend(&waiting);
    return 0;
}
