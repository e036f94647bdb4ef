/* Tests for common/digest.c: the test vectors of RFC 1321, FIPS 180-2 and RFC 2104. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tap.h"

static const struct {
	const char *in, *md5, *sha256;
} vec[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0",
	  "f7846f55cf23e14eebeab5b4e1550cad5b509e3348fbc4efa3a1413d393cb650" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "8215ef0796a20bcaaae116d3876c664a",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a",
	  "f371bc4a311f2b009eef952dd83ca80e2b60026c8e935592d0f9c308453c813e" },
};

int
main(void)
{
	unsigned char md[32], key[16];
	char hex[65], name[80];
	size_t i, j;
	struct digest_md5 m;
	struct digest_sha256 s;
	char *a;

	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		digest_md5_buf(vec[i].in, strlen(vec[i].in), md);
		digest_hex(md, 16, hex);
		snprintf(name, sizeof name, "MD5(\"%.20s\")", vec[i].in);
		tap_is_str(hex, vec[i].md5, name);
		digest_sha256_buf(vec[i].in, strlen(vec[i].in), md);
		digest_hex(md, 32, hex);
		snprintf(name, sizeof name, "SHA-256(\"%.20s\")", vec[i].in);
		tap_is_str(hex, vec[i].sha256, name);
		/* The same, fed one byte at a time (the block boundary paths). */
		digest_sha256_init(&s);
		for (j = 0; vec[i].in[j]; j++)
			digest_sha256_update(&s, vec[i].in + j, 1);
		digest_sha256_final(&s, md);
		digest_hex(md, 32, hex);
		snprintf(name, sizeof name, "SHA-256(\"%.20s\") byte by byte", vec[i].in);
		tap_is_str(hex, vec[i].sha256, name);
	}
	/* A million "a", in uneven pieces. */
	a = malloc(1000000);
	memset(a, 'a', 1000000);
	digest_md5_init(&m);
	digest_sha256_init(&s);
	for (i = 0; i < 1000000; i += j) {
		j = (i % 7) * 37 + 1;
		if (i + j > 1000000)
			j = 1000000 - i;
		digest_md5_update(&m, a + i, j);
		digest_sha256_update(&s, a + i, j);
	}
	digest_md5_final(&m, md);
	digest_hex(md, 16, hex);
	tap_is_str(hex, "7707d6ae4e027c70eea2a935c2296f21", "MD5 of a million a");
	digest_sha256_final(&s, md);
	digest_hex(md, 32, hex);
	tap_is_str(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	    "SHA-256 of a million a");
	/* 55, 56, 63 and 64 bytes: the padding's edge cases (checked against sha256sum). */
	digest_sha256_buf(a, 55, md);
	digest_hex(md, 32, hex);
	tap_is_str(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318", "SHA-256 of 55 a");
	digest_sha256_buf(a, 56, md);
	digest_hex(md, 32, hex);
	tap_is_str(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a", "SHA-256 of 56 a");
	digest_sha256_buf(a, 64, md);
	digest_hex(md, 32, hex);
	tap_is_str(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb", "SHA-256 of 64 a");
	free(a);

	/* RFC 2104 section 2's examples. */
	memset(key, 0x0b, 16);
	digest_hmac_md5(key, 16, "Hi There", 8, md);
	digest_hex(md, 16, hex);
	tap_is_str(hex, "9294727a3638bb1c13f48ef8158bfc9d", "HMAC-MD5 RFC 2104 example 1");
	digest_hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, md);
	digest_hex(md, 16, hex);
	tap_is_str(hex, "750c783e6ab0b503eaa86e310a5db738", "HMAC-MD5 RFC 2104 example 2");
	/* RFC 2195's CRAM-MD5 example. */
	digest_hmac_md5("tanstaaftanstaaf", 16, "<1896.697170952@postoffice.reston.mci.net>", 42, md);
	digest_hex(md, 16, hex);
	tap_is_str(hex, "b913a602c7eda7a495b4e6e7334d3890", "CRAM-MD5 RFC 2195 example");
	return tap_done();
}
