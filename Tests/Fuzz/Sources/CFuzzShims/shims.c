// A fuzzer must not send DNS queries: the config loader resolves every address it reads, and
// mutated configs are full of random host names. This getaddrinfo, linked into the fuzz
// executable, takes precedence over libc's (and the sanitizer runtime's weak interceptor)
// and only accepts numeric hosts; "localhost" is read as 127.0.0.1. Nothing leaves the machine.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>

#include "CFuzzShims.h"

typedef int (*CFuzzShims_getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    static CFuzzShims_getaddrinfo_fn real;
    if (!real) real = (CFuzzShims_getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (!real) return EAI_FAIL;
    struct addrinfo numeric;
    memset(&numeric, 0, sizeof numeric);
    if (hints) numeric = *hints;
    numeric.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
    if (node && strcmp(node, "localhost") == 0) node = "127.0.0.1";
    return real(node, service, &numeric, res);
}

int CFuzzShims_numericOnlyResolver(void) { return 1; }
