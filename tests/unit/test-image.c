/* Unit tests of the image module's parsers and policy: sha256, tar member
 * names, whiteout names, image references, digests, the image User. */
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "tap.h"

static const char *sha(const void *data, size_t len, char hex[65])
{
	struct image_sha256 s;

	image_sha256_init(&s);
	image_sha256_update(&s, data, len);
	image_sha256_final(&s, hex);
	return hex;
}

static void test_sha256(void)
{
	char hex[65], want[65];
	struct image_sha256 s;
	static char big[1000001];

	is_str(sha("", 0, hex), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 of nothing");
	is_str(sha("abc", 3, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
	is_str(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex),
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256 of the 56-byte vector");
	memset(big, 'a', 1000000);
	is_str(sha(big, 1000000, hex), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	       "sha256 of a million a");
	/* the same bytes fed in odd pieces */
	strcpy(want, hex);
	image_sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step % 97 + 1)
		image_sha256_update(&s, big + off, off + step > 1000000 ? 1000000 - off : step);
	image_sha256_final(&s, hex);
	is_str(hex, want, "sha256 in pieces equals sha256 at once");
}

static void clean_ok(const char *in, const char *want)
{
	char out[64];
	struct ocr_error err = {0};
	int r = image_clean_path(in, out, sizeof(out), &err);

	ok(r == 0 && strcmp(out, want) == 0, "clean `%s` -> `%s` (got %s)", in, want, r == 0 ? out : err.msg);
}

static void clean_refused(const char *in, const char *why)
{
	char out[64];
	struct ocr_error err = {0};
	int r = image_clean_path(in, out, sizeof(out), &err);

	ok(r < 0 && strstr(err.msg, why) != NULL, "clean `%s` refused: %s (got %s)", in, why, r < 0 ? err.msg : out);
}

static void test_clean_path(void)
{
	clean_ok("./", "");
	clean_ok(".", "");
	clean_ok("./etc/passwd", "etc/passwd");
	clean_ok("etc//./passwd/", "etc/passwd");
	clean_ok("./a/.b/..c/...", "a/.b/..c/...");
	clean_refused("/etc/passwd", "absolute");
	clean_refused("../escape", "..");
	clean_refused("./a/../../escape", "..");
	clean_refused("a/..", "..");
	clean_refused("./a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0123456789/0123456789", "too long");
}

static void test_whiteouts(void)
{
	const char *name = NULL;

	is_int(image_whiteout_kind("passwd", &name), IMAGE_WH_NONE, "a plain name is no whiteout");
	is_int(image_whiteout_kind(".wh..wh..opq", &name), IMAGE_WH_OPAQUE, ".wh..wh..opq: opaque dir");
	ok(image_whiteout_kind(".wh.removed", &name) == IMAGE_WH_FILE && strcmp(name, "removed") == 0,
	   ".wh.removed: whiteout of `removed`");
	ok(image_whiteout_kind(".wh..hidden", &name) == IMAGE_WH_FILE && strcmp(name, ".hidden") == 0,
	   ".wh..hidden: whiteout of `.hidden`");
	is_int(image_whiteout_kind(".wh.", &name), IMAGE_WH_INVALID, ".wh. alone is invalid");
	is_int(image_whiteout_kind(".wh..", &name), IMAGE_WH_INVALID, ".wh.. (whiteout of .) is invalid");
	is_int(image_whiteout_kind(".wh...", &name), IMAGE_WH_INVALID, ".wh... (whiteout of ..) is invalid");
	is_int(image_whiteout_kind(".wh..wh.plnk", &name), IMAGE_WH_INVALID, "aufs metadata is skipped");
}

static void test_refs(void)
{
	char *dir = NULL, *tag = NULL;
	struct ocr_error err = {0};

	ok(image_split_ref("/nonexistent/img:v1", &dir, &tag, &err) == 0 && strcmp(dir, "/nonexistent/img") == 0 &&
		   tag && strcmp(tag, "v1") == 0,
	   "DIR:TAG splits");
	free(dir), free(tag);
	ok(image_split_ref("/nonexistent/img", &dir, &tag, &err) == 0 && strcmp(dir, "/nonexistent/img") == 0 &&
		   tag == NULL,
	   "DIR alone has no tag");
	free(dir), free(tag);
	ok(image_split_ref("/nonexistent/a:b/img", &dir, &tag, &err) == 0 && strcmp(dir, "/nonexistent/a:b/img") == 0 &&
		   tag == NULL,
	   "a colon in a directory name is not a tag");
	free(dir), free(tag);
	ok(image_split_ref("/tmp", &dir, &tag, &err) == 0 && strcmp(dir, "/tmp") == 0 && tag == NULL,
	   "an existing path is the layout");
	free(dir), free(tag);
	ok(image_split_ref("", &dir, &tag, &err) < 0, "empty reference refused");

	is_str(image_digest_hex("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "digest hex");
	ok(image_digest_hex("sha256:../../../../etc/passwd") == NULL, "a digest cannot be a path");
	ok(image_digest_hex("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855") == NULL,
	   "digest hex is lowercase");
	ok(image_digest_hex("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == NULL,
	   "only sha256");
	ok(image_digest_hex(NULL) == NULL, "no digest");
	ok(strlen(image_host_arch()) > 0, "host architecture: %s", image_host_arch());
}

static void user_is(const char *user, uint32_t uid, uint32_t gid)
{
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
	static const char group[] = "root:x:0:\nstaff:x:50:\n";
	struct ocr_error err = {0};
	uint32_t u = 99, g = 99;
	int r = image_parse_user(user, passwd, group, &u, &g, &err);

	ok(r == 0 && u == uid && g == gid, "User `%s` -> %u:%u (got %u:%u %s)", user, uid, gid, u, g, r ? err.msg : "");
}

static void test_user(void)
{
	struct ocr_error err = {0};
	uint32_t u, g;

	user_is("", 0, 0);
	user_is("0:0", 0, 0);
	user_is("1000", 1000, 1001);
	user_is("2000", 2000, 0);
	user_is("2000:3000", 2000, 3000);
	user_is("app", 1000, 1001);
	user_is("app:staff", 1000, 50);
	user_is("app:7", 1000, 7);
	ok(image_parse_user("nobody", "root:x:0:0::/:/bin/sh\n", NULL, &u, &g, &err) < 0 &&
		   strstr(err.msg, "no such user") != NULL,
	   "an unknown user name is an error naming it");
	ok(image_parse_user("0:wheel", NULL, NULL, &u, &g, &err) < 0 && strstr(err.msg, "no such group") != NULL,
	   "an unknown group name is an error");
	ok(image_parse_user("app", NULL, NULL, &u, &g, &err) < 0, "a name without /etc/passwd is an error");
}

int main(void)
{
	test_sha256();
	test_clean_path();
	test_whiteouts();
	test_refs();
	test_user();
	return done_testing();
}
