/* Foreground supervision of a container process: forward signals to it,
 * relay a pty between the caller's terminal and the container when there is
 * one, and return its exit status (128+N when killed by signal N). */
#ifndef OCR_SUPERVISE_H
#define OCR_SUPERVISE_H

#include <signal.h>
#include <sys/types.h>

/* Block the signals supervise() forwards; call before the process runs
 * so none is lost in between. */
void supervise_block_signals(sigset_t *ret_set);
/* PID must be our child. MASTER is a pty master or -1. */
int supervise(pid_t pid, int master, const sigset_t *set);

#endif
