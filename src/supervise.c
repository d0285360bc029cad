#include "supervise.h"

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>

#include "utils.h"

void supervise_block_signals(sigset_t *set)
{
	sigfillset(set);
	/* Faults must still kill us. */
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGABRT);
	sigprocmask(SIG_BLOCK, set, NULL);
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Move what is readable on FROM to TO; false at EOF or error. */
static bool pump(int from, int to)
{
	char buf[8192];
	ssize_t n = TEMP_FAILURE_RETRY(read(from, buf, sizeof(buf)));

	if (n <= 0)
		return false;
	return write_all(to, buf, (size_t)n) == 0;
}

int supervise(pid_t pid, int master, const sigset_t *set)
{
	cleanup_close int sfd = signalfd(-1, set, SFD_CLOEXEC);
	struct termios saved, raw;
	bool tty_in = master >= 0 && isatty(STDIN_FILENO);
	bool stdin_open = master >= 0;
	int status = 0, result = -1;

	if (tty_in && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		copy_winsize(STDIN_FILENO, master);
	} else {
		tty_in = false;
	}
	while (result < 0) {
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
				      {.fd = master, .events = POLLIN},
				      {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			result = exit_status_of(status);
			/* What the process wrote just before it exited may still
			 * sit in the pty: hand it over before returning (bounded:
			 * a process left in the background may keep writing). */
			if (master >= 0 && fcntl(master, F_SETFL, O_NONBLOCK) == 0)
				for (int n = 0; n < 1024 && pump(master, STDOUT_FILENO); n++)
					;
			break;
		}
		if (TEMP_FAILURE_RETRY(poll(p, 3, -1)) < 0)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH && master >= 0)
					copy_winsize(STDIN_FILENO, master);
				else if (si.ssi_signo != SIGCHLD)
					kill(pid, (int)si.ssi_signo);
			}
		}
		if (master >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(master, STDOUT_FILENO))
			master = -1; /* all of the container's side closed */
		if (stdin_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (master < 0 || !pump(STDIN_FILENO, master))) {
			stdin_open = false;
			/* Pass EOF on like a terminal would (^D). */
			if (master >= 0 && !tty_in)
				(void)!write(master, "\x04", 1);
		}
	}
	if (tty_in)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (result < 0)
		result = TEMP_FAILURE_RETRY(waitpid(pid, &status, 0)) == pid ? exit_status_of(status) : 255;
	return result;
}
