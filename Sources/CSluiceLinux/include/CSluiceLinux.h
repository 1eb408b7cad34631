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

/// accept4 is hidden behind _GNU_SOURCE in Glibc's module map.
int csluice_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
/// errno, read right after the call that set it.
int csluice_errno(void);
/// Blocks every signal sluice handles through signalfd in the calling thread (inherited by threads it starts).
int csluice_block_signals(sigset_t *set);

static inline uint32_t csluice_EPOLLIN(void) { return EPOLLIN; }
static inline uint32_t csluice_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t csluice_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t csluice_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t csluice_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t csluice_EPOLLET(void) { return EPOLLET; }

#endif
