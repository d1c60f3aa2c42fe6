/* main() for replaying fuzz inputs without libFuzzer (the gcc ASan+UBSan
 * builds `make check` runs): each argument is a file or a folder of files;
 * each file is read into a buffer of exactly its size and handed to the
 * target once. Prints "replayed N inputs" and exits 0; a sanitizer report
 * or crash ends it with its own status. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "fuzz.h"

static int replay_file(const char *path)
{
	uint8_t *buf, *exact;
	size_t len;
	int e = read_file(path, 16u << 20, &buf, &len);

	if (e) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-e));
		return -1;
	}
	exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned long n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **ents;
		int k;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: no such file or folder\n", argv[i]);
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]))
				return 2;
			n++;
			continue;
		}
		k = scandir(argv[i], &ents, NULL, by_name);
		if (k < 0) {
			fprintf(stderr, "replay: %s: cannot list\n", argv[i]);
			return 2;
		}
		for (int j = 0; j < k; j++) {
			char p[4096];

			if (ents[j]->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", argv[i], ents[j]->d_name);
				if (replay_file(p))
					return 2;
				n++;
			}
			free(ents[j]);
		}
		free(ents);
	}
	printf("replayed %lu inputs\n", n);
	return 0;
}
