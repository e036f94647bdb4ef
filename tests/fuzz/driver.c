/*
 * driver.c: a main() for the fuzz targets without libFuzzer.  Runs the
 * target once over every file named, and every regular file in every
 * directory named (not recursive); prints how many.  Exit 0 unless a file
 * cannot be read; a target that finds a broken invariant aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
run_file(const char *path)
{
	FILE *fp;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, k;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		if ((k = fread(buf + len, 1, cap - len, fp)) == 0)
			break;
		len += k;
	}
	if (ferror(fp)) {
		fprintf(stderr, "driver: %s: read error\n", path);
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	if (getenv("FUZZ_DRIVER_VERBOSE"))
		fprintf(stderr, "driver: %s\n", path);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir, in name order; returns the count or -1. */
static int
run_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char **names = NULL, *p;
	size_t n = 0, cap = 0, i;
	int count = 0, bad = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "driver: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof *names)) == NULL)
				abort();
		}
		if (asprintf(&p, "%s/%s", dir, e->d_name) == -1)
			abort();
		names[n++] = p;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	for (i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) == -1)
				bad = 1;
			else
				count++;
		}
		free(names[i]);
	}
	free(names);
	return bad ? -1 : count;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, n, total = 0, bad = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;	/* libFuzzer flags such as -runs=0: ignored */
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "driver: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode))
			n = run_dir(argv[i]);
		else
			n = run_file(argv[i]) == 0 ? 1 : -1;
		if (n < 0)
			bad = 1;
		else
			total += n;
	}
	fprintf(stderr, "driver: %s: %d inputs run\n", argv[0], total);
	return bad;
}
