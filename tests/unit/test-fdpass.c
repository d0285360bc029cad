/* send_with_fd and recv_with_fd (src/utils.c): the one fd passing code of
 * the console socket, the seccomp listener, and the network helper's tap
 * and socket factory children. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "utils.h"

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void test_fd_arrives(void)
{
	int sv[2], null, got = -2;
	char buf[16] = {0};
	ssize_t n;

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	is_int(send_with_fd(sv[0], null, "hello", 5), 5, "send: the data with an fd");
	n = recv_with_fd(sv[1], buf, sizeof(buf), &got);
	is_int(n, 5, "recv: the data");
	is_str(buf, "hello", "recv: the bytes");
	ok(got >= 0 && got != null && same_file(got, null), "recv: a new fd of the same file");
	ok(got >= 0 && (fcntl(got, F_GETFD) & FD_CLOEXEC), "recv: the fd is close-on-exec");
	close(got);
	close(null);
	close(sv[0]);
	close(sv[1]);
}

static void test_no_fd(void)
{
	int sv[2], got = -2;
	char buf[16] = {0};

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	is_int(send_with_fd(sv[0], -1, "x", 1), 1, "send without an fd");
	is_int(recv_with_fd(sv[1], buf, sizeof(buf), &got), 1, "recv: the data without an fd");
	is_int(got, -1, "recv: no fd is -1");
	close(sv[0]);
	is_int(recv_with_fd(sv[1], buf, sizeof(buf), &got), 0, "recv: 0 when the peer is gone");
	is_int(got, -1, "recv: no fd then either");
	close(sv[1]);
}

/* A sender that attaches two fds: the second is closed, not leaked. */
static void test_extra_fds_closed(void)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctrl = {0};
	int sv[2], fds[2], got = -2, probe;
	char c = 'x', buf[4];
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	sendmsg(sv[0], &mh, 0);
	close(fds[0]);
	close(fds[1]);
	/* The lowest free fd after the receive: the received first fd, then
	 * the extra one's number if it was closed. */
	is_int(recv_with_fd(sv[1], buf, sizeof(buf), &got), 1, "recv of a message with two fds");
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ok(got >= 0 && probe == got + 1, "the second fd was closed (next free fd %d, first %d)", probe, got);
	close(probe);
	close(got);
	close(sv[0]);
	close(sv[1]);
}

/* The receiver's fd table is full: the kernel drops the fd and says so;
 * that is EMFILE, not a message without an fd. */
static void test_table_full(void)
{
	struct rlimit old, low;
	int sv[2], null, got = -2, fill[8], nfill = 0;
	char buf[4];
	ssize_t n;

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	send_with_fd(sv[0], null, "x", 1);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)null + 1;
	setrlimit(RLIMIT_NOFILE, &low);
	while (nfill < 8 && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	errno = 0;
	n = recv_with_fd(sv[1], buf, sizeof(buf), &got);
	ok(n < 0 && errno == EMFILE, "a dropped fd is EMFILE (n %zd, errno %d)", n, errno);
	is_int(got, -1, "and no fd");
	setrlimit(RLIMIT_NOFILE, &old);
	while (nfill > 0)
		close(fill[--nfill]);
	close(null);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	test_fd_arrives();
	test_no_fd();
	test_extra_fds_closed();
	test_table_full();
	return done_testing();
}
