#include "terminal.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>

#include "resolve.h"
#include "utils.h"

int terminal_connect(const char *path, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sun.sun_path))
		return ocr_fail(err, ENAMETOOLONG, "--console-socket `%s`: path too long", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ocr_fail_errno(err, "socket");
	if (TEMP_FAILURE_RETRY(connect(fd, (struct sockaddr *)&sun, sizeof(sun))) < 0)
		return ocr_fail_errno(err, "connect to --console-socket `%s`", path);
	return steal_fd(&fd);
}

void terminal_copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* /dev/console inside the pivoted root, opened O_PATH without following
 * any symlink: neither /dev nor console may redirect the bind elsewhere
 * (CVE-2025-52565). Made as an empty file when missing. */
static int open_console_target(struct ocr_error *err)
{
	cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int devfd = -1;
	cleanup_close int fd = -1;
	struct stat st;

	/* After pivot_root: "/" is the container's root. No symlink is
	 * followed, in /dev or at console; the resolve module walks the path
	 * itself where openat2 is missing. */
	if (rootfd < 0)
		return ocr_fail_errno(err, "/dev/console: open /");
	devfd = resolve_in_root_opts(rootfd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_OPT_NO_SYMLINKS);
	if (devfd < 0)
		return ocr_fail_errno(err, "/dev/console: open /dev (it must be a directory, not a symlink)");
	fd = resolve_in_root_opts(devfd, "console", O_PATH | O_CLOEXEC, RESOLVE_OPT_NO_SYMLINKS);
	if (fd < 0 && errno == ENOENT) {
		cleanup_close int made =
			openat(devfd, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (made < 0 && errno != EEXIST)
			return ocr_fail_errno(err, "create /dev/console");
		fd = resolve_in_root_opts(devfd, "console", O_PATH | O_CLOEXEC, RESOLVE_OPT_NO_SYMLINKS);
	}
	if (fd < 0 && errno == ELOOP)
		return ocr_fail(err, ELOOP, "/dev/console is a symlink: refusing to bind the terminal through it");
	if (fd < 0)
		return ocr_fail_errno(err, "open /dev/console");
	if (fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "stat /dev/console");
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return ocr_fail(err, EPERM,
				"/dev/console is neither a file nor a character device: refusing to bind on it");
	return steal_fd(&fd);
}

/* /dev/console is a bind of the pty slave, made fd to fd (open_tree and
 * move_mount): no path, not even /proc/self/fd of a /proc the image may
 * have replaced, is resolved between the check and the mount. */
static int bind_console(int slave, const char *name, struct ocr_error *err)
{
	cleanup_close int target = open_console_target(err);
	cleanup_close int tree = -1;

	if (target < 0)
		return -1;
	tree = (int)syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return ocr_fail_errno(err, "bind `%s` on /dev/console: open_tree", name);
	if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return ocr_fail_errno(err, "bind `%s` on /dev/console", name);
	return 0;
}

int terminal_setup(const struct spec_process *p, bool console, int *ret_master, struct ocr_error *err)
{
	cleanup_close int master = -1;
	cleanup_close int slave = -1;
	char name[64];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return ocr_fail_errno(err, "open /dev/ptmx in the container (is /dev/pts mounted?)");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return ocr_fail_errno(err, "unlock pty");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return ocr_fail_errno(err, "open `%s`", name);
	if (console && bind_console(slave, name, err) < 0)
		return -1;
	if (p->has_console_size) {
		struct winsize ws = {.ws_row = (unsigned short)p->console_height,
				     .ws_col = (unsigned short)p->console_width};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			return ocr_fail_errno(err, "process.consoleSize");
	}
	if (setsid() < 0)
		return ocr_fail_errno(err, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return ocr_fail_errno(err, "make `%s` the controlling terminal", name);
	for (int i = 0; i <= 2; i++)
		if (dup2(slave, i) < 0)
			return ocr_fail_errno(err, "dup pty to fd %d", i);
	*ret_master = steal_fd(&master);
	return 0;
}

int terminal_send_fd(int sockfd, int master, struct ocr_error *err)
{
	static const char data[] = "/dev/ptmx";

	if (send_with_fd(sockfd, master, data, sizeof(data) - 1) < 0)
		return ocr_fail_errno(err, "send the pty master to --console-socket");
	return 0;
}

int terminal_recv_fd(int sockfd, int *ret_fd, struct ocr_error *err)
{
	char data[64];

	if (recv_with_fd(sockfd, data, sizeof(data), ret_fd) < 0)
		return ocr_fail_errno(err, "receive the pty master");
	if (*ret_fd < 0)
		return ocr_fail(err, EPROTO, "no pty master received from the container");
	return 0;
}
