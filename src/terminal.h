/* Container terminals: a pty made inside the container's devpts whose
 * master goes to the caller (--console-socket, as runc/crun/conmon speak it:
 * one SCM_RIGHTS message) and whose slave becomes the process's stdio and
 * controlling terminal. */
#ifndef OCR_TERMINAL_H
#define OCR_TERMINAL_H

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Connect to the console socket (done before pivot_root: it is a host
 * path). Returns the connected fd. */
int terminal_connect(const char *path, struct ocr_error *err);
/* Open a pty, make its slave our stdio and controlling tty, and return
 * the master in RET_MASTER. With CONSOLE (the container's own process)
 * the slave is also bind-mounted on /dev/console, as the runtime-spec's
 * default devices require. */
int terminal_setup(const struct spec_process *p, bool console, int *ret_master, struct ocr_error *err);
/* Give the pty TO the window size of the terminal FROM (if it is one). */
void terminal_copy_winsize(int from, int to);
/* Send MASTER over SOCKFD with SCM_RIGHTS. */
int terminal_send_fd(int sockfd, int master, struct ocr_error *err);

/* Receive a fd sent by terminal_send_fd(). */
int terminal_recv_fd(int sockfd, int *ret_fd, struct ocr_error *err);

#endif
