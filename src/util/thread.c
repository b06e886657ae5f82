/*
 * thread.c - helper threads that take no process signal (see thread.h).
 */
#include "tenantql/thread.h"

#include <signal.h>

int tq_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    /* a new thread inherits its creator's mask: block all around its creation */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}
