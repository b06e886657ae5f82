/*
 * thread.h - starting the server's helper threads. Process signals (SIGINT, SIGTERM,
 * SIGHUP) are the main thread's to take: every other thread starts with all of them
 * blocked, whenever it is started, so that none dies of a signal or swallows one meant
 * for the main thread's sigtimedwait.
 */
#ifndef TENANTQL_THREAD_H
#define TENANTQL_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread: 0, or pthread_create's
 * error. */
int tq_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
