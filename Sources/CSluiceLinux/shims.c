#define _GNU_SOURCE
#include "CSluiceLinux.h"
#include <spawn.h>

int csluice_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int csluice_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int csluice_errno(void) { return errno; }

int csluice_block_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, set, NULL);
}

int csluice_spawn_file_actions_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int csluice_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int n, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int err = posix_spawn_file_actions_init(&actions);
    if (err != 0) return err;
    err = posix_spawnattr_init(&attr);
    if (err != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return err;
    }
    // Two steps so that no source is overwritten before it is moved: first above every
    // source (base > max(fds) >= 3 + n - 1 > every target), then down to 3, 4, ...
    // dup2 leaves the copies without FD_CLOEXEC; everything else is closed.
    int base = 3 + n;
    for (int i = 0; i < n; i++) if (fds[i] >= base) base = fds[i] + 1;
    for (int i = 0; i < n && err == 0; i++) err = posix_spawn_file_actions_adddup2(&actions, fds[i], base + i);
    for (int i = 0; i < n && err == 0; i++) err = posix_spawn_file_actions_adddup2(&actions, base + i, 3 + i);
    if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions, 3 + n);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
    if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
    if (err == 0) err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (err == 0) err = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return err;
}
