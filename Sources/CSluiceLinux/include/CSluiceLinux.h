#ifndef CSLUICE_LINUX_H
#define CSLUICE_LINUX_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <pthread.h>
#include <sys/types.h>
#include <spawn.h>

/// accept4 is hidden behind _GNU_SOURCE in Glibc's module map.
int csluice_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
/// pipe2 is hidden behind _GNU_SOURCE too.
int csluice_pipe2(int fds[2], int flags);
/// errno, read right after the call that set it.
int csluice_errno(void);
/// Blocks every signal sluice handles through signalfd in the calling thread (inherited by threads it starts).
int csluice_block_signals(sigset_t *set);

/// Starts `path` as a child process (posix_spawn) with exactly the descriptors `fds[0..<n]`
/// open, as 3, 4, ... in that order (besides 0-2), an empty signal mask and default signal
/// dispositions. Returns 0 and sets `*pid`, or an errno value.
int csluice_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int n, pid_t *pid);
/// posix_spawn_file_actions_addclosefrom_np, hidden behind _GNU_SOURCE: the child closes
/// every descriptor from `from` up (for children started with posix_spawn outside `csluice_spawn`).
int csluice_spawn_file_actions_closefrom(posix_spawn_file_actions_t *actions, int from);
/// SIGUSR2 added to the signals `csluice_block_signals` blocks (the upgrade request).
static inline int csluice_SIGUSR2(void) { return SIGUSR2; }

static inline uint32_t csluice_EPOLLIN(void) { return EPOLLIN; }
static inline uint32_t csluice_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t csluice_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t csluice_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t csluice_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t csluice_EPOLLET(void) { return EPOLLET; }

#endif
