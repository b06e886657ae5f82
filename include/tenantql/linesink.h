/*
 * linesink.h - lines written to a file or standard output by a thread of their own, so
 * that a slow reader (a full pipe, a slow disk, a paused log shipper) never stalls the
 * threads that produce them.
 *
 * Producers append whole lines to a bounded buffer under a mutex (a memcpy); the writer
 * thread swaps it for an empty one and writes it out. When the buffer is full, a line is
 * dropped and counted, never waited for: losing access log lines under a stuck reader is
 * better than losing requests.
 */
#ifndef TENANTQL_LINESINK_H
#define TENANTQL_LINESINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tq_linesink tq_linesink;

/* Opens path for appending ("-": standard output) and starts its writer thread; the
 * buffer holds at most capacity bytes not yet written. NULL with a message in err. */
tq_linesink *tq_linesink_open(const char *path, size_t capacity, char *err, size_t errlen);

/* Queues one line (its text and the newline it must end with); false if it was dropped
 * because the buffer is full or the line is longer than the buffer. Any thread. */
bool tq_linesink_write(tq_linesink *s, const char *line, size_t len);

/* Lines dropped so far, and lines queued (written or about to be). Any thread. */
uint64_t tq_linesink_dropped(const tq_linesink *s);
uint64_t tq_linesink_written(const tq_linesink *s);

/* Asks the writer to open the file again before its next write (log rotation: the old
 * file was renamed); if that fails the old file is kept and one line says so on stderr.
 * Nothing for standard output. Any thread. */
void tq_linesink_reopen(tq_linesink *s);

/* Writes what is queued, stops the thread and closes the file (not standard output).
 * No producer may write any more. NULL is fine. */
void tq_linesink_close(tq_linesink *s);

#endif
