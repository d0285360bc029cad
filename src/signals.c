#include "signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utils.h"

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT},	 {"ILL", SIGILL},   {"TRAP", SIGTRAP},
	{"ABRT", SIGABRT}, {"IOT", SIGIOT},	  {"BUS", SIGBUS},	 {"FPE", SIGFPE},   {"KILL", SIGKILL},
	{"USR1", SIGUSR1}, {"SEGV", SIGSEGV},	  {"USR2", SIGUSR2},	 {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
	{"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},	 {"CLD", SIGCHLD},  {"CONT", SIGCONT},
	{"STOP", SIGSTOP}, {"TSTP", SIGTSTP},	  {"TTIN", SIGTTIN},	 {"TTOU", SIGTTOU}, {"URG", SIGURG},
	{"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},	  {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
	{"IO", SIGIO},	   {"POLL", SIGPOLL},	  {"PWR", SIGPWR},	 {"SYS", SIGSYS},
};

int signal_parse(const char *s)
{
	uint64_t n;
	const char *name = s;

	if (s == NULL || *s == '\0')
		return -1;
	if (parse_u64(s, &n) == 0)
		return (n >= 1 && n <= (uint64_t)SIGRTMAX) ? (int)n : -1;
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signal_table); i++)
		if (strcasecmp(name, signal_table[i].name) == 0)
			return signal_table[i].sig;
	if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
		bool min = strncasecmp(name, "RTMIN", 5) == 0;
		int64_t off = 0;
		const char *rest = name + 5;
		int sig;
		if (*rest != '\0' && (parse_i64(rest, &off) < 0 || off < -32 || off > 32))
			return -1;
		sig = (min ? SIGRTMIN : SIGRTMAX) + (int)off;
		return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? sig : -1;
	}
	return -1;
}

const char *signal_name(int sig)
{
	for (size_t i = 0; i < ARRAY_SIZE(signal_table); i++)
		if (signal_table[i].sig == sig)
			return signal_table[i].name;
	return NULL;
}
