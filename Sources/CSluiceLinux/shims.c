#define _GNU_SOURCE
#include "CSluiceLinux.h"

int csluice_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int csluice_errno(void) { return errno; }

int csluice_block_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, set, NULL);
}
