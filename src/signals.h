#ifndef OCR_SIGNALS_H
#define OCR_SIGNALS_H

/* "KILL", "SIGKILL", "kill", "9", "SIGRTMIN+3" -> signal number, or -1. */
int signal_parse(const char *s);
/* "KILL" for 9; NULL when the number has no name. */
const char *signal_name(int sig);

#endif
