/* Offloads between the tap (virtio-net headers) and libslirp, so that
 * neither side has to work in MTU-sized pieces:
 *  - from the container: finish the checksums its kernel left to us and
 *    take its TSO segments (up to 64 KiB) whole; set the MSS option of
 *    its SYNs to a large one libslirp's side can take (half the window
 *    libslirp allows, see MSS_CAP in slirp.c), so libslirp sends large
 *    segments too, two per window;
 *  - to the container: libslirp's SYNs get the same MSS (so the
 *    container's TCP need not wait for a window of a whole 64 KiB MSS);
 *    frames are marked DATA_VALID (libslirp's checksums
 *    are right; the container's kernel skips checking them), and a TCP
 *    segment larger than the tap's MTU goes with a GSO header (gso_size
 *    from the MTU), which that kernel takes as a coalesced (GRO) segment.
 * libslirp runs with an MTU of its own (NET_SLIRP_MTU_OFFLOAD) for this;
 * the tap keeps the MTU the user asked for. */
#include <linux/virtio_net.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <string.h>

#include "net.h"

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd

/* The one's complement sum of RFC 1071, folded to 16 bits: 64-bit words
 * with the end-around carry, which is the same sum in a quarter of the
 * steps (one's complement addition does not care about word size). */
uint16_t net_csum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		sum += w;
		sum += sum < w;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, p + i, len - i); /* little- or big-endian: zero-padded in place */
		sum += w;
		sum += sum < w;
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The TCP header of an IPv4/IPv6 frame (no IPv4 fragments, no IPv6
 * extension headers); *RET_L3 is the IP header's offset length. */
static uint8_t *tcp_of(uint8_t *f, size_t len, int *ret_family, size_t *ret_l3len)
{
	uint16_t type;
	size_t l3len;

	if (len < ETH_HLEN_ + 20 + 20)
		return NULL;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_IP_) {
		const struct ip *ip = (const void *)(f + ETH_HLEN_);
		l3len = (size_t)ip->ip_hl * 4;
		if (ip->ip_v != 4 || ip->ip_p != IPPROTO_TCP || l3len < 20 ||
		    (ntohs(ip->ip_off) & (IP_MF | IP_OFFMASK)))
			return NULL;
		*ret_family = AF_INET;
	} else if (type == ETH_P_IPV6_) {
		const struct ip6_hdr *ip6 = (const void *)(f + ETH_HLEN_);
		if ((f[ETH_HLEN_] >> 4) != 6 || ip6->ip6_nxt != IPPROTO_TCP)
			return NULL;
		l3len = 40;
		*ret_family = AF_INET6;
	} else {
		return NULL;
	}
	if (ETH_HLEN_ + l3len + 20 > len)
		return NULL;
	*ret_l3len = l3len;
	return f + ETH_HLEN_ + l3len;
}

/* Set the MSS option of a SYN to MSS4/MSS6. With FIX_CSUM the TCP
 * checksum is updated (RFC 1624); else the caller computes it afterwards. */
static void mss_set(uint8_t *f, size_t len, unsigned mss4, unsigned mss6, bool fix_csum)
{
	int family;
	size_t l3len, thl;
	uint8_t *th = tcp_of(f, len, &family, &l3len);
	unsigned want = family == AF_INET6 ? mss6 : mss4;

	if (th == NULL || !(th[13] & TH_SYN))
		return;
	thl = (size_t)(th[12] >> 4) * 4;
	if (thl < 20 || th + thl > f + len)
		return;
	for (size_t i = 20; i + 1 < thl;) {
		uint8_t kind = th[i], olen;
		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		olen = th[i + 1];
		if (olen < 2 || i + olen > thl)
			return;
		if (kind == TCPOPT_MAXSEG && olen == TCPOLEN_MAXSEG) {
			uint16_t old = (uint16_t)(th[i + 2] << 8 | th[i + 3]), sum;
			uint32_t c;
			if (old == want)
				return;
			th[i + 2] = (uint8_t)(want >> 8);
			th[i + 3] = (uint8_t)want;
			if (!fix_csum)
				return;
			/* HC' = ~(~HC + ~m + m') */
			memcpy(&sum, th + 16, 2);
			sum = ntohs(sum);
			c = (uint16_t)~sum + (uint16_t)~old + (uint16_t)want;
			c = (c & 0xffff) + (c >> 16);
			c = (c & 0xffff) + (c >> 16);
			sum = htons((uint16_t)~c);
			memcpy(th + 16, &sum, 2);
			return;
		}
		i += olen;
	}
}

ssize_t offload_from_guest(uint8_t *buf, size_t n, unsigned mss4, unsigned mss6, uint8_t **ret_frame)
{
	struct virtio_net_hdr h;
	uint8_t *f = buf + sizeof(h);
	size_t len;
	bool partial;

	if (n < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	len = n - sizeof(h);
	*ret_frame = f;
	partial = h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (mss4)
		mss_set(f, len, mss4, mss6, !partial);
	if (partial) {
		/* The field holds the pseudo-header sum: sum from csum_start. */
		size_t start = h.csum_start, off = (size_t)h.csum_start + h.csum_offset;
		uint16_t sum;
		if (start >= len || off + 2 > len)
			return -1;
		sum = (uint16_t)~net_csum(f + start, len - start);
		if (sum == 0 && h.csum_offset == 6)
			sum = 0xffff; /* UDP (checksum at offset 6): 0 means "none" */
		memcpy(f + off, &sum, 2);
	}
	/* A TSO segment needs nothing more: its IP header already has the
	 * whole length and checksum, and libslirp's TCP takes segments
	 * larger than the MSS. */
	return (ssize_t)len;
}

void offload_syn_to_guest(uint8_t *frame, size_t len, unsigned mss4, unsigned mss6)
{
	mss_set(frame, len, mss4, mss6, true);
}

void offload_to_guest(const uint8_t *frame, size_t len, unsigned tap_mtu, struct virtio_net_hdr *h)
{
	int family;
	size_t l3len, thl;
	uint8_t *th;

	/* libslirp's checksums are complete and right: the container's kernel
	 * need not check them again (CHECKSUM_UNNECESSARY). */
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	if (len <= ETH_HLEN_ + (size_t)tap_mtu)
		return;
	th = tcp_of((uint8_t *)frame, len, &family, &l3len);
	if (th == NULL)
		return;
	thl = (size_t)(th[12] >> 4) * 4;
	if (thl < 20 || l3len + thl >= tap_mtu)
		return;
	h->gso_type = family == AF_INET6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = (uint16_t)(ETH_HLEN_ + l3len + thl);
	h->gso_size = (uint16_t)(tap_mtu - l3len - thl);
}
