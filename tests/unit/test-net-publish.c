/* --publish, --forward-host, --mtu and --network syntax (src/network.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "network.h"
#include "tap.h"

static void good(const char *s, bool udp, const char *host, unsigned hp, unsigned cp)
{
	struct ocr_error err = {0};
	struct net_publish p;
	int rc = network_parse_publish(s, &p, &err);

	if (!ok(rc == 0, "`%s` parses", s)) {
		diag("%s", err.msg);
		return;
	}
	ok(p.udp == udp, "`%s`: %s", s, udp ? "udp" : "tcp");
	is_str(p.host_addr, host, "`%s`: host address", s);
	is_int(p.host_port, hp, "`%s`: host port", s);
	is_int(p.container_port, cp, "`%s`: container port", s);
}

static void bad(const char *s, const char *want)
{
	struct ocr_error err = {0};
	struct net_publish p;
	int rc = network_parse_publish(s, &p, &err);

	ok(rc < 0 && err.err == EINVAL, "`%s` is refused", s);
	ok(strstr(err.msg, want) != NULL, "`%s`: message names `%s` (%s)", s, want, err.msg);
}

static void good_fh(const char *s, const char *caddr, unsigned cp, unsigned hp)
{
	struct ocr_error err = {0};
	struct net_forward_host f;

	if (!ok(network_parse_forward_host(s, &f, &err) == 0, "--forward-host `%s` parses", s)) {
		diag("%s", err.msg);
		return;
	}
	is_str(f.container_addr, caddr, "--forward-host `%s`: container address", s);
	is_int(f.container_port, cp, "--forward-host `%s`: container port", s);
	is_int(f.host_port, hp, "--forward-host `%s`: host port", s);
}

static void bad_fh(const char *s, const char *want)
{
	struct ocr_error err = {0};
	struct net_forward_host f;
	int rc = network_parse_forward_host(s, &f, &err);

	ok(rc < 0 && err.err == EINVAL, "--forward-host `%s` is refused", s);
	ok(strstr(err.msg, want) != NULL, "--forward-host `%s`: message names `%s` (%s)", s, want, err.msg);
}

int main(void)
{
	struct ocr_error err = {0};
	unsigned mtu = 0;
	bool splice;

	good("8080:80", false, "", 8080, 80);
	good("8080:80/tcp", false, "", 8080, 80);
	good("5353:53/udp", true, "", 5353, 53);
	good("127.0.0.1:8080:80", false, "127.0.0.1", 8080, 80);
	good("0.0.0.0:1:65535/udp", true, "0.0.0.0", 1, 65535);
	good("[::1]:8080:80", false, "::1", 8080, 80);
	good("[fd00::5]:9000:90/udp", true, "fd00::5", 9000, 90);

	bad("80", "[HOSTIP:]HOSTPORT:CPORT");
	bad("", "[HOSTIP:]HOSTPORT:CPORT");
	bad("8080:", "[HOSTIP:]HOSTPORT:CPORT");
	bad(":80", "[HOSTIP:]HOSTPORT:CPORT");
	bad("0:80", "1..65535");
	bad("8080:65536", "1..65535");
	bad("8080:80/sctp", "protocol `sctp`");
	bad("8080:80/", "protocol ``");
	bad("1.2.3:8080:80", "`1.2.3` is not an IPv4 address");
	bad("localhost:8080:80", "is not an IPv4 address");
	bad("::1:8080:80", "IPv6 HOSTIP goes in brackets");
	bad("[::1:8080:80", "IPv6 HOSTIP goes in brackets");
	bad("[1.2.3.4]:8080:80", "is not an IPv6 address");
	bad("a:b:c:d", "IPv6 HOSTIP goes in brackets");
	bad("+80:80", "1..65535");
	bad("080000:80", "1..65535");

	good_fh("5432:5432", "127.0.0.1", 5432, 5432);
	good_fh("8080:80/tcp", "127.0.0.1", 8080, 80);
	good_fh("0.0.0.0:8080:80", "0.0.0.0", 8080, 80);
	good_fh("[::1]:8080:80", "::1", 8080, 80);
	bad_fh("80", "[CADDR:]CPORT:HOSTPORT[/tcp]");
	bad_fh("8080:80/udp", "only tcp");
	bad_fh("8080:0", "1..65535");
	bad_fh("::1:8080:80", "IPv6 CADDR goes in brackets");
	bad_fh("host:8080:80", "is not an IPv4 address");

	ok(network_parse_mtu("1500", &mtu, &err) == 0 && mtu == 1500, "--mtu 1500");
	ok(network_parse_mtu("65520", &mtu, &err) == 0 && mtu == 65520, "--mtu 65520");
	ok(network_parse_mtu("575", &mtu, &err) < 0, "--mtu 575 is refused");
	ok(network_parse_mtu("65522", &mtu, &err) < 0, "--mtu 65522 is refused");
	ok(network_parse_mtu("1500x", &mtu, &err) < 0, "--mtu 1500x is refused");
	ok(network_parse_mode("slirp", &err) == 0 && network_parse_mode("none", &err) == 0, "--network slirp|none");
	ok(network_parse_mode("host", &err) < 0 && strstr(err.msg, "`host`"), "--network host is refused: %s", err.msg);
	splice = false;
	ok(network_parse_port_handler("splice", &splice, &err) == 0 && splice, "--port-handler splice");
	ok(network_parse_port_handler("slirp", &splice, &err) == 0 && !splice, "--port-handler slirp");
	ok(network_parse_port_handler("Splice", &splice, &err) < 0 && strstr(err.msg, "`Splice`"),
	   "--port-handler Splice is refused: %s", err.msg);
	ok(network_parse_port_handler("", &splice, &err) < 0, "--port-handler '' is refused");
	return done_testing();
}
