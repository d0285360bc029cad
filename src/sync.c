#include "sync.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "utils.h"

#define HDR_SIZE (4 * sizeof(int32_t))

/* One SEQPACKET record: the header and up to SYNC_RECORD_MAX bytes. */
static int send_record(int fd, int type, int err_no, int32_t pid, const char *data, size_t len)
{
	int32_t hdr[4] = {type, err_no, pid, (int32_t)len};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};

	return TEMP_FAILURE_RETRY(sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 ? -1 : 0;
}

int sync_send(int fd, int type, pid_t pid, const char *payload, struct ocr_error *err)
{
	size_t len = payload ? strlen(payload) : 0;

	if (len > SYNC_PAYLOAD_MAX)
		return ocr_fail(err, E2BIG, "sync message too large (%zu bytes, at most %u)", len, SYNC_PAYLOAD_MAX);
	/* A record must fit the socket's send buffer (net.core.wmem_default,
	 * ~208 KiB) or sendmsg fails with EMSGSIZE: a larger payload (a state
	 * with big annotations) goes ahead in SYNC_MORE pieces. */
	for (; len > SYNC_RECORD_MAX; payload += SYNC_RECORD_MAX, len -= SYNC_RECORD_MAX)
		if (send_record(fd, SYNC_MORE, 0, 0, payload, SYNC_RECORD_MAX) < 0)
			return ocr_fail_errno(err, "send to container init");
	if (send_record(fd, type, 0, pid, payload, len) < 0)
		return ocr_fail_errno(err, "send to container init");
	return 0;
}

/* An error record's pid slot carries flags. */
#define ERR_SHOW_ERRNO 1
#define ERR_HOOK 2

static int send_error(int fd, const struct ocr_error *e, int flags)
{
	size_t len = strnlen(e->msg, sizeof(e->msg));

	return send_record(fd, SYNC_ERROR, e->err, flags | (e->show_errno ? ERR_SHOW_ERRNO : 0), e->msg, len);
}

int sync_send_error(int fd, const struct ocr_error *e)
{
	return send_error(fd, e, 0);
}

int sync_send_hook_error(int fd, const struct ocr_error *e)
{
	return send_error(fd, e, ERR_HOOK);
}

bool sync_is_hook_error(const struct sync_msg *m)
{
	return m->type == SYNC_ERROR && (m->pid & ERR_HOOK) != 0;
}

static int recv_record(int fd, struct sync_msg *m, struct ocr_error *err)
{
	int32_t hdr[4];
	ssize_t n;
	size_t total;
	cleanup_free char *buf = NULL;

	memset(m, 0, sizeof(*m));
	/* Peek for the record's size, then read it whole. */
	n = TEMP_FAILURE_RETRY(recv(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_TRUNC));
	if (n < 0) {
		if (errno == ECONNRESET)
			return 1;
		return ocr_fail_errno(err, "receive from container init");
	}
	if (n == 0)
		return 1;
	if ((size_t)n < HDR_SIZE || (size_t)n > HDR_SIZE + SYNC_RECORD_MAX)
		return ocr_fail(err, EPROTO, "bad sync message of %zd bytes", n);
	total = (size_t)n;
	buf = xmalloc(total + 1);
	n = TEMP_FAILURE_RETRY(recv(fd, buf, total, 0));
	if (n != (ssize_t)total)
		return ocr_fail(err, EPROTO, "short sync message");
	memcpy(hdr, buf, HDR_SIZE);
	if ((size_t)hdr[3] != total - HDR_SIZE)
		return ocr_fail(err, EPROTO, "bad sync message length");
	m->type = hdr[0];
	m->err = hdr[1];
	m->pid = hdr[2];
	m->len = (uint32_t)hdr[3];
	m->payload = xmalloc(m->len + 1);
	memcpy(m->payload, buf + HDR_SIZE, m->len);
	m->payload[m->len] = '\0';
	return 0;
}

int sync_recv(int fd, struct sync_msg *m, struct ocr_error *err)
{
	cleanup_free char *acc = NULL;
	size_t acc_len = 0;
	char *whole;
	int r;

	/* SYNC_MORE pieces, then the record of the real type with the last. */
	for (;;) {
		r = recv_record(fd, m, err);
		if (r != 0)
			return r;
		if (acc_len + m->len > SYNC_PAYLOAD_MAX) {
			sync_msg_clear(m);
			return ocr_fail(err, EPROTO, "sync message larger than %u bytes", SYNC_PAYLOAD_MAX);
		}
		if (m->type != SYNC_MORE)
			break;
		acc = xrealloc(acc, acc_len + m->len);
		memcpy(acc + acc_len, m->payload, m->len);
		acc_len += m->len;
		sync_msg_clear(m);
	}
	if (acc_len == 0)
		return 0;
	whole = xmalloc(acc_len + m->len + 1);
	memcpy(whole, acc, acc_len);
	memcpy(whole + acc_len, m->payload, m->len + 1);
	free(m->payload);
	m->payload = whole;
	m->len += (uint32_t)acc_len;
	return 0;
}

int sync_expect(int fd, int type, struct sync_msg *m, struct ocr_error *err)
{
	int r = sync_recv(fd, m, err);

	if (r < 0)
		return -1;
	if (r == 1)
		return ocr_fail(err, EPIPE, "the other side exited");
	if (m->type == SYNC_ERROR) {
		sync_error_to(m, err);
		sync_msg_clear(m);
		return -1;
	}
	if (m->type != type) {
		int got = m->type;
		sync_msg_clear(m);
		return ocr_fail(err, EPROTO, "unexpected sync message %d (wanted %d)", got, type);
	}
	return 0;
}

int sync_error_to(const struct sync_msg *m, struct ocr_error *err)
{
	ocr_fail(err, m->err, "%s", m->payload);
	err->show_errno = (m->pid & ERR_SHOW_ERRNO) != 0;
	return -1;
}

void sync_msg_clear(struct sync_msg *m)
{
	free(m->payload);
	m->payload = NULL;
}
